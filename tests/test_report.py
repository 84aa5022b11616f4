"""The report on hand-made records: every variant and column, mean ± std as the records say, best marked, PNGs."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightning_modules import report
from lightning_modules.records import MANIFEST_NAME, record_path, run_dir, write_json

# variant -> per-seed (test bleu, basis seconds, peak bytes); "broken" has one failed seed.
RECORDS = {
    "exact": [(40.0, 6.0, 300e6), (44.0, 7.0, 310e6)],
    "rsi-2": [(43.0, 1.0, 290e6), (47.0, 1.5, 280e6)],
    "broken": [(30.0, 2.0, 250e6), None],
}


def make_record(log_dir: Path, bleu: float, basis: float, peak: float, steps: int = 50) -> dict:
    log_dir.mkdir(parents=True)
    curve = pd.DataFrame({"step": range(0, steps, 5), "train/loss": np.linspace(5, 1 + bleu / 100, steps // 5)})
    curve.to_csv(log_dir / "metrics.csv", index=False)
    return {
        "status": "ok",
        "key_metric": "bleu",
        "metrics": {"val/bleu": bleu - 1, "test/bleu": bleu, "test/rougeL": bleu / 100, "test/loss": 2 - bleu / 50},
        "train": {"wall_seconds": 10 + basis, "steps": steps, "step_seconds": (10 + basis) / steps},
        "memory": {"peak_bytes": peak, "optimizer_state_bytes": 4 * 2**20},
        "basis": {"seconds_total": basis, "refreshes": 5, "share": basis / (10 + basis)},
        "log_dir": str(log_dir),
    }


@pytest.fixture
def study_folder(tmp_path: Path) -> Path:
    variants = []
    for label, seeds in RECORDS.items():
        runs = {}
        for seed, values in enumerate(seeds):
            key = f"{label}-seed{seed}"
            runs[str(seed)] = key
            if values is None:
                record = {"status": "failed", "error": {"message": "error: Parser key 'svd_methd' unknown"}}
            else:
                record = make_record(run_dir(tmp_path, key) / "logs", *values)
            write_json(record_path(tmp_path, key), record)
        variants.append({"study": "svd_method", "label": label, "changes": {}, "runs": runs})
    write_json(tmp_path / MANIFEST_NAME, {"variants": variants, "seeds": [0, 1]})
    return tmp_path


def cell(markdown: str, variant: str, heading: str) -> str:
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    row = next(line for line in lines if line.startswith(f"| {variant} |"))
    return [c.strip() for c in row.strip("|").split("|")][header.index(heading)]


def mean_std(text: str) -> tuple[float, float]:
    match = re.fullmatch(r"\**([-\d.e+]+) ± ([-\d.e+]+)\**", text)
    assert match, text
    return float(match.group(1)), float(match.group(2))


def test_report_has_every_variant_and_column_with_mean_and_std_of_the_records(study_folder: Path, capsys) -> None:
    assert report.report([str(study_folder)]) == 0
    markdown = (study_folder / "results.md").read_text()
    assert capsys.readouterr().out.strip() == markdown.strip()
    headings = [
        "test/bleu",
        "val/bleu",
        "test/loss",
        "test/rougeL",
        "train time (s)",
        "step time (ms)",
        "basis time (s)",
        "basis share (%)",
        "basis refreshes",
        "peak memory (MB)",
        "optimizer state (MB)",
    ]
    for variant, seeds in RECORDS.items():
        for heading in headings:
            assert cell(markdown, variant, heading) != "—", (variant, heading)
        ok = [values for values in seeds if values is not None]
        bleu = [values[0] for values in ok]
        basis = [values[1] for values in ok]
        if len(ok) > 1:
            mean, std = mean_std(cell(markdown, variant, "test/bleu"))
            assert mean == pytest.approx(np.mean(bleu), rel=1e-3)
            assert std == pytest.approx(np.std(bleu, ddof=1), rel=2e-3)
            mean, std = mean_std(cell(markdown, variant, "basis time (s)"))
            assert mean == pytest.approx(np.mean(basis), rel=1e-3)
            assert std == pytest.approx(np.std(basis, ddof=1), rel=2e-3)
    assert cell(markdown, "broken", "runs ok") == "1/2"
    assert cell(markdown, "broken", "test/bleu") == "30"  # one seed: no spread to show
    assert "failed: broken seed 1: error: Parser key 'svd_methd' unknown" in markdown
    # best means in bold: highest quality, lowest loss, time and memory
    assert cell(markdown, "rsi-2", "test/bleu").startswith("**")
    assert cell(markdown, "rsi-2", "test/loss").startswith("**")
    assert cell(markdown, "rsi-2", "basis time (s)").startswith("**")
    assert cell(markdown, "broken", "peak memory (MB)").startswith("**")
    assert not cell(markdown, "exact", "test/bleu").startswith("**")
    assert not any(cell(markdown, v, "basis refreshes").startswith("**") for v in RECORDS)


def test_results_csv_has_one_row_per_variant_and_seed(study_folder: Path) -> None:
    report.write_report(study_folder)
    frame = pd.read_csv(study_folder / "results.csv")
    assert len(frame) == 6
    assert set(frame["variant"]) == set(RECORDS)
    assert frame.loc[(frame["variant"] == "rsi-2") & (frame["seed"] == 1), "test/bleu"].item() == 47.0
    assert frame.loc[(frame["variant"] == "broken") & (frame["seed"] == 1), "status"].item() == "failed"


def test_plots_are_non_empty_pngs(study_folder: Path) -> None:
    report.write_report(study_folder)
    names = ["quality_vs_basis_time.png", "step_time_split.png", "training_loss.png", "memory.png"]
    for name in names:
        data = (study_folder / "plots" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, name


def test_report_of_a_folder_without_a_study_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert report.report([str(tmp_path)]) == 2
    assert "is not the output folder of 'galoreplus ablate'" in capsys.readouterr().err
