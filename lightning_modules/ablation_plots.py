"""The report's PNG plots, one subplot per study: quality vs basis time, step-time split, loss curves, memory."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI machines or GPU nodes
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

LOSS_COLUMNS = ("train/loss_step", "train/loss", "train_loss_step", "train_loss", "loss")


def write_plots(frame: pd.DataFrame, folder: Path) -> list[Path]:
    """Write the four plots for the ok runs in ``frame`` (the report's per-seed table); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    ok = frame[frame["status"] == "ok"]
    studies = list(dict.fromkeys(frame["study"]))
    plots = [
        ("quality_vs_basis_time.png", _quality_vs_basis_time),
        ("step_time_split.png", _step_time_split),
        ("training_loss.png", _training_loss),
        ("memory.png", _memory),
    ]
    paths = []
    for name, draw in plots:
        figure, axes = plt.subplots(1, len(studies), figsize=(6.5 * len(studies), 4.8), squeeze=False)
        for axis, study in zip(axes[0], studies, strict=True):
            draw(axis, ok[ok["study"] == study])
            axis.set_title(f"{axis.get_title()}\nstudy: {study}")
        figure.tight_layout()
        path = folder / name
        figure.savefig(path, dpi=110)
        plt.close(figure)
        paths.append(path)
    return paths


def _by_variant(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean and std of ``column`` per variant, in the table's order."""
    grouped = rows.groupby("variant", sort=False)[column] if column in rows else None
    if grouped is None:
        return pd.DataFrame(columns=["mean", "std"])
    return pd.DataFrame({"mean": grouped.mean(), "std": grouped.std(ddof=1).fillna(0.0)})


def _quality_vs_basis_time(axis: plt.Axes, rows: pd.DataFrame) -> None:
    keys = rows["key_metric"].dropna()
    metric = f"test/{keys.iloc[0]}" if len(keys) else None
    if metric not in rows:
        metric = f"val/{keys.iloc[0]}" if len(keys) else None
    axis.set_title(f"{metric or 'quality'} vs basis-estimation time")
    axis.set_xlabel("basis-estimation time per run (s)")
    axis.set_ylabel(metric or "key metric")
    if metric not in rows:
        return
    quality, basis = _by_variant(rows, metric), _by_variant(rows, "basis_seconds")
    for variant in quality.index:
        axis.errorbar(
            basis.loc[variant, "mean"],
            quality.loc[variant, "mean"],
            xerr=basis.loc[variant, "std"],
            yerr=quality.loc[variant, "std"],
            fmt="o",
            capsize=4,
            label=variant,
        )
    axis.legend(title="variant", fontsize="small")
    axis.grid(alpha=0.3)


def _step_time_split(axis: plt.Axes, rows: pd.DataFrame) -> None:
    step, basis = _by_variant(rows, "step_ms"), _by_variant(rows, "basis_ms_per_step")
    variants = list(step.index)
    basis_ms = [basis.loc[v, "mean"] if v in basis.index else 0.0 for v in variants]
    rest_ms = [max(0.0, step.loc[v, "mean"] - b) for v, b in zip(variants, basis_ms, strict=True)]
    axis.bar(variants, basis_ms, label="basis estimation (SVD / rsi)", color="tab:red")
    axis.bar(variants, rest_ms, bottom=basis_ms, label="rest of the step", color="tab:blue")
    axis.set_title("training step time split")
    axis.set_xlabel("variant")
    axis.set_ylabel("time per optimizer step (ms)")
    axis.tick_params(axis="x", rotation=30)
    _legend_above_bars(axis)


def _training_loss(axis: plt.Axes, rows: pd.DataFrame) -> None:
    axis.set_title("training loss (mean over seeds)")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("training loss (nats per token)")
    for variant, runs in rows.groupby("variant", sort=False):
        curves = [curve for curve in (_loss_curve(d) for d in runs["log_dir"].dropna()) if curve is not None]
        if curves:
            mean = pd.concat(curves).groupby(level=0).mean()
            axis.plot(mean.index, mean.values, label=variant)
    if axis.lines:
        axis.legend(title="variant", fontsize="small")
    axis.grid(alpha=0.3)


def _loss_curve(log_dir: str) -> pd.Series | None:
    """The logged training loss by step from a run's CSV log (``metrics.csv``), or None if there is none."""
    path = Path(log_dir) / "metrics.csv"
    if not path.is_file():
        return None
    metrics = pd.read_csv(path)
    column = next((c for c in LOSS_COLUMNS if c in metrics), None)
    if column is None or "step" not in metrics:
        return None
    curve = metrics[["step", column]].dropna()
    return curve.groupby("step")[column].mean()


def _memory(axis: plt.Axes, rows: pd.DataFrame) -> None:
    peak, state = _by_variant(rows, "peak_memory_mb"), _by_variant(rows, "optimizer_state_mb")
    variants = list(peak.index)
    positions = range(len(variants))
    width = 0.4
    axis.bar(
        [p - width / 2 for p in positions],
        peak["mean"],
        width,
        yerr=peak["std"],
        capsize=3,
        label="peak memory (rise over the post-setup baseline on CPU)",
    )
    axis.bar([p + width / 2 for p in positions], state.reindex(variants)["mean"], width, label="optimizer state")
    axis.set_xticks(list(positions), variants, rotation=30)
    axis.set_title("memory per variant")
    axis.set_xlabel("variant")
    axis.set_ylabel("memory (MB)")
    _legend_above_bars(axis)


def _legend_above_bars(axis: plt.Axes) -> None:
    """Head-room above the tallest bar, so the legend never hides one."""
    axis.set_ylim(top=axis.get_ylim()[1] * 1.3)
    axis.legend(fontsize="small", loc="upper right")
