"""Callbacks that measure what GaLore+ is about: SVD time, optimizer memory, training throughput."""

from lightning_modules.callbacks.memory_monitor import MemoryMonitor
from lightning_modules.callbacks.svd_timer import SVDTimer
from lightning_modules.callbacks.training_timer import TrainingTimer

__all__ = ["MemoryMonitor", "SVDTimer", "TrainingTimer"]
