"""Basis estimators against torch.linalg.svd."""

import pytest
import torch

from galoreplus.basis import estimate_bases, right_basis


def _low_rank_plus_noise(m=200, n=160, rank=10, noise=0.05, batch=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    left = torch.randn(batch, m, rank, generator=gen)
    right = torch.randn(batch, rank, n, generator=gen)
    spectrum = torch.logspace(1, -0.5, rank)
    return (left * spectrum) @ right / n**0.5 + noise * torch.randn(batch, m, n, generator=gen)


def _projection_error(matrix, basis):
    return (matrix - matrix @ basis @ basis.mT).norm() / matrix.norm()


def test_rsi_returns_orthonormal_bases():
    matrix = _low_rank_plus_noise()
    basis = right_basis(matrix, 12, "rsi", iters=2, generator=torch.Generator().manual_seed(1))
    assert basis.shape == (3, 160, 12)
    torch.testing.assert_close(basis.mT @ basis, torch.eye(12).expand(3, 12, 12), atol=1e-5, rtol=0)


def test_rsi_error_is_within_one_percent_of_exact_and_falls_with_iterations():
    matrix = _low_rank_plus_noise(rank=24, noise=0.2)
    exact = _projection_error(matrix, right_basis(matrix, 16, "exact"))
    errors = [
        _projection_error(matrix, right_basis(matrix, 16, "rsi", iters=q, generator=torch.Generator().manual_seed(3)))
        for q in (0, 1, 2, 4)
    ]
    print(f"\nexact {exact:.5f}; rsi iters 0/1/2/4: {[round(float(e), 5) for e in errors]}")
    assert all(later <= earlier + 1e-6 for earlier, later in zip(errors, errors[1:], strict=False))
    assert errors[2] <= 1.01 * exact and errors[3] <= 1.01 * exact
    assert errors[0] > errors[3]


@pytest.mark.parametrize("side", ["left", "right", "full"])
def test_exact_bases_are_torch_svd_singular_vectors(side):
    matrix = _low_rank_plus_noise(batch=1)
    u, _, vh = torch.linalg.svd(matrix, full_matrices=False)
    left, right = estimate_bases(matrix, 5, side, "exact")
    if side in ("left", "full"):
        torch.testing.assert_close(left, u[..., :5])
    if side in ("right", "full"):
        torch.testing.assert_close(right, vh[..., :5, :].mT)


def test_lowrank_leaves_the_global_rng_untouched_and_is_seeded():
    matrix = _low_rank_plus_noise()
    before = torch.random.get_rng_state()
    first = right_basis(matrix, 8, "lowrank", generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.random.get_rng_state(), before)
    again = right_basis(matrix, 8, "lowrank", generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, again)
    exact = _projection_error(matrix, right_basis(matrix, 8, "exact"))
    assert _projection_error(matrix, first) <= 1.05 * exact


def test_warm_start_from_the_exact_basis_needs_no_iterations():
    matrix = _low_rank_plus_noise()
    exact = right_basis(matrix, 8, "exact")
    warm = right_basis(matrix, 8, "rsi", iters=0, oversample=0, generator=torch.Generator(), start=exact)
    torch.testing.assert_close(_projection_error(matrix, warm), _projection_error(matrix, exact), atol=1e-5, rtol=0)
