"""Param-group keys of the low-rank path: their defaults and their validation.

A group without ``rank`` is plain AdamW. A group with ``rank`` gets every key below, filled with its default where the
user gave none, and is checked once when the group is added, so a bad setting fails before the first step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROJ_TYPES = ("std", "reverse_std", "left", "right", "full")
SVD_METHODS = ("exact", "rsi", "lowrank")
BASIS_FROM = ("random_head", "stacked")
SHARED_SIDES = ("model_dim", "head_dim")
RESIDUAL_MODES = ("r1", "r2")

LOW_RANK_DEFAULTS: dict[str, Any] = {
    "update_proj_gap": 200,  # steps between basis refreshes (GaLore's default)
    "scale": 0.25,  # GaLore's scale on the back-projected update
    "proj_type": "std",  # projection side for matrices without cross-head settings
    "svd_method": "exact",  # exact | rsi | lowrank
    "svd_iters": 2,  # subspace iterations of rsi (niter of lowrank)
    "svd_oversample": 8,  # extra test columns of rsi / lowrank, clamped to the block's smaller side
    "svd_warm_start": False,  # start rsi from the previous basis instead of a Gaussian test matrix
    "svd_align_signs": False,  # flip new basis vectors to the previous basis's signs (GaLore does not)
    "num_heads": None,  # attention heads of this matrix; None = no cross-head projection
    "head_axis": 0,  # 0: heads along rows (q/k/v of nn.Linear); 1: along columns (output projection)
    "head_splits": 1,  # logical matrices fused along the head axis (GPT-2's c_attn holds q, k and v: 3)
    "group_size": "all",  # heads per shared basis: 1, 2, ..., or "all"
    "basis_from": "random_head",  # random_head (the paper) | stacked (the group's stacked blocks)
    "shared_side": "model_dim",  # model_dim: basis on the side all heads share | head_dim: on each head's own side
    "residual_density": 0.0,  # fraction of entries with a sparse residual correction; 0 = off
    "residual_warmup_steps": 10,  # steps of plain GaLore that score the residual before the index set is fixed
    "residual_scale": 1.0,  # scale on the residual update
    "residual_mode": "r1",  # r1: Adam on the residual at the index set | r2: exact Adam at the index set
}

# Keys torch's own optimizers or schedulers put in a group, and the names this library attaches for messages.
PASSTHROUGH_KEYS = frozenset(
    {"params", "lr", "betas", "eps", "weight_decay", "initial_lr", "names", "foreach", "maximize", "rank"}
)


def _fail(where: str, key: str, value: Any, valid: str) -> None:
    raise ValueError(f"{where}: {key}={value!r} is invalid; expected {valid}")


def check_group_keys(group: Mapping[str, Any], where: str) -> None:
    """Reject keys no optimizer path reads, so a misspelt knob fails instead of being ignored."""
    unknown = sorted(set(group) - PASSTHROUGH_KEYS - set(LOW_RANK_DEFAULTS))
    if unknown:
        raise ValueError(
            f"{where}: unknown param-group key(s) {unknown}; valid keys are "
            f"{sorted(PASSTHROUGH_KEYS - {'params'} | set(LOW_RANK_DEFAULTS))}"
        )


def fill_and_check_low_rank(group: dict[str, Any], where: str) -> None:
    """Fill defaults of a low-rank group and check each value's type and range (shape checks come per parameter)."""
    for key, value in LOW_RANK_DEFAULTS.items():
        group.setdefault(key, value)
    rank = group["rank"]
    if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
        _fail(where, "rank", rank, "a positive integer")
    for key in ("update_proj_gap",):
        if isinstance(group[key], bool) or not isinstance(group[key], int) or group[key] <= 0:
            _fail(where, key, group[key], "a positive integer")
    for key in ("svd_iters", "svd_oversample", "residual_warmup_steps"):
        if isinstance(group[key], bool) or not isinstance(group[key], int) or group[key] < 0:
            _fail(where, key, group[key], "a non-negative integer")
    for key, choices in (
        ("proj_type", PROJ_TYPES),
        ("svd_method", SVD_METHODS),
        ("basis_from", BASIS_FROM),
        ("shared_side", SHARED_SIDES),
        ("residual_mode", RESIDUAL_MODES),
    ):
        if group[key] not in choices:
            _fail(where, key, group[key], f"one of {list(choices)}")
    density = group["residual_density"]
    if not isinstance(density, (int, float)) or isinstance(density, bool) or not 0.0 <= density < 1.0:
        _fail(where, "residual_density", density, "a number in [0, 1)")
    if group["head_axis"] not in (0, 1):
        _fail(where, "head_axis", group["head_axis"], "0 (heads along rows) or 1 (heads along columns)")
    heads = group["num_heads"]
    if heads is not None and (isinstance(heads, bool) or not isinstance(heads, int) or heads <= 0):
        _fail(where, "num_heads", heads, "a positive integer, or None for no cross-head projection")
    size = group["group_size"]
    if size != "all" and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        _fail(where, "group_size", size, "a positive integer or 'all'")
    if heads is not None and size != "all" and heads % size:
        _fail(where, "group_size", size, f"a divisor of num_heads={heads} (or 'all')")
    for key in ("svd_warm_start", "svd_align_signs"):
        if not isinstance(group[key], bool):
            _fail(where, key, group[key], "true or false")
    for key in ("scale", "residual_scale"):
        if not isinstance(group[key], (int, float)) or isinstance(group[key], bool):
            _fail(where, key, group[key], "a number")
