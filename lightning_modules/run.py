"""One ablation run in one process: parse the config like ``galoreplus fit``, fit, test, write the run's record.

``python -m lightning_modules.run --record PATH --run-dir DIR --config base.yaml ... --config overrides.yaml``

The other arguments are the fit command line (config files, dotted overrides). The run logs
with a CSVLogger into ``DIR/logs`` (the report reads its training-loss curve there). On an error it prints one line
``error: ...`` last on stderr and exits non-zero; the ablation process records that line in the failed run's record.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import yaml


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """This file's own two arguments; the rest goes to LightningCLI."""
    parser = argparse.ArgumentParser(prog="python -m lightning_modules.run", description=__doc__.splitlines()[0])
    parser.add_argument("--record", required=True, type=Path, help="where to write the run's JSON record")
    parser.add_argument("--run-dir", required=True, type=Path, help="the run's own folder (logs, checkpoints)")
    return parser.parse_known_args(argv)


def logger_args(run_dir: Path) -> list[str]:
    """A CSVLogger in ``run_dir/logs`` with a fixed version, appended after the user's arguments."""
    logger = {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": str(run_dir), "name": "logs", "version": ""},
    }
    return [
        f"--trainer.default_root_dir={run_dir}",
        f"--trainer.logger={json.dumps(logger)}",
    ]


def fit_and_test(cli_args: list[str], run_dir: Path) -> dict[str, Any]:
    """Fit then test in this process; returns the record (status ok)."""
    from lightning_modules.cli import GaLorePlusCLI

    # The DDP launcher re-runs this process's own command line, so sys.argv stays as it is; the arguments are given
    # to LightningCLI too, which would warn that both exist.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    cli = GaLorePlusCLI(args=[*cli_args, *logger_args(run_dir)], run=False)
    trainer, model, datamodule = cli.trainer, cli.model, cli.datamodule
    for checkpoint in trainer.checkpoint_callbacks:  # a base config's fixed dirpath would be shared between runs
        checkpoint.dirpath = str(run_dir / "checkpoints")
    trainer.fit(model, datamodule=datamodule)
    metrics = _numbers(trainer.callback_metrics, "val/")
    trainer.test(model, datamodule=datamodule, verbose=False)
    metrics.update(_numbers(trainer.callback_metrics, "test/"))
    record = {
        "status": "ok",
        "config": yaml.safe_load(cli.parser.dump(cli.config, skip_none=False)),
        "metrics": metrics,
        "key_metric": getattr(datamodule, "key_metric", None),
        "log_dir": trainer.logger.log_dir if trainer.logger is not None else None,
        "global_rank": trainer.global_rank,
        **measurements(trainer),
    }
    return record


def measurements(trainer: Any) -> dict[str, Any]:
    """Time, throughput, memory and basis-estimation totals from the app's callbacks (None where one is absent)."""
    from lightning_modules.callbacks import MemoryMonitor, SVDTimer, TrainingTimer

    found = {type(c): c for c in trainer.callbacks if isinstance(c, (MemoryMonitor, SVDTimer, TrainingTimer))}
    timer, svd, memory = found.get(TrainingTimer), found.get(SVDTimer), found.get(MemoryMonitor)
    steps = timer.steps if timer else trainer.global_step
    step_total = svd.step_seconds_total if svd else (timer.fit_seconds if timer else None)
    return {
        "train": {
            "wall_seconds": timer.fit_seconds if timer else None,
            "steps": steps,
            "step_seconds": step_total / steps if step_total and steps else None,
            "samples_per_second": timer.samples_per_second if timer else None,
            "tokens_per_second": timer.tokens_per_second if timer else None,
        },
        "memory": {
            "peak_bytes": memory.peak_bytes if memory else None,
            "baseline_bytes": memory.baseline_rss_bytes if memory else None,
            "param_bytes": memory.param_bytes if memory else None,
            "optimizer_state_bytes": memory.optimizer_state_bytes if memory else None,
        },
        "basis": {
            "seconds_total": svd.basis_seconds_total if svd else None,
            "refreshes": svd.basis_refreshes_total if svd else None,
            "share": svd.basis_share if svd else None,
        },
    }


def _numbers(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    """The logged values under ``prefix`` as plain floats (tensors from ``callback_metrics``)."""
    return {name: float(value) for name, value in metrics.items() if name.startswith(prefix)}


def main(argv: list[str] | None = None) -> None:
    """Run one ablation run; exit status 0 with a record written, else non-zero with ``error: ...`` on stderr."""
    args, cli_args = parse_args(sys.argv[1:] if argv is None else argv)
    from lightning_modules.cli import CONFIG_ERRORS, one_line
    from lightning_modules.records import git_state, package_versions, write_json

    try:
        record = fit_and_test(cli_args, args.run_dir)
    except CONFIG_ERRORS as error:
        sys.stderr.write(f"error: {one_line(error)}\n")
        sys.exit(2)
    except Exception as error:  # noqa: BLE001 - any failure of a run is recorded, never raised into the study
        traceback.print_exc()
        sys.stderr.write(f"error: {type(error).__name__}: {one_line(error)}\n")
        sys.exit(1)
    if record.pop("global_rank") == 0:  # under DDP every rank runs this file; rank 0 writes the record
        record.update(versions=package_versions(), git=git_state(), error=None)
        write_json(args.record, record)


if __name__ == "__main__":
    main()
