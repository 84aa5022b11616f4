"""Orthonormal rank-r bases of batched matrices: exact SVD, randomized subspace iteration, torch.svd_lowrank.

Every estimator takes a batch ``A`` of shape (b, m, n) and returns the top-``rank`` right singular vectors, shape
(b, n, rank); a left basis is the right basis of ``A.mT``. All work is fp32, whatever the input's dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor


def estimate_bases(
    source: Tensor,
    rank: int,
    side: str,
    method: str,
    *,
    iters: int = 2,
    oversample: int = 8,
    generator: torch.Generator | None = None,
    start_left: Tensor | None = None,
    start_right: Tensor | None = None,
) -> tuple[Tensor | None, Tensor | None]:
    """(left, right) bases of ``source`` for ``side`` left, right or full (both); the side not asked for is None.

    An exact SVD serves both sides from one factorisation, as GaLore's ``full`` projector does. A transposed view
    (the output projection under cross-head sharing) is factorised in its stored orientation, which saves a copy and
    gives exactly the factors vanilla GaLore computes for the same weight.
    """
    if source.mT.is_contiguous() and not source.is_contiguous():
        swapped = {"left": "right", "right": "left"}.get(side, side)
        left, right = estimate_bases(
            source.mT,
            rank,
            swapped,
            method,
            iters=iters,
            oversample=oversample,
            generator=generator,
            start_left=start_right,
            start_right=start_left,
        )
        return right, left
    source = source.float()
    want_left, want_right = side in ("left", "full"), side in ("right", "full")
    if method == "exact":
        u, _, vh = torch.linalg.svd(source, full_matrices=False)
        return (u[..., :rank] if want_left else None, vh[..., :rank, :].mT if want_right else None)
    kwargs = {"iters": iters, "oversample": oversample, "generator": generator}
    left = right_basis(source.mT, rank, method, start=start_left, **kwargs) if want_left else None
    right = right_basis(source, rank, method, start=start_right, **kwargs) if want_right else None
    return left, right


def right_basis(
    matrix: Tensor,
    rank: int,
    method: str,
    *,
    iters: int = 2,
    oversample: int = 8,
    generator: torch.Generator | None = None,
    start: Tensor | None = None,
) -> Tensor:
    """Top-``rank`` right singular vectors of each matrix in the batch, as (b, n, rank) fp32 columns."""
    matrix = matrix.float()
    if method == "exact":
        return torch.linalg.svd(matrix, full_matrices=False)[2][..., :rank, :].mT
    columns = min(rank + oversample, *matrix.shape[-2:])
    if method == "rsi":
        return subspace_iteration(matrix, rank, columns, iters, generator, start)
    if method == "lowrank":
        return _svd_lowrank(matrix, rank, columns, iters, generator)
    raise ValueError(f"svd_method={method!r} is invalid; expected one of ['exact', 'rsi', 'lowrank']")


def subspace_iteration(
    matrix: Tensor,
    rank: int,
    columns: int,
    iters: int,
    generator: torch.Generator | None,
    start: Tensor | None = None,
) -> Tensor:
    """Randomized subspace iteration (Halko, Martinsson and Tropp 2011, Alg. 4.4 + 5.1) on the row space.

    2q+2 products with ``matrix``: A·Ω, then q rounds of Aᵀ·Q and A·Q', each re-orthonormalised by QR, then QᵀA,
    whose small exact SVD gives the basis. ``start`` (b, n, k) replaces the first k Gaussian test columns
    (the warm start from the previous basis).
    """
    batch, _, n = matrix.shape
    test = torch.randn(batch, n, columns, generator=generator, device=matrix.device, dtype=matrix.dtype)
    if start is not None:
        test[..., : start.shape[-1]] = start
    q = torch.linalg.qr(matrix @ test).Q
    for _ in range(iters):
        q = torch.linalg.qr(matrix.mT @ q).Q
        q = torch.linalg.qr(matrix @ q).Q
    small = q.mT @ matrix
    return torch.linalg.svd(small, full_matrices=False)[2][..., :rank, :].mT


def _svd_lowrank(matrix: Tensor, rank: int, columns: int, iters: int, generator: torch.Generator | None) -> Tensor:
    """torch.svd_lowrank draws from the global RNG: fork it so dropout and shuffling streams do not move."""
    seed = 0
    if generator is not None:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    devices = [matrix.device] if matrix.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        if devices:  # seed only the generator svd_lowrank draws from: torch.manual_seed would reseed every device
            torch.cuda.default_generators[matrix.device.index or 0].manual_seed(seed)
        else:
            torch.default_generator.manual_seed(seed)
        return torch.svd_lowrank(matrix, q=columns, niter=iters)[2][..., :rank]
