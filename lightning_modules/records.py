"""One JSON record per ablation run: where it lives, how it is written (atomically) and read, and what it holds.

A record is a plain dict::

    status            "ok" | "failed"
    key, seed         the run's config hash and seed
    config            the resolved config (LightningCLI's own dump)
    metrics           final {"val/<name>": float, "test/<name>": float}; key_metric: the task's ranking metric
    train             wall_seconds, steps, step_seconds, samples_per_second, tokens_per_second
    memory            peak_bytes, baseline_bytes, param_bytes, optimizer_state_bytes
    basis             seconds_total, refreshes, share (of step time)
    versions, git     package versions; commit and dirty status of the checkout
    log_dir           the run's CSV log folder (training-loss curves)
    elapsed_seconds   wall time of the whole process (start-up included)
    error             null, or {"message": one clear line, "stderr_tail": last lines of stderr}
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

RECORD_NAME = "record.json"
MANIFEST_NAME = "study.json"
RUNS_FOLDER = "runs"
PACKAGES = ("torch", "lightning", "transformers", "galoreplus")


def run_dir(out: Path, key: str) -> Path:
    """The folder of run ``key`` inside a study's output folder."""
    return out / RUNS_FOLDER / key


def record_path(out: Path, key: str) -> Path:
    """Where run ``key``'s record lives."""
    return run_dir(out, key) / RECORD_NAME


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON through a temp file and ``os.replace``, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=2, sort_keys=True, default=str)
            stream.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_record(path: Path) -> dict[str, Any] | None:
    """The record at ``path``, or None where there is none or it cannot be read (such a run runs again)."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def is_finished(out: Path, key: str) -> bool:
    """True when run ``key`` has a record with status ok: a resumed study skips it."""
    record = read_record(record_path(out, key))
    return record is not None and record.get("status") == "ok"


def failed_record(key: str, seed: int, message: str, stderr_tail: str, elapsed: float) -> dict[str, Any]:
    """The record of a run whose process failed: one clear message plus the end of its stderr."""
    return {
        "status": "failed",
        "key": key,
        "seed": seed,
        "elapsed_seconds": elapsed,
        "error": {"message": message, "stderr_tail": stderr_tail},
        "versions": package_versions(),
        "git": git_state(),
    }


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide a run's numbers."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(root: Path | None = None) -> dict[str, Any]:
    """Commit hash and whether the checkout has uncommitted changes; None values outside a git checkout."""
    root = root or Path(__file__).resolve().parents[1]
    try:
        commit = _git(root, "rev-parse", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
