"""Test-only callbacks, given by class path on a ``galoreplus fit`` command line (``tests/`` on ``PYTHONPATH``).

They look into a run from the inside where the outputs of the real CLI cannot show it: what each DDP rank holds,
a NaN injected into a gradient on purpose, a pause at a known step so a test can kill the process there.
"""

import time
from pathlib import Path
from typing import Any

import torch
from lightning import Callback, LightningModule, Trainer
from torch import Tensor


def _tensors(state: dict[str, Any]) -> dict[str, Tensor]:
    return {key: value.detach().clone().cpu() for key, value in state.items() if isinstance(value, Tensor)}


class RankDump(Callback):
    """Each rank saves, at the end of fit, its weights, its optimizer's per-parameter state and step count, its weights
    after optimizer step ``snapshot_step``, and its local and gathered metric states of the last validation, to
    ``<out>/rank<r>.pt``."""

    def __init__(self, out: str, snapshot_step: int = -1) -> None:
        self.out = Path(out)
        self.snapshot_step = snapshot_step
        self.validation: dict[str, Tensor] = {}
        self.snapshot: dict[str, Tensor] = {}

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == self.snapshot_step:
            self.snapshot = {name: p.detach().clone().cpu() for name, p in pl_module.named_parameters()}

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        metrics = pl_module.val_metrics  # callbacks run before the module's hook, which computes and resets it
        local = {f"local_{name}": metrics.gathered(name) for name in metrics._list_dtypes}
        with metrics.sync_context(should_sync=trainer.world_size > 1):
            synced = {f"synced_{name}": metrics.gathered(name) for name in metrics._list_dtypes}
        self.validation = local | synced

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        optimizer = trainer.optimizers[0]
        names = {p: name for name, p in pl_module.named_parameters()}
        payload = {
            "params": {name: p.detach().clone().cpu() for name, p in pl_module.named_parameters()},
            "snapshot": self.snapshot,
            "optimizer_state": {names[p]: _tensors(state) for p, state in optimizer.state.items()},
            "step_count": getattr(optimizer, "step_count", None),
            "global_step": trainer.global_step,
            "validation": self.validation,
        }
        self.out.mkdir(parents=True, exist_ok=True)
        torch.save(payload, self.out / f"rank{trainer.global_rank}.pt")


class NaNGradient(Callback):
    """Sets one entry of the gradient of parameter ``name`` to NaN just before optimizer step ``at_step``."""

    def __init__(self, name: str, at_step: int) -> None:
        self.name = name
        self.at_step = at_step

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:
        if trainer.global_step == self.at_step:
            dict(pl_module.named_parameters())[self.name].grad.view(-1)[0] = float("nan")


class PauseAt(Callback):
    """At optimizer step ``at_step`` (before that step's checkpoint) writes ``marker`` and sleeps, so a test can
    SIGKILL the process at a known point in the middle of training."""

    def __init__(self, at_step: int, marker: str, seconds: float = 300.0) -> None:
        self.at_step = at_step
        self.marker = Path(marker)
        self.seconds = seconds

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == self.at_step:
            self.marker.write_text(str(trainer.global_step))
            time.sleep(self.seconds)
