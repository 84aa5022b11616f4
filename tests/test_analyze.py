"""``galoreplus analyze``: per-head errors of real gradients of a tiny run, its table and figure, and its input checks.

The error metric itself is checked against numpy in tests/test_benchmarks.py; here the command's wiring is checked
with properties that hold exactly: at a rank equal to the head width, a basis on the head side (or one per head)
spans every head block, so those errors are 0, while a rank-8 SVD of a 32x32 whole gradient is not exact.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from lightning_helpers import run_config  # noqa: E402

from lightning_modules.cli import main  # noqa: E402

HEAD_WIDTH = 8  # the tiny T5 of lightning_helpers: d_model 32, 4 heads of d_kv 8


def test_analyze_writes_table_and_figure_with_exact_cases(tmp_path, capsys):
    config = run_config("seq2seq", tmp_path)
    out = tmp_path / "analysis"
    argv = ["analyze", "--config", str(config), "--rank", str(HEAD_WIDTH), "--batches", "2", "--out", str(out)]
    main([*argv, "--methods", "exact", "rsi"])

    record = json.loads((out / "per_head_error.json").read_text())
    assert record["rank"] == HEAD_WIDTH and record["batches"] == 2
    errors = record["errors"]
    assert len(errors) == 2 * 4 + 2 * 8  # 2 layers: encoder self-attention, decoder self- and cross-: q, k, v, o
    for name, by_label in errors.items():
        assert len(by_label) == 2 * (1 + 2 * 3), name  # per method: whole matrix + 2 sides x group sizes 1, 2, all
        for label, heads in by_label.items():
            assert len(heads) == 4 and all(0.0 <= e <= 1.0 + 1e-6 for e in heads), (name, label)
        for size in (1, 2, "all"):
            assert max(by_label[f"cross-head head_dim, group {size}, exact"]) < 1e-4, name
        assert max(by_label["cross-head model_dim, group 1, exact"]) < 1e-4, name  # a head block has rank <= 8
        assert max(by_label["whole matrix, exact"]) > 1e-3, name
    table = (out / "per_head_error.md").read_text()
    assert "| whole matrix, exact |" in table and "| head 3 |" in table
    assert (out / "per_head_error.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "Fits the paper's claim" in printed and "reading B" in printed


def test_analyze_rejects_a_rank_wider_than_a_head(tmp_path, capsys):
    config = run_config("seq2seq", tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", "--config", str(config), "--rank", str(HEAD_WIDTH + 1), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.startswith("error: --rank 9 is invalid") and f"--rank <= {HEAD_WIDTH}" in message
