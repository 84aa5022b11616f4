"""``SVDTimer``: how much of each optimizer step goes into estimating bases, from the optimizer's own stats."""

import time
from typing import Any

from lightning import Callback, LightningModule, Trainer
from typing_extensions import override

from lightning_modules.callbacks.rank_metrics import log_step_values, require_logger, should_log


class SVDTimer(Callback):
    """Logs ``optim/basis_seconds`` (this step), ``optim/basis_seconds_total``, ``optim/basis_refreshes``,
    ``optim/basis_share`` (basis seconds / step seconds), ``optim/captured_energy`` and ``optim/skipped_steps``.

    Values come from ``optimizer.stats`` of GaLorePlusAdamW after each optimizer step (read in
    ``on_train_batch_end``: Lightning has no after-step hook); other optimizers log zeros. A step's time is the wall
    time of its accumulation window. Totals are kept as attributes (and in checkpoints) for the run record.

    Raises:
        MisconfigurationException: in ``setup`` when the Trainer has no logger.
    """

    def __init__(self) -> None:
        self.basis_seconds_total = 0.0
        self.basis_refreshes_total = 0
        self.step_seconds_total = 0.0
        self.captured_energy = 0.0
        self.skipped_steps = 0
        self.svd_failures = 0
        self._window_start: float | None = None
        self._last_step = -1

    @property
    def basis_share(self) -> float:
        """Fraction of optimizer-step wall time spent estimating bases, over the whole fit."""
        return self.basis_seconds_total / self.step_seconds_total if self.step_seconds_total > 0 else 0.0

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        require_logger(trainer, self)

    @override
    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        if self._window_start is None:
            self._window_start = time.perf_counter()
            self._last_step = trainer.global_step

    @override
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step == self._last_step:  # inside an accumulation window: no optimizer step yet
            return
        self._last_step = trainer.global_step
        now = time.perf_counter()
        step_seconds, self._window_start = now - self._window_start, now
        stats = getattr(trainer.optimizers[0], "stats", {}) if trainer.optimizers else {}
        basis_seconds = float(stats.get("basis_seconds", 0.0))
        refreshes = int(stats.get("basis_refreshes", 0))
        self.basis_seconds_total += basis_seconds
        self.basis_refreshes_total += refreshes
        self.step_seconds_total += step_seconds
        self.captured_energy = float(stats.get("captured_energy", 0.0))
        self.skipped_steps = int(stats.get("skipped_steps", 0))
        self.svd_failures = int(stats.get("svd_failures", 0))
        if should_log(trainer):
            values = {
                "optim/basis_seconds": basis_seconds,
                "optim/basis_seconds_total": self.basis_seconds_total,
                "optim/basis_refreshes": float(refreshes),
                "optim/basis_share": basis_seconds / step_seconds if step_seconds > 0 else 0.0,
                "optim/captured_energy": self.captured_energy,
                "optim/skipped_steps": float(self.skipped_steps),
            }
            log_step_values(trainer, pl_module, values)

    @override
    def state_dict(self) -> dict[str, Any]:
        return {
            "basis_seconds_total": self.basis_seconds_total,
            "basis_refreshes_total": self.basis_refreshes_total,
            "step_seconds_total": self.step_seconds_total,
        }

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.basis_seconds_total = float(state_dict["basis_seconds_total"])
        self.basis_refreshes_total = int(state_dict["basis_refreshes_total"])
        self.step_seconds_total = float(state_dict["step_seconds_total"])
