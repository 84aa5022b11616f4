"""Item 3: optimizer-state bytes by formula (from the layouts, no allocation) and measured on the small model.

Per low-rank weight with work matrices (b, p, q) (``galoreplus.layout``) and rank r, all fp32:
- Adam moments: 2 x b·p·r (right basis), 2 x b·r·q (left) or 2 x b·r·r (both, ``proj_type="full"``);
- bases: b·q·r (right) and/or b·p·r (left);
- the chosen heads of ``basis_from="random_head"``: b int64;
- the sparse residual, once its index set is fixed: ceil(density·numel) entries x (int64 index + 2 fp32 moments);
  during its warm-up, the score instead: numel fp32.
Every other parameter is AdamW: 2 moments of the parameter's own dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from benchmarks.models import LLAMA2_7B, LLAMA3_8B, SMALL_LLAMA, llama, set_synthetic_grads
from benchmarks.report import Headline, Section, table
from galoreplus import GaLorePlusAdamW, param_groups
from galoreplus.layout import Layout, build_layout
from galoreplus.settings import fill_and_check_low_rank

FP32, INT64 = 4, 8
RANK = 128
VARIANTS: dict[str, dict[str, Any]] = {
    "AdamW": {"preset": "adamw"},
    "GaLore": {"preset": "galore", "rank": RANK},
    "GaLore+ without residual": {"preset": "galore_plus", "rank": RANK, "residual_density": 0.0},
    "GaLore+ (residual 0.5 %)": {"preset": "galore_plus", "rank": RANK, "residual_warmup_steps": 0},
    "GaLore+ (residual 0.5 %), during its warm-up": {"preset": "galore_plus", "rank": RANK},
    "GaLore+ shared_side head_dim, without residual": {
        "preset": "galore_plus",
        "rank": RANK,
        "residual_density": 0.0,
        "shared_side": "head_dim",
    },
}


def low_rank_bytes(layout: Layout, group: dict[str, Any], numel: int, *, warming_up: bool = False) -> int:
    """State bytes of one low-rank weight (the module docstring's formula)."""
    batch = layout.groups if layout.cross_head else 1
    rows, cols = layout.work_shape()
    rank = group["rank"]
    side = layout.side
    moments = {"right": rows * rank, "left": rank * cols, "full": rank * rank}[side]
    bases = (cols * rank if side in ("right", "full") else 0) + (rows * rank if side in ("left", "full") else 0)
    total = FP32 * batch * (2 * moments + bases)
    if layout.cross_head and group["basis_from"] == "random_head":
        total += INT64 * batch
    if group["residual_density"] > 0:
        entries = max(1, math.ceil(group["residual_density"] * numel))
        total += FP32 * numel if warming_up else entries * (INT64 + 2 * FP32)
    return total


def formula_bytes(groups: list[dict[str, Any]], *, warming_up: bool = False) -> int:
    """Optimizer-state bytes of ``GaLorePlusAdamW(groups)`` after its first refresh, from shapes alone (meta-safe)."""
    total = 0
    for number, group in enumerate(groups):
        if group.get("rank") is None:
            total += sum(2 * p.numel() * p.element_size() for p in group["params"])
            continue
        filled = dict(group)
        fill_and_check_low_rank(filled, f"param_groups[{number}]")
        for p in group["params"]:
            layout = build_layout(tuple(p.shape), filled, f"param_groups[{number}]")
            total += low_rank_bytes(layout, filled, p.numel(), warming_up=warming_up)
    return total


def groups_for(model: nn.Module, variant: dict[str, Any]) -> list[dict[str, Any]]:
    settings = dict(variant)
    return param_groups(model, settings.pop("preset"), **settings)


def tensor_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in an optimizer's state (torch's AdamW keeps its step counters as tensors too)."""
    return sum(
        v.numel() * v.element_size() for s in optimizer.state.values() for v in s.values() if isinstance(v, Tensor)
    )


def measured_bytes(model: nn.Module, variant: dict[str, Any]) -> int:
    """``state_bytes()`` after one step (a refresh) of ``GaLorePlusAdamW`` on ``model``'s synthetic gradients."""
    optimizer = GaLorePlusAdamW(groups_for(model, variant), lr=1e-6)
    optimizer.step()
    return optimizer.state_bytes()


def _gib(n: int) -> str:
    return f"{n / 2**30:.3f} GiB"


def run(log: Callable[[str], None]) -> Section:
    rows = []
    for label, shape in (("LLaMA-2-7B", LLAMA2_7B), ("LLaMA-3-8B", LLAMA3_8B)):
        log(f"  {label} on the meta device")
        model = llama(shape, device="meta")
        params = sum(p.numel() for p in model.parameters())
        for name, variant in VARIANTS.items():
            n = formula_bytes(groups_for(model, variant), warming_up="warm-up" in name)
            rows.append((label, f"{params / 1e9:.2f} B", name, f"{n:,}", _gib(n)))
    log("  small LLaMA: measured after one step")
    small = llama(SMALL_LLAMA)
    set_synthetic_grads(small)
    checks, all_equal = [], True
    for name, variant in VARIANTS.items():
        formula = formula_bytes(groups_for(small, variant), warming_up="warm-up" in name)
        measured = measured_bytes(small, variant)
        all_equal &= formula == measured
        checks.append((name, f"{formula:,}", f"{measured:,}", "equal" if formula == measured else "DIFFERENT"))
    torch_adamw = torch.optim.AdamW(small.parameters(), lr=1e-6, foreach=True)
    torch_adamw.step()
    expected = sum(2 * p.numel() * p.element_size() + FP32 for p in small.parameters())
    checks.append(
        (
            "torch.optim.AdamW (+ a 4-byte step tensor per parameter)",
            f"{expected:,}",
            f"{tensor_bytes(torch_adamw):,}",
            "equal" if expected == tensor_bytes(torch_adamw) else "DIFFERENT",
        )
    )
    all_equal &= expected == tensor_bytes(torch_adamw)
    body = "\n\n".join(
        [
            (__doc__ or "").split("\n", 2)[2].strip(),
            f"Rank {RANK} (the presets' default), fp32 weights, targets every linear layer but `lm_head`; GaLore+ is "
            "the `galore_plus` preset (cross-head on q/k/v/o with one random head, shared side `model_dim`, so its "
            "state equals GaLore's plus 8 bytes per matrix for the chosen head); LLaMA-3-8B's k/v have 8 "
            "key-value heads. Computed on the meta device: no tensor is allocated.",
            table(["model", "parameters", "optimizer", "state bytes", "GiB"], rows),
            "Measured with `optimizer.state_bytes()` after one step (a refresh) of the small LLaMA, against the "
            "formula:",
            table(["optimizer", "formula", "measured", "check"], checks),
        ]
    )
    headline = Headline(
        "optimizer-state bytes measured on the small model vs the formula",
        "all equal" if all_equal else "DIFFERENT (see section 3)",
        "equal",
        "met" if all_equal else "missed",
    )
    return Section("3. Optimizer-state memory", body, (headline,))
