"""Item 1: the cost of one basis refresh at LLaMA-like shapes, by method and cross-head grouping.

Each configuration is timed two ways in the same rounds: through the real optimizer (a ``GaLorePlusAdamW`` over one
weight with ``update_proj_gap=1``, reading ``stats["basis_seconds"]``, which includes the head draw and the seeded
generator) and through ``galoreplus.basis.estimate_bases`` directly on the same source matrices. rsi is also timed
against its own matrix products alone (``benchmarks.flops.rsi_products``). An exact SVD of a whole matrix runs once
per shape: it is seconds long and its cost does not depend on the rank.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from benchmarks.flops import rsi_columns, rsi_gemm_flops, rsi_products
from benchmarks.report import Headline, Section, table, verdict
from benchmarks.timing import Timing, measure_rounds, seconds, times
from galoreplus import GaLorePlusAdamW
from galoreplus.basis import estimate_bases
from galoreplus.layout import build_layout
from galoreplus.settings import fill_and_check_low_rank

HEAD_DIM = 128
RSI_ITERS = (1, 2, 4, 8)
HEADLINE_RANK = 64
HEADLINE_DIM = 2048


@dataclass(frozen=True)
class MatrixShape:
    label: str
    rows: int
    cols: int
    heads: int | None  # attention heads along the rows (q/k/v); None: an MLP weight, no cross-head projection


@dataclass(frozen=True)
class Config:
    label: str
    method: str
    iters: int = 2
    group_size: int | str | None = None  # None: the whole matrix, no head layout
    basis_from: str = "random_head"


def shapes(full: bool) -> list[MatrixShape]:
    """Attention (d x d, heads of 128) and MLP up/gate (LLaMA's 2.6875·d x d) weights at d = 1024, 2048 (+ 4096)."""
    dims = (1024, 2048, 4096) if full else (1024, 2048)
    out = []
    for d in dims:
        out.append(MatrixShape(f"attention {d}x{d} ({d // HEAD_DIM} heads)", d, d, d // HEAD_DIM))
        out.append(MatrixShape(f"MLP up {d * 43 // 16}x{d}", d * 43 // 16, d, None))
    return out


def whole_configs() -> list[Config]:
    return [Config(f"rsi q={q}", "rsi", q) for q in RSI_ITERS] + [Config("svd_lowrank q=2", "lowrank", 2)]


def cross_head_configs(method: str) -> list[Config]:
    """Group sizes 1, 2 and all; ``basis_from`` matters only when a group holds several heads. Group all + stacked
    is the whole matrix (timed above), so it is left out."""
    name = {"exact": "exact", "rsi": "rsi q=2", "lowrank": "svd_lowrank q=2"}[method]
    return [
        Config(f"{name}, group 1", method, 2, 1),
        Config(f"{name}, group 2, random head", method, 2, 2, "random_head"),
        Config(f"{name}, group 2, stacked", method, 2, 2, "stacked"),
        Config(f"{name}, group all, random head", method, 2, "all", "random_head"),
    ]


def low_rank_group(shape: MatrixShape, config: Config, rank: int) -> dict:
    group = {"rank": rank, "update_proj_gap": 1, "svd_method": config.method, "svd_iters": config.iters}
    if config.group_size is not None:
        group.update(num_heads=shape.heads, head_axis=0, group_size=config.group_size, basis_from=config.basis_from)
    return group


def via_optimizer(grad: torch.Tensor, group: dict) -> Callable[[], float]:
    """A step of a one-weight optimizer that refreshes every step; returns the seconds it reports for the basis."""
    weight = torch.nn.Parameter(torch.zeros_like(grad))
    weight.grad = grad
    optimizer = GaLorePlusAdamW([{"params": [weight], **group}], lr=1e-6)

    def run() -> float:
        optimizer.step()
        return optimizer.stats["basis_seconds"]

    return run


def via_basis(grad: torch.Tensor, group: dict, generator: torch.Generator) -> Callable[[], object]:
    """``estimate_bases`` alone on the matrices the optimizer would estimate from (one random head drawn once)."""
    group = dict(group)
    fill_and_check_low_rank(group, "benchmark")
    layout = build_layout(tuple(grad.shape), group, "benchmark")
    source = layout.to_work(grad)
    if layout.cross_head and group["basis_from"] == "random_head":
        heads = torch.randint(0, layout.group_heads, (layout.groups,), generator=generator)
        source = layout.head_blocks(grad, heads)

    def run() -> object:
        return estimate_bases(
            source, group["rank"], layout.side, group["svd_method"], iters=group["svd_iters"], generator=generator
        )

    return run


@dataclass
class ShapeResult:
    shape: MatrixShape
    exact: Timing  # whole matrix, through the optimizer, one run
    timings: dict[tuple[str, int, str], Timing]  # (config label, rank, "optimizer" | "basis" | "products")


def measure_shape(shape: MatrixShape, ranks: tuple[int, ...], repeats: int, log: Callable[[str], None]) -> ShapeResult:
    """Whole-matrix methods at every rank through ``estimate_bases`` (and rsi's products); at the headline rank also
    through the optimizer, with every cross-head configuration. Exact cross-head runs get fewer rounds."""
    generator = torch.Generator().manual_seed(0)
    grad = torch.randn(shape.rows, shape.cols, generator=generator)
    log(f"  {shape.label}: exact SVD of the whole matrix (one run)")
    exact = Timing((via_optimizer(grad, low_rank_group(shape, Config("exact", "exact"), ranks[0]))(),))
    timings: dict[tuple[str, int, str], Timing] = {}
    if shape.heads is not None:
        log(f"  {shape.label}: exact SVD, cross-head")
        candidates = {}
        for config in cross_head_configs("exact"):
            group = low_rank_group(shape, config, HEADLINE_RANK)
            candidates[(config.label, HEADLINE_RANK, "optimizer")] = via_optimizer(grad, group)
            candidates[(config.label, HEADLINE_RANK, "basis")] = via_basis(grad, group, generator)
        timings.update(measure_rounds(candidates, max(3, repeats // 2)))
    for rank in ranks:
        log(f"  {shape.label}: rank {rank}")
        candidates = {}
        for config in whole_configs():
            group = low_rank_group(shape, config, rank)
            candidates[(config.label, rank, "basis")] = via_basis(grad, group, generator)
            if rank == HEADLINE_RANK:
                candidates[(config.label, rank, "optimizer")] = via_optimizer(grad, group)
            if config.method == "rsi":
                columns = rsi_columns(rank, 8, shape.rows, shape.cols)
                # GaLore's std side is the right basis of a tall or square matrix: rsi runs on the matrix itself
                candidates[(config.label, rank, "products")] = rsi_products(grad[None], columns, config.iters)
        if shape.heads is not None and rank == HEADLINE_RANK:
            for config in cross_head_configs("rsi") + cross_head_configs("lowrank"):
                group = low_rank_group(shape, config, rank)
                candidates[(config.label, rank, "optimizer")] = via_optimizer(grad, group)
                candidates[(config.label, rank, "basis")] = via_basis(grad, group, generator)
        timings.update(measure_rounds(candidates, repeats))
    return ShapeResult(shape, exact, timings)


def _gflops(shape: MatrixShape, rank: int, iters: int, t: Timing) -> str:
    flops = rsi_gemm_flops(1, shape.rows, shape.cols, rsi_columns(rank, 8, shape.rows, shape.cols), iters)
    return f"{flops / t.median / 1e9:.0f}"


def render_shape(result: ShapeResult, ranks: tuple[int, ...]) -> str:
    shape, t, r0 = result.shape, result.timings, HEADLINE_RANK
    whole = [("exact SVD (vanilla GaLore), 1 run", *[seconds(result.exact)] * (len(ranks) + 1), *["1×"] * len(ranks))]
    for c in whole_configs():
        by_rank = [t[(c.label, r, "basis")] for r in ranks]
        opt = t[(c.label, r0, "optimizer")]
        whole.append((c.label, *map(seconds, by_rank), seconds(opt), *(times(result.exact / b) for b in by_rank)))
    parts = [
        f"### {shape.label}",
        f"Whole matrix: time per refresh through `estimate_bases` at each rank and through the optimizer at rank {r0}, "
        "and the speed-up of `estimate_bases` over the exact SVD (timed once, through the optimizer).",
        table(
            ["method", *(f"rank {r}" for r in ranks), f"optimizer, rank {r0}", *(f"speed-up, rank {r}" for r in ranks)],
            whole,
        ),
        "rsi against its own matrix products (2q+2 GEMMs of the same shapes, no QR/SVD), through `galoreplus.basis`; "
        "GFLOP/s is the products' rate.",
        table(
            ["rank", "q", "rsi", "products alone", "rsi ÷ products", "products GFLOP/s"],
            [
                (
                    r,
                    q,
                    seconds(t[(f"rsi q={q}", r, "basis")]),
                    seconds(t[(f"rsi q={q}", r, "products")]),
                    times(t[(f"rsi q={q}", r, "basis")] / t[(f"rsi q={q}", r, "products")]),
                    _gflops(shape, r, q, t[(f"rsi q={q}", r, "products")]),
                )
                for r in ranks
                for q in RSI_ITERS
            ],
        ),
    ]
    if shape.heads is not None:
        rows = [
            (
                c.label,
                seconds(t[(c.label, r0, "optimizer")]),
                seconds(t[(c.label, r0, "basis")]),
                times(result.exact / t[(c.label, r0, "optimizer")]),
            )
            for c in cross_head_configs("exact") + cross_head_configs("rsi") + cross_head_configs("lowrank")
        ]
        parts += [
            f"Cross-head, shared side `model_dim` ({shape.heads} heads of {HEAD_DIM}), rank {r0}: time per refresh "
            "through the optimizer and through `estimate_bases` alone, and the optimizer's speed-up over the "
            "whole-matrix exact SVD. The `galore_plus` preset is rsi q=2, group all, random head; group all + stacked "
            "is the whole matrix (above).",
            table(["configuration", "optimizer", "estimate_bases", "speed-up vs exact"], rows),
        ]
    return "\n\n".join(parts)


def section(results: list[ShapeResult], ranks: tuple[int, ...], repeats: int) -> Section:
    headlines = []
    head = next((r for r in results if r.shape.heads and r.shape.rows == HEADLINE_DIM), None)
    if head is not None:
        plus = head.timings[("rsi q=2, group all, random head", HEADLINE_RANK, "optimizer")]
        speedup = head.exact / plus
        headlines.append(
            Headline(
                f"basis refresh, {HEADLINE_DIM}² attention weight, 16 heads, rank {HEADLINE_RANK}: "
                "`galore_plus` vs `galore` (exact), through the optimizer",
                f"{times(speedup)} faster",
                "≥ 100× faster",
                verdict(speedup.median, 100, at_most=False),
            )
        )
        ratio = head.timings[("rsi q=2", HEADLINE_RANK, "basis")] / head.timings[("rsi q=2", HEADLINE_RANK, "products")]
        headlines.append(
            Headline(
                f"rsi q=2 at {HEADLINE_DIM}², rank {HEADLINE_RANK}: time ÷ its own matrix products",
                times(ratio),
                "≤ 1.5",
                verdict(ratio.median, 1.5, at_most=True),
            )
        )
    intro = (
        f"Gradients are seeded Gaussian matrices (fp32). Ranks {', '.join(map(str, ranks))}; oversampling 8; "
        f"{repeats} rounds after one warm-up round (exact cross-head: fewer rounds). "
        "Each exact SVD of a whole matrix runs once per shape, so its speed-ups carry the spread of the other side "
        "only."
    )
    return Section(
        "1. Basis estimation per refresh",
        "\n\n".join([intro, *(render_shape(r, ranks) for r in results)]),
        tuple(headlines),
    )


def run(full: bool, ranks: tuple[int, ...], repeats: int, log: Callable[[str], None]) -> Section:
    torch.linalg.svd(torch.randn(2, 64, 128))  # load LAPACK's batched SVD before the first timed one
    results = [measure_shape(shape, ranks, repeats, log) for shape in shapes(full)]
    return section(results, ranks, repeats)
