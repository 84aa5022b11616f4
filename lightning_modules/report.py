"""``galoreplus report DIR``: a study's records become ``results.csv``, ``results.md`` and PNG plots.

``results.csv`` has one row per (variant, seed). ``results.md`` has one table per study, one row per variant, each cell
the mean ± sample standard deviation over seeds, the best mean of each column in bold, and quality, time, memory and
SVD-time columns side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from lightning_modules.records import MANIFEST_NAME, read_record, record_path

# (column, heading, lower is better); quality columns come first and are added per study from the records.
COST_COLUMNS = [
    ("train_seconds", "train time (s)", True),
    ("step_ms", "step time (ms)", True),
    ("basis_seconds", "basis time (s)", True),
    ("basis_share_pct", "basis share (%)", True),
    ("basis_refreshes", "basis refreshes", None),
    ("peak_memory_mb", "peak memory (MB)", True),
    ("optimizer_state_mb", "optimizer state (MB)", True),
]
MB = 2**20


def load_results(out: Path) -> pd.DataFrame:
    """One row per (study, variant, seed) from the manifest and the run records, with flat numeric columns."""
    manifest_path = out / MANIFEST_NAME
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found; {out} is not the output folder of 'galoreplus ablate'")
    manifest = json.loads(manifest_path.read_text())
    rows = []
    for variant in manifest["variants"]:
        for seed, key in variant["runs"].items():
            record = read_record(record_path(out, key)) or {"status": "missing"}
            rows.append(
                {
                    "study": variant["study"],
                    "variant": variant["label"],
                    "seed": int(seed),
                    "key": key,
                    **flatten_record(record),
                }
            )
    return pd.DataFrame(rows)


def flatten_record(record: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one record under the report's column names (NaN where the run did not report them)."""
    train, memory, basis = record.get("train", {}), record.get("memory", {}), record.get("basis", {})
    error = record.get("error") or {}
    row = {
        "status": record.get("status", "missing"),
        "key_metric": record.get("key_metric"),
        "train_seconds": train.get("wall_seconds"),
        "steps": train.get("steps"),
        "step_ms": _scaled(train.get("step_seconds"), 1000),
        "samples_per_second": train.get("samples_per_second"),
        "tokens_per_second": train.get("tokens_per_second"),
        "basis_seconds": basis.get("seconds_total"),
        "basis_refreshes": basis.get("refreshes"),
        "basis_share_pct": _scaled(basis.get("share"), 100),
        "basis_ms_per_step": _scaled(_ratio(basis.get("seconds_total"), train.get("steps")), 1000),
        "peak_memory_mb": _scaled(memory.get("peak_bytes"), 1 / MB),
        "optimizer_state_mb": _scaled(memory.get("optimizer_state_bytes"), 1 / MB),
        "elapsed_seconds": record.get("elapsed_seconds"),
        "log_dir": record.get("log_dir"),
        "error": error.get("message"),
    }
    row.update({name: value for name, value in record.get("metrics", {}).items() if isinstance(value, (int, float))})
    return row


def quality_columns(frame: pd.DataFrame) -> list[str]:
    """The key metric (test, then val) first, then every other test metric, in a stable order."""
    keys = frame["key_metric"].dropna()
    key = keys.iloc[0] if len(keys) else None
    tests = sorted(c for c in frame.columns if c.startswith("test/") and frame[c].notna().any())
    first = [c for c in (f"test/{key}", f"val/{key}") if c in frame.columns and frame[c].notna().any()]
    return first + [c for c in tests if c not in first]


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per variant (file order): runs ok out of all, and mean and std over the ok seeds of every column."""
    quality = quality_columns(frame)
    columns = quality + [c for c, _, _ in COST_COLUMNS]
    ok = frame[frame["status"] == "ok"]
    order = list(dict.fromkeys(frame["variant"]))
    rows = []
    for variant in order:
        runs = ok[ok["variant"] == variant]
        row: dict[str, Any] = {"variant": variant, "runs": f"{len(runs)}/{int((frame['variant'] == variant).sum())}"}
        for column in columns:
            values = runs[column].dropna().astype(float) if column in runs else pd.Series(dtype=float)
            row[f"{column} mean"] = values.mean() if len(values) else math.nan
            row[f"{column} std"] = values.std(ddof=1) if len(values) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(frame: pd.DataFrame) -> str:
    """One study's table: a row per variant, ``mean ± std`` cells, the best mean per column in bold."""
    quality = quality_columns(frame)
    columns = [(c, c, _lower_is_better(c)) for c in quality] + [c for c in COST_COLUMNS if c[0] in frame]
    table = summary_table(frame)
    header = ["variant", "runs ok"] + [heading for _, heading, _ in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    best = {}
    for column, _, lower in columns:
        means = table[f"{column} mean"].dropna()
        if lower is not None and len(means) > 1 and means.nunique() > 1:
            best[column] = means.min() if lower else means.max()
    for _, row in table.iterrows():
        cells = [row["variant"], row["runs"]]
        for column, _, _ in columns:
            mean, std = row[f"{column} mean"], row[f"{column} std"]
            cell = format_cell(mean, std)
            if column in best and mean == best[column]:
                cell = f"**{cell}**"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_cell(mean: float, std: float) -> str:
    """``mean ± std`` to four and three significant digits; ``—`` where no run reported the value."""
    if math.isnan(mean):
        return "—"
    if math.isnan(std):
        return f"{mean:.4g}"
    return f"{mean:.4g} ± {std:.3g}"


def write_report(out: Path) -> str:
    """Write results.csv, results.md and the plots into ``out``; returns the markdown."""
    from lightning_modules.ablation_plots import write_plots

    out = Path(out)
    frame = load_results(out)
    frame.to_csv(out / "results.csv", index=False)
    parts = [f"# Ablation results: {out}", "", "Cells are mean ± sample std over seeds; bold marks the best mean."]
    for study, rows in frame.groupby("study", sort=False):
        parts += ["", f"## {study}", "", markdown_table(rows)]
        failures = rows[rows["status"] == "failed"]
        for _, failure in failures.iterrows():
            parts.append(f"\nfailed: {failure['variant']} seed {failure['seed']}: {failure['error']}")
    plots = write_plots(frame, out / "plots")
    parts += ["", "Plots: " + ", ".join(str(p.relative_to(out)) for p in plots)]
    markdown = "\n".join(parts) + "\n"
    (out / "results.md").write_text(markdown)
    return markdown


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``galoreplus report DIR``: exits with the code of :func:`report`."""
    code = report(argv)
    if code:
        sys.exit(code)


def report(argv: list[str] | None = None) -> int:
    """Write and print the report of a study folder; returns the exit code."""
    parser = argparse.ArgumentParser(prog="galoreplus report", description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="the output folder of a 'galoreplus ablate' study")
    args = parser.parse_args(argv)
    try:
        print(write_report(Path(args.dir)))
    except (FileNotFoundError, ValueError) as error:
        print(f"galoreplus report: error: {error}", file=sys.stderr)
        return 2
    return 0


def _lower_is_better(column: str) -> bool:
    name = column.rpartition("/")[2]
    return name == "ter" or "loss" in name or "perplexity" in name


def _scaled(value: Any, factor: float) -> float | None:
    return value * factor if isinstance(value, (int, float)) else None


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if isinstance(numerator, (int, float)) and isinstance(denominator, (int, float)) and denominator:
        return numerator / denominator
    return None
