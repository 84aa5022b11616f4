"""``TrainingTimer``: wall time of fit and its throughput in steps, samples and tokens per second."""

import time
from typing import Any

from lightning import Callback, LightningModule, Trainer
from typing_extensions import override

from lightning_modules.callbacks.rank_metrics import log_final_values, log_step_values, require_logger, should_log


def batch_counts(batch: Any) -> tuple[int, int]:
    """Samples and (non-pad) input tokens of a batch of the DataModule contract; 0 tokens for images."""
    if not isinstance(batch, dict):
        return 0, 0
    if "attention_mask" in batch:
        mask = batch["attention_mask"]
        return int(mask.shape[0]), int(mask.sum())
    first = batch.get("pixel_values", batch.get("input_ids"))
    return (int(first.shape[0]) if first is not None else 0), 0


class TrainingTimer(Callback):
    """Logs ``time/fit_seconds``, ``time/steps_per_second``, ``time/samples_per_second`` and
    ``time/tokens_per_second`` (running values while training, final ones at the end of fit).

    Samples and tokens are this process's own; under DDP the logged ``/sum`` is the whole job's throughput.

    Raises:
        MisconfigurationException: in ``setup`` when the Trainer has no logger.
    """

    def __init__(self) -> None:
        self.fit_seconds = 0.0
        self.steps = 0
        self.samples = 0
        self.tokens = 0
        self._start: float | None = None
        self._start_step = 0

    def _rate(self, count: float) -> float:
        return count / self.fit_seconds if self.fit_seconds > 0 else 0.0

    @property
    def steps_per_second(self) -> float:
        return self._rate(self.steps)

    @property
    def samples_per_second(self) -> float:
        return self._rate(self.samples)

    @property
    def tokens_per_second(self) -> float:
        return self._rate(self.tokens)

    def _values(self, trainer: Trainer) -> dict[str, float]:
        self.fit_seconds = time.perf_counter() - self._start
        self.steps = trainer.global_step - self._start_step
        return {
            "time/fit_seconds": self.fit_seconds,
            "time/steps_per_second": self.steps_per_second,
            "time/samples_per_second": self.samples_per_second,
            "time/tokens_per_second": self.tokens_per_second,
        }

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        require_logger(trainer, self)

    @override
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start = time.perf_counter()
        self._start_step = trainer.global_step

    @override
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        samples, tokens = batch_counts(batch)
        self.samples += samples
        self.tokens += tokens
        if should_log(trainer):
            log_step_values(trainer, pl_module, self._values(trainer))

    @override
    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        log_final_values(trainer, pl_module, self._values(trainer))
