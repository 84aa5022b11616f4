"""Param groups from any ``nn.Module``: which weights are projected, with which settings, and the presets.

Targets are chosen like peft's ``target_modules``: ``"all-linear"`` (every linear layer but the output head), or a
name / list of names matched exactly, as a dotted suffix, or as a regex over the full module name. Every other
parameter goes to one AdamW group. With cross-head projection on (``group_size`` set, as in ``galore_plus``), each
targeted attention weight gets its head layout from ``model.config``; other targets (MLP weights) get plain GaLore.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from torch import nn

from galoreplus.heads import RULES, head_info, looks_like_attention

PRESETS: dict[str, dict[str, Any]] = {
    "adamw": {},
    "galore": {  # vanilla GaLore: exact SVD of the whole gradient, one basis per matrix, no residual
        "rank": 128,
        "update_proj_gap": 200,
        "scale": 0.25,
        "proj_type": "std",
        "svd_method": "exact",
        "residual_density": 0.0,
    },
    "galore_plus": {  # one basis per attention matrix from a random head, rsi, sparse residual
        "rank": 64,  # a random head's block limits the rank to head_dim: 64 fits BERT, GPT-2, T5 and LLaMA
        "update_proj_gap": 200,
        "scale": 0.25,
        "proj_type": "std",
        "svd_method": "rsi",
        "svd_iters": 2,
        "svd_oversample": 8,
        "group_size": "all",
        "basis_from": "random_head",
        "shared_side": "model_dim",
        "residual_density": 0.005,
        "residual_warmup_steps": 10,
        "residual_mode": "r1",
    },
}
OPTIMIZER_KEYS = ("lr", "weight_decay", "betas", "eps")
CROSS_HEAD_KEYS = ("group_size", "basis_from", "shared_side")
OUTPUT_HEADS = frozenset({"lm_head", "classifier", "classification_head", "score", "qa_outputs"})


def param_groups(
    model: nn.Module,
    preset: str | None = None,
    target_modules: str | Sequence[str] = "all-linear",
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Groups for :class:`GaLorePlusAdamW`: low-rank groups for the targets, one AdamW group for the rest.

    ``overrides`` are group keys (``rank=64``, ``svd_method="exact"``, ``group_size=1``, ...); ``group_size=None``
    turns cross-head projection off. ``lr``/``weight_decay``/``betas``/``eps`` apply to every group.
    """
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"preset={preset!r} is unknown; expected one of {sorted(PRESETS)} or None")
    settings = {**PRESETS.get(preset or "", {}), **overrides}
    shared = {k: settings.pop(k) for k in OPTIMIZER_KEYS if k in settings}
    if settings.get("group_size", None) is None:
        for key in CROSS_HEAD_KEYS:
            settings.pop(key, None)
    low_rank = settings.get("rank") is not None
    targets = select_targets(model, target_modules) if low_rank else {}

    grouped: dict[tuple, dict[str, Any]] = {}
    rest: dict[str, Any] = {"params": [], "names": [], **shared}
    config = getattr(model, "config", None)
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        module_name = name.rpartition(".")[0]
        if module_name not in targets or targets[module_name] is not param:
            rest["params"].append(param)
            rest["names"].append(name)
            continue
        keys = dict(settings)
        if "group_size" in keys:
            keys.update(_head_keys(config, module_name, tuple(param.shape)))
        signature = tuple(sorted(keys.items()))
        group = grouped.setdefault(signature, {"params": [], "names": [], **shared, **keys})
        group["params"].append(param)
        group["names"].append(name)
    groups = list(grouped.values())
    if rest["params"]:
        groups.append(rest)
    return groups


def _head_keys(config: Any, module_name: str, shape: tuple[int, int]) -> dict[str, Any]:
    info = head_info(config, module_name, shape) if config is not None else None
    if info is not None:
        return {"num_heads": info.num_heads, "head_axis": info.head_axis, "head_splits": info.head_splits}
    if looks_like_attention(module_name):
        model_type = getattr(config, "model_type", None)
        raise ValueError(
            f"cannot determine the attention heads of '{module_name}' (model config model_type={model_type!r}; "
            f"known: {sorted(RULES)}); pass group_size=None to turn cross-head projection off for this model"
        )
    return {}


def select_targets(model: nn.Module, target_modules: str | Sequence[str]) -> dict[str, nn.Parameter]:
    """Module name -> 2-D weight for every targeted linear layer; a pattern that matches nothing is an error."""
    linear = {
        name: module.weight
        for name, module in model.named_modules()
        if (isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D")
        and getattr(module, "weight", None) is not None
        and module.weight.dim() == 2
    }
    tied = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    if target_modules == "all-linear":
        chosen = {n: w for n, w in linear.items() if not set(n.split(".")) & OUTPUT_HEADS and id(w) not in tied}
        if not chosen:
            raise ValueError("target_modules='all-linear' matched no linear layer in this model")
        return chosen
    patterns = [target_modules] if isinstance(target_modules, str) else list(target_modules)
    chosen = {}
    for pattern in patterns:
        hits = {n: w for n, w in linear.items() if _matches(pattern, n)}
        if not hits:
            examples = ", ".join(list(linear)[:6])
            raise ValueError(
                f"target_modules entry {pattern!r} matches no linear layer; names look like: {examples} "
                "(give exact names, dotted suffixes such as 'q_proj', a regex, or 'all-linear')"
            )
        chosen.update(hits)
    return chosen


def _matches(pattern: str, name: str) -> bool:
    if name == pattern or name.endswith("." + pattern):
        return True
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False
