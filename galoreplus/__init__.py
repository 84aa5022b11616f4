"""GaLore+ for PyTorch: low-rank Adam with cross-head bases, randomized subspace iteration and sparse residuals.

Plain torch only; usable in any training loop::

    groups = param_groups(model, preset="galore_plus", rank=64)
    optimizer = GaLorePlusAdamW(groups, lr=1e-3)
"""

from galoreplus.groups import PRESETS, param_groups
from galoreplus.optimizer import GaLorePlusAdamW

__all__ = ["PRESETS", "GaLorePlusAdamW", "param_groups"]
