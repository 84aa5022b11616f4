"""Start each ablation run as its own process, N at a time, each with its own GPU(s) or share of the CPU threads.

One process per run, never a loop over runs in one process: under DDP the launcher re-runs the command line, and a
fresh process is the only clean slate for memory peaks and timers. The scheduler runs in the main thread (no thread
pool), so children can be tied to the parent's life and die with it.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lightning_modules.ablation_study import RunSpec
from lightning_modules.records import failed_record, read_record, record_path, run_dir, write_json

STDERR_TAIL_LINES = 30
POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Outcome:
    """What came of one run: its record (ok or failed) and the process wall time."""

    spec: RunSpec
    record: dict
    elapsed: float


def worker_environments(workers: int, gpus: int, cpus: int) -> list[dict[str, str]]:
    """Per-worker environment: its own ``CUDA_VISIBLE_DEVICES`` on GPUs, else its share of the CPU threads."""
    if workers < 1:
        raise ValueError(f"--workers {workers} is invalid; expected a positive integer")
    if gpus:
        if workers > gpus:
            raise ValueError(f"--workers {workers} needs a GPU each but {gpus} are visible; use --workers {gpus}")
        per_worker = gpus // workers
        return [
            {"CUDA_VISIBLE_DEVICES": ",".join(str(w * per_worker + d) for d in range(per_worker))}
            for w in range(workers)
        ]
    threads = str(max(1, cpus // workers))
    return [{"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads} for _ in range(workers)]


def visible_gpus() -> int:
    """GPUs this process may use (0 without CUDA); only asked when several workers share a machine."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_all(
    specs: list[RunSpec], out: Path, environments: list[dict[str, str]], on_finish: Callable[[Outcome], None]
) -> list[Outcome]:
    """Run every spec, ``len(environments)`` at a time; a failed run is recorded and the others go on."""
    pending = list(specs)
    active: dict[int, tuple[subprocess.Popen, RunSpec, float]] = {}
    outcomes = []
    try:
        while pending or active:
            for slot, env in enumerate(environments):
                if slot not in active and pending:
                    spec = pending.pop(0)
                    active[slot] = (_start(spec, out, env), spec, time.monotonic())
            for slot in list(active):
                process, spec, started = active[slot]
                if process.poll() is None:
                    continue
                del active[slot]
                outcome = _collect(spec, out, process.returncode, time.monotonic() - started)
                outcomes.append(outcome)
                on_finish(outcome)
            time.sleep(POLL_SECONDS)
    finally:
        for process, _, _ in active.values():
            process.terminate()
    return outcomes


def _start(spec: RunSpec, out: Path, env: dict[str, str]) -> subprocess.Popen:
    folder = run_dir(out, spec.key)
    shutil.rmtree(folder, ignore_errors=True)  # a half-finished earlier attempt: start clean
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", "lightning_modules.run", f"--record={record_path(out, spec.key)}"]
    overrides = folder / "overrides.yaml"
    overrides.write_text(spec.overrides_yaml())
    command += [f"--run-dir={folder}", *spec.cli_args(overrides)]
    (folder / "command.txt").write_text(" ".join(command) + "\n")
    with open(folder / "stdout.log", "w") as stdout, open(folder / "stderr.log", "w") as stderr:
        return subprocess.Popen(
            command, stdout=stdout, stderr=stderr, env={**os.environ, **env}, preexec_fn=_die_with_parent
        )


def _collect(spec: RunSpec, out: Path, returncode: int, elapsed: float) -> Outcome:
    path = record_path(out, spec.key)
    record = read_record(path)
    if returncode == 0 and record is not None and record.get("status") == "ok":
        record.update(key=spec.key, seed=spec.seed, elapsed_seconds=elapsed)
        write_json(path, record)
        return Outcome(spec, record, elapsed)
    tail = _tail(run_dir(out, spec.key) / "stderr.log")
    message = error_message(tail, returncode)
    record = failed_record(spec.key, spec.seed, message, tail, elapsed)
    write_json(path, record)
    return Outcome(spec, record, elapsed)


def error_message(stderr_tail: str, returncode: int) -> str:
    """The one line of a failed run's stderr that says what went wrong (the last error line), else its exit code."""
    lines = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.search(r"(^error:|Error\b|error:)", line):
            return line
    if returncode < 0:
        return f"the run was killed by signal {signal.Signals(-returncode).name}"
    return f"the run exited with code {returncode}" + (f": {lines[-1]}" if lines else " and printed nothing")


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-STDERR_TAIL_LINES:])


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the ablation process dies, so no orphan keeps writing into the study."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
