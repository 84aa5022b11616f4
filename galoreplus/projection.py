"""Projection onto a weight's stored bases and back: R = Pᵀ·W, W·Q or Pᵀ·W·Q, batched over work matrices.

Bases are stored in fp32; they are cast to the gradient's dtype for the product, so a bf16 weight never needs an fp32
copy of its whole gradient or update.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, dtype


def bases(state: dict[str, Any]) -> tuple[Tensor | None, Tensor | None]:
    """The (left, right) bases of a parameter's state; the side it does not use is None."""
    return state.get("left_basis"), state.get("right_basis")


def project(work: Tensor, state: dict[str, Any]) -> Tensor:
    left, right = bases(state)
    if left is not None:
        work = left.to(work.dtype).mT @ work
    if right is not None:
        work = work @ right.to(work.dtype)
    return work


def back_project(small: Tensor, state: dict[str, Any], out_dtype: dtype, transposed: bool = False) -> Tensor:
    """L·S·Rᵀ; with ``transposed``, its transpose R·Sᵀ·Lᵀ, so a weight stored transposed gets a contiguous update."""
    left, right = bases(state)
    small = small.to(out_dtype)
    if transposed:
        small = small.mT
        if left is not None:
            small = small @ left.to(out_dtype).mT
        if right is not None:
            small = right.to(out_dtype) @ small
        return small
    if right is not None:
        small = small @ right.to(out_dtype).mT
    if left is not None:
        small = left.to(out_dtype) @ small
    return small
