"""Generators seeded from (seed, parameter index, refresh count): replicas and resumed runs draw the same numbers."""

from __future__ import annotations

import hashlib

import torch


def derived_seed(seed: int, param_index: int, refresh: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{param_index}:{refresh}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def seeded_generator(seed: int, param_index: int, refresh: int, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(derived_seed(seed, param_index, refresh))
    return generator
