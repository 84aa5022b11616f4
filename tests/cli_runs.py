"""The real ``galoreplus`` command in a fresh process, as a user starts it, with test-only callbacks on its config.

``tests/`` goes on ``PYTHONPATH`` so that a config can name ``probe_callbacks.<Callback>`` by class path (DDP children,
which Lightning starts by re-running the command line, inherit it).
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent
GALOREPLUS = Path(sys.executable).with_name("galoreplus")


def cli_environment() -> dict[str, str]:
    """The caller's environment with ``tests/`` importable and Python's warnings off (they are not the message)."""
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    return os.environ | {"PYTHONPATH": path, "PYTHONWARNINGS": "ignore"}


def galoreplus_command(*args: str) -> list[str]:
    return [str(GALOREPLUS), *args]


def run_galoreplus(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``galoreplus ARGS`` in a fresh process from the repository root; stdout and stderr captured as text."""
    return subprocess.run(
        galoreplus_command(*args), cwd=REPO_ROOT, env=cli_environment(), capture_output=True, text=True, timeout=timeout
    )


def add_callbacks(config: Path, *callbacks: dict[str, Any]) -> Path:
    """Append ``{"class_path": ..., "init_args": ...}`` callbacks to the trainer of a run config file, in place."""
    settings = yaml.safe_load(config.read_text())
    settings["trainer"]["callbacks"] = [*settings["trainer"].get("callbacks", []), *callbacks]
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    return config
