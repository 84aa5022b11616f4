"""LLaMA-style models from a config (no download): the small model the step and memory benchmarks run, and the
LLaMA-2-7B / LLaMA-3-8B shapes, built on the meta device for the byte formulas."""

from __future__ import annotations

from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM

# 40.6 M parameters, heads of 128 like LLaMA's: 4 layers of d = 768 (6 heads), MLP 2048, vocabulary 8000.
SMALL_LLAMA: dict[str, Any] = {
    "vocab_size": 8000,
    "hidden_size": 768,
    "intermediate_size": 2048,
    "num_hidden_layers": 4,
    "num_attention_heads": 6,
    "num_key_value_heads": 6,
    "max_position_embeddings": 512,
    "tie_word_embeddings": False,
}
# The published shapes: https://huggingface.co/meta-llama/Llama-2-7b-hf and .../Meta-Llama-3-8B config.json.
LLAMA2_7B: dict[str, Any] = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "tie_word_embeddings": False,
}
LLAMA3_8B: dict[str, Any] = {
    "vocab_size": 128256,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "tie_word_embeddings": False,
}


def llama(shape: dict[str, Any], device: str = "cpu", seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised LLaMA of the given shape; on ``meta`` nothing is allocated."""
    torch.manual_seed(seed)
    with torch.device(device):
        return LlamaForCausalLM(LlamaConfig(**shape))


def set_synthetic_grads(model: torch.nn.Module, seed: int = 0, scale: float = 1e-3) -> None:
    """Fixed seeded Gaussian gradients, so optimizer steps can be timed without a forward/backward pass."""
    generator = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=generator, dtype=p.dtype) * scale
