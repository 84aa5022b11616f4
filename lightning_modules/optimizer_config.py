"""The optimizer section of a run's config: one typed block, validated by jsonargparse, built in one place.

``OptimizerConfig`` is a frozen dataclass so that LightningCLI checks every key and value while parsing (an unknown or
misspelt key fails before any model is built), and so that ``--print_config`` shows the block as written. Group keys
left at ``None`` take the preset's default from ``galoreplus.param_groups``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn

OPTIMIZER_NAMES = ("adamw", "galore", "galore_plus", "lora")
# Param-group keys of galoreplus that the config passes through to ``param_groups`` when set.
GROUP_KEYS = (
    "rank",
    "update_proj_gap",
    "scale",
    "proj_type",
    "svd_method",
    "svd_iters",
    "svd_oversample",
    "svd_warm_start",
    "svd_align_signs",
    "group_size",
    "basis_from",
    "shared_side",
    "residual_density",
    "residual_warmup_steps",
    "residual_scale",
    "residual_mode",
)


@dataclass(frozen=True)
class OptimizerConfig:
    """Which optimizer trains the model, and its settings.

    Args:
        name: adamw | galore | galore_plus (presets of GaLorePlusAdamW) | lora (peft adapters + torch AdamW).
        lr: peak learning rate.
        betas: Adam's moment decay rates.
        eps: Adam's epsilon.
        weight_decay: decoupled weight decay.
        seed: seed of the optimizer's random choices (heads, test matrices); identical on every DDP rank.
        on_nonfinite: skip (skip a parameter's update on a NaN/Inf gradient and count it) | raise (stop, naming it).
        target_modules: modules that get the low-rank path (or LoRA adapters): "all-linear" or a list of names.
        rank: projection rank (LoRA's r for lora); None = the preset's default (8 for lora).
        update_proj_gap: steps between basis refreshes; None = preset default.
        scale: scale of the back-projected update; None = preset default.
        proj_type: std | reverse_std | left | right | full; None = preset default.
        svd_method: exact | rsi | lowrank; None = preset default.
        svd_iters: subspace iterations of rsi; None = preset default.
        svd_oversample: extra test columns of rsi/lowrank; None = preset default.
        svd_warm_start: start rsi from the previous basis; None = preset default.
        svd_align_signs: flip new basis vectors to the previous basis's signs; None = preset default (false).
        group_size: heads per shared basis (an integer or "all"); "off" = no cross-head projection (plain GaLore
            on attention weights); None = preset default.
        basis_from: random_head | stacked; None = preset default.
        shared_side: model_dim | head_dim; None = preset default.
        residual_density: fraction of entries with a sparse residual (0 = off); None = preset default.
        residual_warmup_steps: steps that score the residual before its index set is fixed; None = preset default.
        residual_scale: scale of the residual update; None = preset default.
        residual_mode: r1 | r2; None = preset default.
        lora_alpha: LoRA's alpha (lora only).
        lora_dropout: dropout on the LoRA path (lora only).
    """

    name: Literal["adamw", "galore", "galore_plus", "lora"] = "galore_plus"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    seed: int = 0
    on_nonfinite: Literal["skip", "raise"] = "skip"
    target_modules: str | list[str] = "all-linear"
    rank: int | None = None
    update_proj_gap: int | None = None
    scale: float | None = None
    proj_type: Literal["std", "reverse_std", "left", "right", "full"] | None = None
    svd_method: Literal["exact", "rsi", "lowrank"] | None = None
    svd_iters: int | None = None
    svd_oversample: int | None = None
    svd_warm_start: bool | None = None
    svd_align_signs: bool | None = None
    group_size: int | Literal["all", "off"] | None = None
    basis_from: Literal["random_head", "stacked"] | None = None
    shared_side: Literal["model_dim", "head_dim"] | None = None
    residual_density: float | None = None
    residual_warmup_steps: int | None = None
    residual_scale: float | None = None
    residual_mode: Literal["r1", "r2"] | None = None
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZER_NAMES:
            raise ValueError(f"optimizer.name={self.name!r} is invalid; expected one of {list(OPTIMIZER_NAMES)}")
        if self.lr <= 0:
            raise ValueError(f"optimizer.lr={self.lr!r} is invalid; expected a positive number")
        if self.rank is not None and self.rank <= 0:
            raise ValueError(f"optimizer.rank={self.rank!r} is invalid; expected a positive integer")
        if self.name != "lora":
            return
        set_keys = [k for k in GROUP_KEYS if k != "rank" and getattr(self, k) is not None]
        if set_keys:
            raise ValueError(f"optimizer.name='lora' does not read {set_keys}; remove them or pick a GaLore preset")

    def group_overrides(self) -> dict:
        """The galoreplus group keys the user set (everything else keeps the preset's default)."""
        overrides = {key: getattr(self, key) for key in GROUP_KEYS if getattr(self, key) is not None}
        if overrides.get("group_size") == "off":
            overrides["group_size"] = None  # param_groups' way of turning cross-head projection off
        return overrides

    def as_dict(self) -> dict:
        """Plain-dict form for hyperparameters, so checkpoints load with ``weights_only=True``."""
        data = asdict(self)
        data["betas"] = list(self.betas)
        return data


DEFAULT_OPTIMIZER = OptimizerConfig()


def build_optimizer(model: nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    """AdamW on LoRA's trainable weights, or GaLorePlusAdamW on the preset's param groups of ``model``."""
    if config.name == "lora":
        trainable = [p for p in model.parameters() if p.requires_grad]
        return torch.optim.AdamW(
            trainable, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
        )
    from galoreplus import GaLorePlusAdamW, param_groups

    groups = param_groups(model, preset=config.name, target_modules=config.target_modules, **config.group_overrides())
    return GaLorePlusAdamW(
        groups,
        lr=config.lr,
        betas=config.betas,
        eps=config.eps,
        weight_decay=config.weight_decay,
        seed=config.seed,
        on_nonfinite=config.on_nonfinite,
    )
