"""Logging of per-rank measurements: one process logs its own values; under DDP every rank's value plus sum and max.

Each measurement differs per rank (time, memory), so a plain ``sync_dist`` mean would hide a slow or large rank.
All ranks call these helpers on the same steps (the gate depends only on the global step), so the gather never hangs.
"""

import torch
from lightning import LightningModule, Trainer
from lightning.pytorch.utilities.exceptions import MisconfigurationException


def require_logger(trainer: Trainer, callback: object) -> None:
    """Raise in ``setup`` when nothing would receive the callback's values (as DeviceStatsMonitor does)."""
    if not trainer.loggers:
        raise MisconfigurationException(
            f"Cannot use {type(callback).__name__} with a Trainer that has no logger; set `trainer.logger`"
        )


def should_log(trainer: Trainer) -> bool:
    """True on the steps where Lightning writes logs (``log_every_n_steps``)."""
    return trainer._logger_connector.should_update_logs


def gather_rank_values(trainer: Trainer, pl_module: LightningModule, values: dict[str, float]) -> dict[str, float]:
    """``values`` as they are on one process; under DDP also ``<key>/rank<r>``, ``<key>/sum`` and ``<key>/max``."""
    if trainer.world_size == 1 or not values:
        return dict(values)
    local = torch.tensor(list(values.values()), dtype=torch.float64, device=pl_module.device)
    gathered = pl_module.all_gather(local).reshape(trainer.world_size, len(values)).cpu()
    result = dict(values)
    for column, key in enumerate(values):
        for rank in range(trainer.world_size):
            result[f"{key}/rank{rank}"] = float(gathered[rank, column])
        result[f"{key}/sum"] = float(gathered[:, column].sum())
        result[f"{key}/max"] = float(gathered[:, column].max())
    return result


def log_step_values(trainer: Trainer, pl_module: LightningModule, values: dict[str, float]) -> None:
    """Log per-step values through ``LightningModule.log`` (so they reach ``callback_metrics`` too)."""
    for key, value in gather_rank_values(trainer, pl_module, values).items():
        pl_module.log(key, value, on_step=True, on_epoch=False)


def log_final_values(trainer: Trainer, pl_module: LightningModule, values: dict[str, float]) -> None:
    """Log end-of-fit values straight to the loggers (``LightningModule.log`` is closed in ``on_train_end``)."""
    metrics = gather_rank_values(trainer, pl_module, values)
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step)
        logger.save()
