"""Sparsely coded residual: a fixed set of entries gets its own Adam correction of the low-rank update.

The paper's formulas could not be read; this is the notes' reading (a switch, ``residual_mode``):
- warm-up: for ``residual_warmup_steps`` steps the update is plain GaLore while the residual E = G - P·Pᵀ·G is scored
  by its accumulated magnitude; then the top ``residual_density`` fraction of entries becomes the fixed index set;
- ``r1``: Adam moments of E on the index set; ``residual_scale`` times their normalised update is added there;
- ``r2``: Adam moments of G itself on the index set; the low-rank update is replaced there by that exact Adam update.
Indices are int64 (a matrix may exceed 2^24 entries) and index the weight's work layout.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from galoreplus.projection import back_project, bases


def residual_step(update: Tensor, work: Tensor, small: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
    """Score during warm-up, then correct ``update`` (work layout, maybe a strided view) at the index set in place."""
    if "residual_index" not in state:
        error = (work.float() - back_project(small, state, torch.float32)).abs()
        if "residual_score" in state:
            state["residual_score"].add_(error)
        else:
            state["residual_score"] = error
        if state["step"] < group["residual_warmup_steps"]:
            return
        _select(state, group["residual_density"])
    index = state["residual_index"]
    _, rows, cols = work.shape
    flat_row = index // cols  # unravel instead of reshape(-1): a transposed view would be copied whole
    entries = (flat_row // rows, flat_row % rows, index % cols)
    values = work[entries].float()
    if group["residual_mode"] == "r1":
        values = values - lowrank_entries(index, small, state, tuple(work.shape))
    beta1, beta2 = group["betas"]
    state["residual_step"] += 1
    t = state["residual_step"]
    exp_avg, exp_avg_sq = state["residual_exp_avg"], state["residual_exp_avg_sq"]
    exp_avg.lerp_(values, 1.0 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(values, values, value=1.0 - beta2)
    denom = (exp_avg_sq.sqrt() / math.sqrt(1.0 - beta2**t)).add_(group["eps"])
    correction = exp_avg / denom * (group["residual_scale"] / (1.0 - beta1**t))
    correction = correction.to(update.dtype)
    add = group["residual_mode"] == "r1"
    if update.is_contiguous():  # flat index_add_/index_copy_ beat index_put_ (which sorts to accumulate)
        flat = update.view(-1)
        (flat.index_add_ if add else flat.index_copy_)(0, index, correction)
    else:
        update.index_put_(entries, correction, accumulate=add)


def _select(state: dict[str, Any], density: float) -> None:
    score = state.pop("residual_score").reshape(-1)
    count = max(1, math.ceil(density * score.numel()))
    index = torch.topk(score, count, sorted=False).indices.sort().values
    state["residual_index"] = index.to(torch.int64)
    state["residual_exp_avg"] = torch.zeros(count, device=score.device)
    state["residual_exp_avg_sq"] = torch.zeros(count, device=score.device)
    state["residual_step"] = 0


def lowrank_entries(index: Tensor, small: Tensor, state: dict[str, Any], work_shape: tuple[int, ...]) -> Tensor:
    """Entries of the low-rank reconstruction P·R (or R·Qᵀ) at ``index``, in O(entries x rank), never full size."""
    batches, rows, cols = work_shape
    row = index // cols  # row of the stacked (batches * rows, cols) matrix
    col = index % cols + (row // rows) * cols  # column of the stacked (batches * cols) basis rows
    left, right = bases(state)
    if right is None:
        left_rows = left.reshape(-1, left.shape[-1]).index_select(0, row)
        return (left_rows * small.mT.reshape(-1, small.shape[-2]).index_select(0, col)).sum(-1)
    factor = small if left is None else left @ small
    factor_rows = factor.reshape(-1, factor.shape[-1]).index_select(0, row)
    return (factor_rows * right.reshape(-1, right.shape[-1]).index_select(0, col)).sum(-1)
