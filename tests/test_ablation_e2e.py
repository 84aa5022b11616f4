"""Real studies on a tiny embedded translation task: each run its own process, failures alone, resume, report."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from lightning_modules import ablation
from lightning_modules.records import MANIFEST_NAME, read_record, record_path

REPO_ROOT = Path(__file__).resolve().parents[1]
OPT = "model.init_args.optimizer"
TINY = {
    "model": {
        "class_path": "lightning_modules.Seq2SeqModule",
        "init_args": {
            "model_config": {
                "model_type": "bart",
                "d_model": 64,
                "encoder_layers": 1,
                "decoder_layers": 1,
                "encoder_attention_heads": 2,
                "decoder_attention_heads": 2,
                "encoder_ffn_dim": 64,
                "decoder_ffn_dim": 64,
                "max_position_embeddings": 64,
            },
            "max_new_tokens": 8,
            "optimizer": {"name": "galore_plus", "rank": 8, "update_proj_gap": 2},
        },
    },
    "data": {
        "init_args": {
            "limit_train_samples": 64,
            "limit_val_samples": 8,
            "limit_test_samples": 8,
            "batch_size": 8,
            "vocab_size": 300,
        }
    },
    "trainer": {
        "accelerator": "cpu",
        "max_steps": 4,
        "val_check_interval": 4,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "callbacks": [
            {"class_path": f"lightning_modules.callbacks.{name}"}
            for name in ("SVDTimer", "MemoryMonitor", "TrainingTimer")
        ],
    },
}


def tiny_study(folder: Path, variants: list[dict], seeds: list[int]) -> Path:
    (folder / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    data = REPO_ROOT / "configs" / "data" / "translation_embedded.yaml"
    study = {"out": str(folder / "out"), "seeds": seeds, "base": [str(data), "tiny.yaml"], "variants": variants}
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


@pytest.fixture(autouse=True)
def tokenizer_cache(tmp_path_factory, monkeypatch) -> None:
    """Trained tokenizers go to a temporary cache, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


def test_study_runs_end_to_end_and_a_bad_key_fails_alone(tmp_path: Path, capsys) -> None:
    variants = [
        {"label": "rsi"},
        {"label": "exact", f"{OPT}.svd_method": "exact"},
        {"label": "typo", f"{OPT}.svd_methd": "exact"},
    ]
    study = tiny_study(tmp_path, variants, seeds=[0, 1])
    assert ablation.ablate([str(study), "--workers", "2"]) == 1
    out = capsys.readouterr().out
    assert "summary: 4 done, 2 failed, 0 skipped" in out
    assert out.count("typo seed") >= 2 and "svd_methd" in out
    assert "study/rsi seed 0: ok in" in out and "study/exact seed 1: ok in" in out and ", test/bleu " in out

    manifest = json.loads((tmp_path / "out" / MANIFEST_NAME).read_text())
    records = {
        (v["label"], int(seed)): read_record(record_path(tmp_path / "out", key))
        for v in manifest["variants"]
        for seed, key in v["runs"].items()
    }
    for (label, seed), record in records.items():
        if label == "typo":
            assert record["status"] == "failed"
            assert "svd_methd" in record["error"]["message"] and "svd_methd" in record["error"]["stderr_tail"]
            continue
        assert record["status"] == "ok", record.get("error")
        assert record["seed"] == seed and record["train"]["steps"] == 4
        assert {"val/bleu", "test/bleu", "test/loss"} <= set(record["metrics"]) and record["key_metric"] == "bleu"
        assert record["basis"]["refreshes"] > 0 and record["basis"]["seconds_total"] > 0
        assert record["memory"]["optimizer_state_bytes"] > 0 and record["train"]["samples_per_second"] > 0
        assert record["config"]["model"]["init_args"]["optimizer"]["svd_method"] == (
            "exact" if label == "exact" else None
        )
        assert record["config"]["seed_everything"] == seed and record["versions"]["torch"]
        assert "commit" in record["git"] and Path(record["log_dir"], "metrics.csv").is_file()

    markdown = (tmp_path / "out" / "results.md").read_text()
    for label in ("rsi", "exact"):
        bleu = [records[(label, seed)]["metrics"]["test/bleu"] for seed in (0, 1)]
        row = next(line for line in markdown.splitlines() if line.startswith(f"| {label} |"))
        cells = [cell.strip("* ") for cell in row.split("|")[1:-1]]
        assert cells[1] == "2/2"
        mean, std = (float(x) for x in cells[2].split(" ± "))  # test/bleu, the key metric, comes first
        assert mean == pytest.approx(np.mean(bleu), rel=1e-3, abs=1e-3)
        assert std == pytest.approx(np.std(bleu, ddof=1), rel=2e-3, abs=1e-3)
    assert "| typo | 0/2 |" in markdown
    for png in (tmp_path / "out" / "plots").glob("*.png"):
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
    assert len(list((tmp_path / "out" / "plots").glob("*.png"))) == 4


@pytest.mark.slow
def test_study_killed_after_its_first_run_resumes_and_skips_it(tmp_path: Path) -> None:
    study = tiny_study(tmp_path, [{"label": "rsi"}, {"label": "exact", f"{OPT}.svd_method": "exact"}], seeds=[0])
    command = [sys.executable, "-m", "lightning_modules", "ablate", str(study), "--workers", "1", "--no-report"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    runs = tmp_path / "out" / "runs"
    deadline = time.monotonic() + 300
    finished = []
    while not finished and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
        finished = [p for p in runs.glob("*/record.json") if (read_record(p) or {}).get("status") == "ok"]
    assert finished, "the first run did not finish"
    os.kill(process.pid, signal.SIGKILL)  # the ablation process dies; its running child dies with it
    process.wait()
    first = finished[0].read_text()
    time.sleep(2)
    assert sum(1 for p in runs.glob("*/record.json")) == 1  # the killed second run left no record

    resumed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "1 already done, 1 to run" in resumed.stdout
    assert "summary: 1 done, 0 failed, 1 skipped" in resumed.stdout
    assert finished[0].read_text() == first  # the finished run was not run again
