"""Learning-rate schedule: linear warm-up, then cosine, linear or constant decay, stepped once per optimizer step."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch


@dataclass(frozen=True)
class ScheduleConfig:
    """How the learning rate moves over training.

    Args:
        warmup_steps: optimizer steps of linear warm-up from 0 to the peak learning rate.
        decay: cosine | linear | constant, after the warm-up.
        min_lr_ratio: the learning rate at the end, as a fraction of the peak.
        total_steps: optimizer steps the decay spans; None = the trainer's estimate (max_steps or epochs).
    """

    warmup_steps: int = 0
    decay: Literal["cosine", "linear", "constant"] = "cosine"
    min_lr_ratio: float = 0.0
    total_steps: int | None = None

    def __post_init__(self) -> None:
        if self.warmup_steps < 0:
            raise ValueError(f"schedule.warmup_steps={self.warmup_steps} is invalid; expected >= 0")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"schedule.min_lr_ratio={self.min_lr_ratio} is invalid; expected a number in [0, 1]")
        if self.total_steps is not None and self.total_steps <= 0:
            raise ValueError(f"schedule.total_steps={self.total_steps} is invalid; expected a positive integer")

    def factor(self, step: int, total_steps: int) -> float:
        """Multiplier of the peak learning rate at optimizer step ``step`` (0-based)."""
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        if self.decay == "constant":
            return 1.0
        span = max(1, total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        shape = 0.5 * (1.0 + math.cos(math.pi * progress)) if self.decay == "cosine" else 1.0 - progress
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * shape

    def build(self, optimizer: torch.optim.Optimizer, estimated_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
        """A LambdaLR over ``total_steps`` (or the trainer's estimate), for Lightning to step every optimizer step."""
        total = self.total_steps or estimated_steps
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: self.factor(step, total))

    def as_dict(self) -> dict:
        """Plain-dict form for hyperparameters."""
        return asdict(self)


DEFAULT_SCHEDULE = ScheduleConfig()
