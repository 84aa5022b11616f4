"""The benchmarks' own arithmetic: FLOP counts, byte formulas against real allocations, the per-head error metric.
No timing is asserted."""

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.flops import rsi_columns, rsi_gemm_flops, rsi_products
from benchmarks.timing import Timing, combine, measure_rounds
from galoreplus.analysis import analyze, head_errors, projection
from galoreplus.basis import subspace_iteration

TINY_LLAMA = {
    "vocab_size": 64,
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,  # GQA: k/v are 128 x 256
    "max_position_embeddings": 64,
    "tie_word_embeddings": False,
}


@pytest.mark.parametrize(
    ("batch", "rows", "cols", "rank", "iters"), [(1, 96, 64, 8, 2), (3, 40, 72, 16, 1), (2, 32, 32, 30, 4)]
)
def test_rsi_flops_match_torch_flop_counter(batch, rows, cols, rank, iters):
    matrix = torch.randn(batch, rows, cols)
    columns = rsi_columns(rank, 8, rows, cols)
    expected = rsi_gemm_flops(batch, rows, cols, columns, iters)
    with FlopCounterMode(display=False) as rsi:
        subspace_iteration(matrix, rank, columns, iters, torch.Generator().manual_seed(0))
    bound = rsi_products(matrix, columns, iters)
    with FlopCounterMode(display=False) as products:
        bound()
    assert rsi.get_total_flops() == expected  # QR and the small SVD are not GEMMs: only the 2q+2 products count
    assert products.get_total_flops() == expected
    assert columns == min(rank + 8, rows, cols)


def test_timing_ratios_pair_rounds():
    a, b = Timing((2.0, 6.0, 3.0)), Timing((1.0, 2.0, 3.0))
    assert (a / b).samples == (2.0, 3.0, 1.0)
    assert (a / Timing((2.0,))).median == 1.5
    assert combine(lambda x, y: x - y, a, b).samples == (1.0, 4.0, 0.0)
    with pytest.raises(ValueError, match="cannot pair"):
        _ = a / Timing((1.0, 2.0))
    # a float result is the candidate's own report (an optimizer's basis_seconds); anything else is wall-clock time
    timed = measure_rounds({"reports": lambda: 0.25, "returns a tuple": lambda: (1.0, 2.0)}, repeats=3)
    assert timed["reports"].samples == (0.25, 0.25, 0.25)
    assert len(timed["returns a tuple"].samples) == 3 and timed["returns a tuple"].high < 0.25


def test_state_byte_formula_equals_allocations_on_a_small_llama():
    from benchmarks.models import llama, set_synthetic_grads
    from benchmarks.state_memory import VARIANTS, formula_bytes, groups_for, measured_bytes

    model = llama(TINY_LLAMA)
    set_synthetic_grads(model)
    meta = llama(TINY_LLAMA, device="meta")
    variants = {
        **VARIANTS,
        "GaLore, proj_type full, rsi": {"preset": "galore", "rank": 16, "proj_type": "full", "svd_method": "rsi"},
    }
    for name, variant in variants.items():
        warming_up = "warm-up" in name
        expected = formula_bytes(groups_for(meta, variant), warming_up=warming_up)
        assert measured_bytes(model, variant) == expected, name
    # the residual's index is int64 and its moments fp32: 16 bytes an entry on top of the plain GaLore+ state
    with_residual = formula_bytes(groups_for(meta, VARIANTS["GaLore+ (residual 0.5 %)"]))
    without = formula_bytes(groups_for(meta, VARIANTS["GaLore+ without residual"]))
    targeted = sum(p.numel() for g in groups_for(meta, VARIANTS["GaLore"]) if "rank" in g for p in g["params"])
    assert with_residual - without >= 16 * 0.005 * targeted
    assert formula_bytes(groups_for(meta, VARIANTS["AdamW"])) == 8 * sum(p.numel() for p in meta.parameters())


def test_per_head_error_by_hand():
    # two heads of two rows; the whole matrix's top right singular vector is e2 (singular value 4)
    grad = torch.tensor([[3.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 4.0]])
    whole = projection(grad, {"rank": 1, "svd_method": "exact", "update_proj_gap": 1})
    assert torch.allclose(head_errors(grad, whole, 2, 0), torch.tensor([1.0, 0.0]), atol=1e-6)
    heads = {"rank": 1, "svd_method": "exact", "update_proj_gap": 1, "num_heads": 2, "head_axis": 0}
    own = projection(grad, {**heads, "group_size": 1})  # each head its own basis: both exact
    assert torch.allclose(head_errors(grad, own, 2, 0), torch.zeros(2), atol=1e-6)
    shared = projection(grad, {**heads, "group_size": "all", "basis_from": "stacked", "shared_side": "head_dim"})
    assert torch.allclose(head_errors(grad, shared, 2, 0), torch.tensor([1.0, 0.0]), atol=1e-6)
    # heads along columns: the transposed weight gives the same errors
    assert torch.allclose(head_errors(grad.T, whole.T, 2, 1), torch.tensor([1.0, 0.0]), atol=1e-6)


def _numpy_error(block: np.ndarray, approx: np.ndarray) -> float:
    return float(np.linalg.norm(block - approx) / np.linalg.norm(block))


def test_per_head_error_against_numpy_svd():
    rng = np.random.default_rng(0)
    heads, head_dim, model_dim, rank = 4, 8, 24, 3
    g = rng.standard_normal((heads * head_dim, model_dim)) * np.geomspace(1, 0.05, model_dim)
    results = analyze(torch.tensor(g, dtype=torch.float32), heads, 0, rank, methods=("exact",), basis_from="stacked")
    blocks = np.split(g, heads, axis=0)
    v = np.linalg.svd(g)[2][:rank].T  # whole matrix (32 x 24 is tall: right basis)
    expected_whole = [_numpy_error(b, b @ v @ v.T) for b in blocks]
    own = [np.linalg.svd(b)[2][:rank].T for b in blocks]  # group 1, model_dim: each head's own right basis
    expected_own = [_numpy_error(b, b @ w @ w.T) for b, w in zip(blocks, own, strict=True)]
    u = np.linalg.svd(np.concatenate(blocks, axis=1))[0][:, :rank]  # group all, head_dim: blocks side by side
    expected_head_dim = [_numpy_error(b, u @ u.T @ b) for b in blocks]
    for label, expected in (
        ("whole matrix, exact", expected_whole),
        ("cross-head model_dim, group 1, exact", expected_own),
        ("cross-head head_dim, group all, exact", expected_head_dim),
    ):
        np.testing.assert_allclose(results[label].numpy(), expected, rtol=1e-4, err_msg=label)
    # stacked model_dim with every head in one group is exactly the whole-matrix projection
    np.testing.assert_allclose(results["cross-head model_dim, group all, exact"].numpy(), expected_whole, rtol=1e-4)
    with pytest.raises(ValueError, match="does not divide"):
        head_errors(torch.ones(6, 4), torch.ones(6, 4), 4, 0)


def test_fit_section_pairs_rounds_and_draws_figure_2a(tmp_path):
    from benchmarks.fit_throughput import Fit, plot, section

    def fits(speeds, shares):
        return [Fit(s, 1 / s, share * 100 / s, share, 32, 100) for s, share in zip(speeds, shares, strict=True)]

    results = {
        "AdamW": fits((10.0, 20.0), (0.0, 0.0)),
        "GaLore": fits((5.0, 10.0), (0.2, 0.4)),
        "GaLore+": fits((8.0, 16.0), (0.02, 0.02)),
    }
    share, speed = section(results, 2, tmp_path / "figure_2a.png").headlines
    assert share.value == "0.075× (0.05–0.1)" and share.verdict == "met"  # per round: 0.02/0.2 and 0.02/0.4
    assert speed.value == "1.6× (1.6–1.6)"
    plot(results, tmp_path / "figure_2a.png")
    assert (tmp_path / "figure_2a.png").read_bytes()[:4] == b"\x89PNG"
