"""Per-head approximation error of the optimizer's projection (the paper's Figure 2b), for ``galoreplus analyze``.

For a gradient G of an attention weight split into head blocks G_i, the error of head i is
‖G_i − Π(G_i)‖_F / ‖G_i‖_F, where Π projects onto the bases that ``GaLorePlusAdamW`` itself estimates at its first
refresh (same layouts, same seeded head draw), so the figure measures the optimizer, not a re-implementation.
Variants: the whole-matrix SVD (vanilla GaLore) and cross-head projection with group sizes 1, 2 and all, under both
``shared_side`` readings, each with every SVD method.

Plain torch like the rest of ``galoreplus``: the ``analyze`` command (lightning_modules) and the benchmarks use it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from galoreplus.layout import build_layout
from galoreplus.optimizer import GaLorePlusAdamW
from galoreplus.projection import back_project, project
from galoreplus.settings import SHARED_SIDES, SVD_METHODS

WHOLE = "whole matrix"


def projection(grad: Tensor, group: dict[str, Any], seed: int = 0) -> Tensor:
    """Π(G) in the weight's layout: one refresh of a one-weight optimizer with ``group``, then project and back."""
    weight = torch.nn.Parameter(torch.zeros_like(grad, dtype=torch.float32))
    weight.grad = grad.detach().float()
    optimizer = GaLorePlusAdamW([{"params": [weight], **group}], lr=0.0, seed=seed)
    optimizer.step()
    filled = optimizer.param_groups[0]
    layout = build_layout(tuple(grad.shape), filled, "per-head error")
    state = optimizer.state[weight]
    work = layout.to_work(weight.grad)
    return layout.from_work(back_project(project(work, state), state, torch.float32))


def head_errors(grad: Tensor, approx: Tensor, num_heads: int, head_axis: int) -> Tensor:
    """‖G_i − A_i‖_F / ‖G_i‖_F for each of ``num_heads`` equal blocks along ``head_axis`` (0: rows, 1: columns)."""
    if head_axis not in (0, 1):
        raise ValueError(f"head_axis={head_axis!r} is invalid; expected 0 (heads along rows) or 1 (along columns)")
    if grad.shape[head_axis] % num_heads:
        raise ValueError(
            f"num_heads={num_heads} does not divide axis {head_axis} (size {grad.shape[head_axis]}) of the gradient"
        )
    blocks = grad.float().chunk(num_heads, dim=head_axis)
    approx_blocks = approx.float().chunk(num_heads, dim=head_axis)
    return torch.stack(
        [
            torch.linalg.norm(g - a) / torch.linalg.norm(g).clamp_min(1e-30)
            for g, a in zip(blocks, approx_blocks, strict=True)
        ]
    )


def group_sizes(num_heads: int) -> list[int | str]:
    """1, 2 and all heads per basis (2 only where it is a proper divisor)."""
    return [1, 2, "all"] if num_heads % 2 == 0 and num_heads > 2 else [1, "all"]


def cross_head_label(side: str, size: int | str, method: str) -> str:
    return f"cross-head {side}, group {size}, {method}"


def variants(
    num_heads: int,
    head_axis: int,
    rank: int,
    methods: tuple[str, ...] = SVD_METHODS,
    basis_from: str = "random_head",
    head_splits: int = 1,
) -> dict[str, dict[str, Any]]:
    """Group settings by label: the whole matrix per method, then each group size x shared side x method.

    ``head_splits`` > 1 is a fused weight (GPT-2's c_attn: q, k and v side by side), split like the optimizer does."""
    out = {}
    for method in methods:
        out[f"{WHOLE}, {method}"] = {"rank": rank, "svd_method": method, "update_proj_gap": 1}
    for side in SHARED_SIDES:
        for size in group_sizes(num_heads):
            for method in methods:
                out[cross_head_label(side, size, method)] = {
                    "rank": rank,
                    "svd_method": method,
                    "update_proj_gap": 1,
                    "num_heads": num_heads,
                    "head_axis": head_axis,
                    "head_splits": head_splits,
                    "group_size": size,
                    "basis_from": basis_from,
                    "shared_side": side,
                }
    return out


def analyze(
    grad: Tensor, num_heads: int, head_axis: int, rank: int, seed: int = 0, head_splits: int = 1, **kwargs: Any
) -> dict[str, Tensor]:
    """Per-head errors (num_heads x head_splits,) of every variant, by label."""
    return {
        label: head_errors(grad, projection(grad, group, seed), num_heads * head_splits, head_axis)
        for label, group in variants(num_heads, head_axis, rank, head_splits=head_splits, **kwargs).items()
    }
