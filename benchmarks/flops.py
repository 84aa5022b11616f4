"""The matrix products of randomized subspace iteration: their FLOP count, and the products alone (the GEMM lower
bound that ``galoreplus.basis.subspace_iteration`` is measured against)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def rsi_columns(rank: int, oversample: int, rows: int, cols: int) -> int:
    """Test columns k of rsi, as ``galoreplus.basis.right_basis`` clamps them."""
    return min(rank + oversample, rows, cols)


def rsi_gemm_flops(batch: int, rows: int, cols: int, columns: int, iters: int) -> int:
    """2q+2 products of each (rows x cols) matrix with a k-column block, 2·m·n·k FLOPs each (a multiply-add is 2)."""
    return (2 * iters + 2) * 2 * batch * rows * cols * columns


def rsi_products(
    matrix: Tensor, columns: int, iters: int, generator: torch.Generator | None = None
) -> Callable[[], list[Tensor]]:
    """A closure that runs exactly rsi's products on ``matrix`` (b, m, n) with operands of the same shapes and
    transposes (A·Ω, q x (Aᵀ·Q, A·Q'), Qᵀ·A), and nothing else: no QR, no SVD, no allocation of test matrices."""
    batch, rows, cols = matrix.shape
    kwargs = {"generator": generator, "device": matrix.device, "dtype": matrix.dtype}
    right = torch.randn(batch, cols, columns, **kwargs)
    left = torch.randn(batch, rows, columns, **kwargs)

    def run() -> list[Tensor]:
        products = [matrix @ right]
        for _ in range(iters):
            products.append(matrix.mT @ left)
            products.append(matrix @ right)
        products.append(left.mT @ matrix)
        return products

    return run
