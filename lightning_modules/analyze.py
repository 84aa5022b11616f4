"""``galoreplus analyze``: the per-head approximation error of cross-head projection on real gradients (Figure 2b).

``galoreplus analyze --config RUN.yaml [--config MORE.yaml] [--batches N] [--rank R] [--out DIR] [--dotted.key V]``

The run config is the one ``galoreplus fit`` reads (stackable, with dotted overrides): the CLI class builds the model
and the data exactly as fit does. The gradient of the mean loss over the first N training batches (the gradient one
optimizer step with ``accumulate_grad_batches=N`` sees, at the initial weights) is taken for every attention weight,
and ``galoreplus.analysis`` reports ‖G_i − Π(G_i)‖_F / ‖G_i‖_F per head for the whole-matrix SVD (vanilla GaLore) and
cross-head projection (group sizes 1, 2, all; ``shared_side`` model_dim and head_dim; each SVD method). Writes
``per_head_error.{md,png,json}`` into ``--out`` and prints which reading of cross-head projection fits the paper's
claim that GaLore+ is below vanilla GaLore on every head.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from galoreplus import param_groups
from galoreplus.analysis import WHOLE, analyze, cross_head_label
from galoreplus.settings import SHARED_SIDES, SVD_METHODS

VANILLA = f"{WHOLE}, exact"  # vanilla GaLore: exact SVD of the whole gradient
TIE = 1e-5  # errors closer than this are equal (the SVD methods agree to float precision on exact low-rank blocks)
READINGS = {"model_dim": "A (input side, shared_side=model_dim)", "head_dim": "B (head side, shared_side=head_dim)"}
# Trainer settings that make fit build the model and its data and train nothing (no logger, callbacks or checkpoints).
SET_UP_ONLY = (
    "--trainer.logger=false",
    "--trainer.callbacks=null",
    "--trainer.enable_checkpointing=false",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.limit_train_batches=0",
    "--trainer.limit_val_batches=0",
    "--trainer.num_sanity_val_steps=0",
    "--trainer.devices=1",
    "--trainer.num_nodes=1",
    "--trainer.strategy=auto",
)


@dataclass(frozen=True)
class AttentionWeight:
    name: str
    param: torch.nn.Parameter
    num_heads: int
    head_axis: int
    head_splits: int

    @property
    def head_width(self) -> int:
        return self.param.shape[self.head_axis] // (self.num_heads * self.head_splits)


@dataclass
class Analysis:
    """Per-head errors by weight, then by variant label; the settings that produced them."""

    errors: dict[str, dict[str, Tensor]]
    rank: int
    batches: int
    methods: tuple[str, ...]
    model: str

    @property
    def labels(self) -> list[str]:
        """Every variant label, in order (group size 2 exists only for weights with an even head count above 2)."""
        return list(dict.fromkeys(label for by in self.errors.values() for label in by))

    def _having(self, label: str) -> list[dict[str, Tensor]]:
        return [by for by in self.errors.values() if label in by]

    def below_vanilla(self, label: str) -> tuple[int, int]:
        """(heads where ``label``'s error is below vanilla GaLore's, heads in all) over the weights it covers."""
        pairs = [(by[label], by[VANILLA]) for by in self._having(label)]
        return sum(int((a < v - TIE).sum()) for a, v in pairs), sum(a.numel() for a, _ in pairs)

    def by_head(self, label: str) -> Tensor:
        """Mean error per head index over the weights that have that head."""
        rows = [by[label] for by in self._having(label)]
        width = max(r.numel() for r in rows)
        total, count = torch.zeros(width), torch.zeros(width)
        for r in rows:
            total[: r.numel()] += r
            count[: r.numel()] += 1
        return total / count

    def mean(self, label: str) -> float:
        return float(torch.cat([by[label] for by in self._having(label)]).mean())

    def worst(self, label: str) -> float:
        return float(torch.cat([by[label] for by in self._having(label)]).max())


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="galoreplus analyze", description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True, help="run config (as for fit); stackable")
    parser.add_argument("--batches", type=int, default=4, help="training batches whose mean gradient is analysed")
    parser.add_argument("--rank", type=int, help="projection rank; default: the config's optimizer rank, else 128")
    parser.add_argument("--methods", nargs="+", choices=SVD_METHODS, default=list(SVD_METHODS), help="SVD methods")
    parser.add_argument("--seed", type=int, default=0, help="seed of the optimizer's random head draw")
    parser.add_argument("--out", type=Path, default=Path("runs/analyze"), help="folder for the table, PNG and JSON")
    args, overrides = parser.parse_known_args(argv)
    if args.batches < 1:
        raise ValueError(f"--batches {args.batches} is invalid; expected a positive integer")
    return args, overrides


def build(configs: list[str], overrides: list[str]) -> tuple[Any, Any]:
    """The LightningModule (its model built from the data's tokenizer) and its DataModule, as fit has them."""
    from lightning_modules.cli import GaLorePlusCLI

    for config in configs:
        if not Path(config).is_file():
            raise FileNotFoundError(f"--config {config}: file not found")
    args = [arg for config in configs for arg in ("--config", config)] + overrides + list(SET_UP_ONLY)
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # argv holds `analyze ...`, not these
    cli = GaLorePlusCLI(args=args, run=False, save_config_callback=None)  # nothing to save: no run is kept
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)  # limit_train_batches=0: set-up (configure_model) only
    return cli.model, cli.datamodule


def attention_weights(model: torch.nn.Module) -> list[AttentionWeight]:
    """Every attention weight with its head layout, as the ``galore_plus`` preset finds them."""
    found = [
        AttentionWeight(name, param, group["num_heads"], group["head_axis"], group["head_splits"])
        for group in param_groups(model, "galore_plus")
        if group.get("num_heads")
        for name, param in zip(group["names"], group["params"], strict=True)
    ]
    if not found:
        raise ValueError(f"the model ({type(model).__name__}) has no attention weight that cross-head projection knows")
    return found


def capture_gradients(module: Any, datamodule: Any, batches: int) -> None:
    """Accumulate the gradient of the mean training loss over the first ``batches`` batches into ``.grad``."""
    module.train()
    module.zero_grad(set_to_none=True)
    seen = 0
    for batch in datamodule.train_dataloader():
        if seen == batches:
            break
        batch = module.transfer_batch_to_device(batch, module.device, 0)
        (module(batch).loss / batches).backward()
        seen += 1
    if seen < batches:
        raise ValueError(f"--batches {batches}: the training data has only {seen} batches; use --batches <= {seen}")


def run(
    configs: list[str],
    overrides: list[str],
    batches: int = 4,
    rank: int | None = None,
    methods: tuple[str, ...] = SVD_METHODS,
    seed: int = 0,
) -> Analysis:
    """Build the run's model and data, take real gradients, and compute every variant's per-head errors."""
    module, datamodule = build(configs, overrides)
    rank = rank if rank is not None else module.optimizer_config.rank or 128
    weights = attention_weights(module.model)
    narrowest = min(weights, key=lambda w: w.head_width)
    if rank <= 0 or rank > narrowest.head_width:
        raise ValueError(
            f"--rank {rank} is invalid: cross-head projection estimates its basis from one head, and heads of "
            f"{narrowest.name} are {narrowest.head_width} wide; use 1 <= --rank <= {narrowest.head_width}"
        )
    capture_gradients(module, datamodule, batches)
    errors = {
        w.name: analyze(w.param.grad, w.num_heads, w.head_axis, rank, seed, w.head_splits, methods=methods)
        for w in weights
    }
    return Analysis(errors, rank, batches, tuple(methods), type(module.model).__name__)


def galore_plus_label(side: str, methods: tuple[str, ...]) -> str:
    """The paper's GaLore+: one basis for all heads from a random head, with rsi where it was analysed."""
    return cross_head_label(side, "all", "rsi" if "rsi" in methods else methods[0])


def verdict(analysis: Analysis) -> list[str]:
    """One line per reading (GaLore+ against vanilla GaLore, head by head), then which reading fits the claim."""
    if "exact" not in analysis.methods:
        return ["Vanilla GaLore needs the exact method: add `exact` to --methods to compare the readings."]
    lines, fits = [], []
    for side in SHARED_SIDES:
        label = galore_plus_label(side, analysis.methods)
        below, heads = analysis.below_vanilla(label)
        lines.append(
            f"Reading {READINGS[side]}: `{label}` is below vanilla GaLore (`{VANILLA}`) on {below} of {heads} heads "
            f"(mean error {analysis.mean(label):.3f} vs {analysis.mean(VANILLA):.3f})."
        )
        if below == heads:
            fits.append(READINGS[side])
    claim = "below vanilla GaLore on every head"
    lines.append(
        f"Fits the paper's claim ({claim}): reading {' and '.join(fits)}."
        if fits
        else f"Neither reading fits the paper's claim ({claim}) on these gradients."
    )
    return lines


def markdown(analysis: Analysis) -> str:
    """Settings, the per-head table (mean over weights by head index) and the verdict."""
    heads = analysis.by_head(analysis.labels[0]).numel()
    header = ["variant", *(f"head {i}" for i in range(heads)), "mean", "max", "below vanilla"]
    rows = []
    for label in analysis.labels:
        per_head = analysis.by_head(label)
        below, total = analysis.below_vanilla(label) if VANILLA in analysis.labels else ("–", "–")
        cells = [f"{v:.3f}" for v in per_head.tolist()] + [""] * (heads - per_head.numel())
        rows.append([label, *cells, f"{analysis.mean(label):.3f}", f"{analysis.worst(label):.3f}", f"{below}/{total}"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    intro = (
        f"Per-head approximation error ‖G_i − Π(G_i)‖_F / ‖G_i‖_F of {len(analysis.errors)} attention weights of "
        f"{analysis.model}, gradient of the mean loss over {analysis.batches} training batches, rank {analysis.rank}; "
        "each head column is the mean over the weights that have that head; 'below vanilla' counts (weight, head) "
        f"pairs with a lower error than `{VANILLA}`. Cross-head bases come from one random head (`basis_from` "
        "random_head), drawn with the same seed for every weight, so it is the same head index in each: the head "
        "where `group all` equals `group 1`."
    )
    return "\n\n".join([intro, "\n".join(lines), *verdict(analysis)]) + "\n"


def plot(analysis: Analysis, path: Path) -> None:
    """Figure 2b: error by head index, one panel per SVD method, one line per projection."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods, labels = analysis.methods, analysis.labels
    fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 4), sharey=True, squeeze=False)
    for ax, method in zip(axes[0], methods, strict=True):
        ax.plot(analysis.by_head(f"{WHOLE}, {method}"), "k-o", lw=2, label=f"{WHOLE} (vanilla GaLore)")
        for side, style in zip(SHARED_SIDES, ("--", ":"), strict=True):
            for label in labels:
                if label.startswith(f"cross-head {side},") and label.endswith(f", {method}"):
                    name = label.removeprefix("cross-head ").removesuffix(f", {method}")
                    ax.plot(analysis.by_head(label), style, marker=".", label=name)
        ax.set_title(f"svd_method={method}, rank {analysis.rank}")
        ax.set_xlabel("head index")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("‖G_i − Π(G_i)‖_F / ‖G_i‖_F")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(analysis: Analysis, out: Path) -> dict[str, Path]:
    """``per_head_error.md``, ``.png`` and ``.json`` (every weight's errors) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"per_head_error.{kind}" for kind in ("md", "png", "json")}
    paths["md"].write_text(markdown(analysis), encoding="utf-8")
    plot(analysis, paths["png"])
    record = {
        "model": analysis.model,
        "rank": analysis.rank,
        "batches": analysis.batches,
        "errors": {
            w: {label: [round(x, 6) for x in e.tolist()] for label, e in by.items()}
            for w, by in analysis.errors.items()
        },
    }
    paths["json"].write_text(json.dumps(record, indent=1), encoding="utf-8")
    return paths


def main(argv: list[str]) -> None:
    """``galoreplus analyze``: see the module docstring."""
    args, overrides = parse_args(argv)
    analysis = run(args.config, overrides, args.batches, args.rank, tuple(args.methods), args.seed)
    paths = write(analysis, args.out)
    for line in verdict(analysis):
        print(line)
    print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
