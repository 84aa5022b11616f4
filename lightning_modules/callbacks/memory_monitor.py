"""``MemoryMonitor``: optimizer state, parameters and peak memory, on GPU and on CPU."""

import resource
from typing import Any

import torch
from lightning import Callback, LightningModule, Trainer
from typing_extensions import override

from lightning_modules.callbacks.rank_metrics import log_final_values, log_step_values, require_logger, should_log


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """The optimizer's own count where it keeps one (GaLorePlusAdamW), else the bytes of its state tensors."""
    stats = getattr(optimizer, "stats", None)
    if stats is not None and "state_bytes" in stats:
        return int(stats["state_bytes"])
    return sum(
        value.numel() * value.element_size()
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, torch.Tensor)
    )


class MemoryMonitor(Callback):
    """Logs ``mem/optimizer_state_bytes``, ``mem/param_bytes`` and ``mem/peak_bytes`` during fit.

    On GPU the peak is ``torch.cuda.max_memory_allocated`` (reset at setup). On CPU it is the rise of the process's
    peak RSS over its value at setup, because imports alone cost about 1 GB; that value is logged too, as
    ``mem/baseline_rss_bytes``. Final values are kept as attributes for the run record.

    Raises:
        MisconfigurationException: in ``setup`` when the Trainer has no logger.
    """

    def __init__(self) -> None:
        self.baseline_rss_bytes = 0
        self.peak_bytes = 0
        self.param_bytes = 0
        self.optimizer_state_bytes = 0

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        require_logger(trainer, self)
        self.baseline_rss_bytes = _peak_rss_bytes()
        if torch.cuda.is_available() and trainer.strategy.root_device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(trainer.strategy.root_device)

    def _measure(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        device = trainer.strategy.root_device
        if device.type == "cuda":
            self.peak_bytes = torch.cuda.max_memory_allocated(device)
        else:
            self.peak_bytes = _peak_rss_bytes() - self.baseline_rss_bytes
        self.param_bytes = sum(p.numel() * p.element_size() for p in pl_module.parameters())
        if trainer.optimizers:
            self.optimizer_state_bytes = optimizer_state_bytes(trainer.optimizers[0])
        return {
            "mem/optimizer_state_bytes": float(self.optimizer_state_bytes),
            "mem/param_bytes": float(self.param_bytes),
            "mem/peak_bytes": float(self.peak_bytes),
            "mem/baseline_rss_bytes": float(self.baseline_rss_bytes),
        }

    @override
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if should_log(trainer):
            log_step_values(trainer, pl_module, self._measure(trainer, pl_module))

    @override
    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        log_final_values(trainer, pl_module, self._measure(trainer, pl_module))
