"""Attention-head layout of a weight, read from a model's ``config`` as a plain object (no transformers import).

Each rule matches a module name and says where its heads lie and which config field counts them:
- heads along rows (``head_axis`` 0): q/k/v of an ``nn.Linear`` (out_features = heads x head_dim);
- heads along columns (``head_axis`` 1): the output projection, and GPT-2's Conv1D ``c_attn`` (stored in x out),
  which fuses q, k and v (3 logical matrices; 2 in cross-attention) along that axis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HeadRule:
    pattern: str  # regex searched in the module name
    head_axis: int
    heads_field: tuple[str, ...]  # config fields tried in order
    fused: bool = False  # several logical matrices (q, k, v) stored side by side along the head axis


_LLAMA_LIKE = (
    HeadRule(r"(^|\.)q_proj$", 0, ("num_attention_heads",)),
    HeadRule(r"(^|\.)(k_proj|v_proj)$", 0, ("num_key_value_heads", "num_attention_heads")),
    HeadRule(r"(^|\.)o_proj$", 1, ("num_attention_heads",)),
)
_BERT_LIKE = (
    HeadRule(r"attention\.(self|attention)\.(query|key|value)$", 0, ("num_attention_heads",)),
    HeadRule(r"attention\.output\.dense$", 1, ("num_attention_heads",)),
)
_BART_LIKE = (
    HeadRule(r"encoder\..*self_attn\.(q_proj|k_proj|v_proj)$", 0, ("encoder_attention_heads",)),
    HeadRule(r"encoder\..*self_attn\.out_proj$", 1, ("encoder_attention_heads",)),
    HeadRule(r"decoder\..*(self_attn|encoder_attn)\.(q_proj|k_proj|v_proj)$", 0, ("decoder_attention_heads",)),
    HeadRule(r"decoder\..*(self_attn|encoder_attn)\.out_proj$", 1, ("decoder_attention_heads",)),
)
RULES: dict[str, tuple[HeadRule, ...]] = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "bert": _BERT_LIKE,
    "roberta": _BERT_LIKE,
    "vit": _BERT_LIKE + _LLAMA_LIKE,  # transformers 5 names ViT's attention q_proj/k_proj/v_proj/o_proj
    "t5": (
        HeadRule(r"(SelfAttention|EncDecAttention)\.(q|k|v)$", 0, ("num_heads",)),
        HeadRule(r"(SelfAttention|EncDecAttention)\.o$", 1, ("num_heads",)),
    ),
    "bart": _BART_LIKE,
    "mbart": _BART_LIKE,
    "marian": _BART_LIKE,
    "gpt2": (
        HeadRule(r"(attn|crossattention)\.(c_attn|q_attn)$", 1, ("n_head", "num_attention_heads"), fused=True),
        HeadRule(r"(attn|crossattention)\.c_proj$", 0, ("n_head", "num_attention_heads")),
    ),
}
# Names that look like attention weights in any architecture: a target matching one of these needs head metadata.
ATTENTION_NAME = re.compile(
    r"(^|\.)(q_proj|k_proj|v_proj|o_proj|out_proj|query|key|value|c_attn|q_attn|q|k|v|o)$|attention\.output\.dense$"
)


@dataclass(frozen=True)
class HeadInfo:
    num_heads: int
    head_axis: int
    head_splits: int


def _field(config: Any, path: str, fields: tuple[str, ...]) -> int | None:
    for part in filter(None, path.split(".")):
        config = getattr(config, part, None)
    for name in fields:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _rules_for(config: Any, name: str) -> tuple[tuple[HeadRule, ...], str, str]:
    """Rules, config path and the name relative to it; VisionEncoderDecoder nests an encoder and a decoder config."""
    if getattr(config, "model_type", None) == "vision-encoder-decoder":
        for part in ("encoder", "decoder"):
            if name.startswith(part + "."):
                sub = getattr(config, part, None)
                return RULES.get(getattr(sub, "model_type", ""), ()), part, name[len(part) + 1 :]
        return (), "", name
    return RULES.get(getattr(config, "model_type", ""), ()), "", name


def head_info(config: Any, module_name: str, shape: tuple[int, int]) -> HeadInfo | None:
    """Head layout of a weight, or None when the module is not an attention weight of a known architecture."""
    rules, path, name = _rules_for(config, module_name)
    for rule in rules:
        if re.search(rule.pattern, name):
            heads = _field(config, path, rule.heads_field)
            if heads is None:
                return None
            along = shape[rule.head_axis]
            other = shape[1 - rule.head_axis]
            splits = along // other if rule.fused and along % other == 0 else 1
            return HeadInfo(num_heads=heads, head_axis=rule.head_axis, head_splits=splits)
    return None


def looks_like_attention(module_name: str) -> bool:
    return bool(ATTENTION_NAME.search(module_name))
