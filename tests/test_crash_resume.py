"""``galoreplus fit`` killed with SIGKILL in the middle of an epoch and resumed with ``--ckpt_path last`` ends with
the weights and optimizer state of a run that was never interrupted, bit for bit, and leaves no torn checkpoint.

(An ablation study killed mid-run and resumed is covered by tests/test_ablation_e2e.py.)
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cli_runs import REPO_ROOT, cli_environment, galoreplus_command, run_galoreplus  # noqa: E402
from lightning_helpers import run_config  # noqa: E402

pytestmark = pytest.mark.slow

# BERT's dropout (0.1) is on, the train loader shuffles, deterministic algorithms are on. 64 samples in batches of 4
# make a 16-step epoch. Checkpoints every 2 steps; the kill comes at step 6 (mid-epoch, before its checkpoint), so
# the resume starts at step 4 and crosses the basis refresh at step 8, the end of the residual's warm-up at step 10,
# the epoch's end (with validation) at step 16 and the refresh there.
STEPS = 20
KILL_AT = 6
RESUME_FROM = 4
RUN = {
    "optimizer": {"update_proj_gap": 8, "residual_density": 0.05, "residual_warmup_steps": 10},
    "trainer": {"max_steps": STEPS, "deterministic": True},
    "data": {"limit_train_samples": 64},
    "checkpoint_every": 2,
}


def fit_uninterrupted(root: Path) -> dict:
    config = run_config("classification", root, **RUN)
    result = run_galoreplus("fit", "--config", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)


def fit_killed_at(root: Path, step: int) -> None:
    """Start the fit, wait until the pause callback says it reached ``step``, then SIGKILL it."""
    config = run_config("classification", root, **RUN)
    marker = root / "paused"
    pause = {"class_path": "probe_callbacks.PauseAt", "init_args": {"at_step": step, "marker": str(marker)}}
    command = galoreplus_command("fit", "--config", str(config), f"--trainer.callbacks+={json.dumps(pause)}")
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=cli_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), f"the run never reached step {step}: {process.poll()=}"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL


WALL_CLOCK_STATS = ("basis_seconds", "basis_seconds_total")  # measured time: differs between any two runs


def assert_equal_states(first: dict, second: dict, where: str) -> None:
    if where.rpartition(".")[2] in WALL_CLOCK_STATS:
        return
    if isinstance(first, torch.Tensor):
        assert torch.equal(first, second), where
    elif isinstance(first, dict):
        assert first.keys() == second.keys(), where
        for key in first:
            assert_equal_states(first[key], second[key], f"{where}.{key}")
    elif isinstance(first, (list, tuple)):
        assert len(first) == len(second), where
        for index, (a, b) in enumerate(zip(first, second, strict=True)):
            assert_equal_states(a, b, f"{where}[{index}]")
    else:
        assert first == second, where


def test_a_killed_fit_resumes_to_the_uninterrupted_result_bit_for_bit(tmp_path):
    straight = fit_uninterrupted(tmp_path / "straight")

    crashed = tmp_path / "crashed"
    fit_killed_at(crashed, KILL_AT)
    checkpoints = sorted((crashed / "checkpoints").glob("*.ckpt"))
    assert {path.name for path in checkpoints} >= {"last.ckpt"}
    for path in checkpoints:  # nothing half-written: every checkpoint the kill left behind loads safely
        torch.load(path, weights_only=True)
    assert torch.load(crashed / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == RESUME_FROM

    config = crashed / "classification.yaml"
    resumed = run_galoreplus("fit", "--config", str(config), "--ckpt_path", "last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = torch.load(crashed / "checkpoints" / "last.ckpt", weights_only=True)
    assert final["global_step"] == straight["global_step"] == STEPS
    assert_equal_states(final["state_dict"], straight["state_dict"], "state_dict")
    assert_equal_states(final["optimizer_states"], straight["optimizer_states"], "optimizer_states")
    for path in (crashed / "checkpoints").iterdir():
        assert path.suffix == ".ckpt", f"a temporary file was left behind: {path.name}"
        torch.load(path, weights_only=True)
