"""``galoreplus ablate STUDY.yaml``: expand a study into runs, run the unfinished ones, then write the report.

Resumable: a run whose record says ``ok`` is skipped; a failed run is recorded with its error and the others go on.
The exit code is 0 when every run is done, 1 when some failed, 2 for a bad study file or command line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from lightning_modules.ablation_runner import Outcome, run_all, visible_gpus, worker_environments
from lightning_modules.ablation_study import RunSpec, Study, load_study
from lightning_modules.records import MANIFEST_NAME, is_finished, read_record, record_path, write_json

STARTUP_SECONDS = 10.0  # importing torch, lightning and transformers in a fresh process, on a laptop CPU


def build_parser() -> argparse.ArgumentParser:
    """The ``galoreplus ablate`` command line."""
    parser = argparse.ArgumentParser(prog="galoreplus ablate", description=__doc__.splitlines()[0])
    parser.add_argument("study", help="the study file (see configs/ablations/)")
    parser.add_argument("--workers", type=int, default=None, help="runs at a time (default: the study's, else 1)")
    parser.add_argument("--dry-run", action="store_true", help="print the runs with a time estimate; run nothing")
    parser.add_argument("--out", default=None, help="output folder (default: the study's 'out')")
    parser.add_argument("--no-report", action="store_true", help="skip writing results.md and the plots at the end")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``galoreplus ablate``: exits with the code of :func:`ablate`."""
    code = ablate(argv)
    if code:
        sys.exit(code)


def ablate(argv: list[str] | None = None) -> int:
    """Run (or with ``--dry-run`` list) a study; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        study = load_study(args.study, out=args.out)
        workers = args.workers if args.workers is not None else study.workers
        if args.dry_run:
            print_plan(study, workers)
            return 0
        prepare_output(study.out)
        environments = worker_environments(workers, visible_gpus() if workers > 1 else 0, _cpu_count())
    except (ValueError, FileNotFoundError) as error:
        print(f"galoreplus ablate: error: {error}", file=sys.stderr)
        return 2
    write_json(study.out / MANIFEST_NAME, study.manifest())
    failed = run_study(study, environments)
    if not args.no_report:
        from lightning_modules.report import write_report

        markdown = write_report(study.out)
        print(markdown)
    return 1 if failed else 0


def run_study(study: Study, environments: list[dict[str, str]]) -> int:
    """Run the unfinished runs and print a progress line per run and a summary; returns how many failed."""
    runs = study.runs
    todo = [run for run in runs if not is_finished(study.out, run.key)]
    skipped = len(runs) - len(todo)
    print(
        f"study {study.path}: {len(runs)} runs ({len(study.variants)} variants x {len(study.seeds)} seeds, shared "
        f"runs counted once), {skipped} already done, {len(todo)} to run with {len(environments)} worker(s); "
        f"output in {study.out}",
        flush=True,
    )
    counter = iter(range(1, len(todo) + 1))

    def progress(outcome: Outcome) -> None:
        print(f"[{next(counter)}/{len(todo)}] {progress_line(study, outcome)}", flush=True)

    started = time.monotonic()
    outcomes = run_all(todo, study.out, environments, progress)
    failed = sum(o.record.get("status") != "ok" for o in outcomes)
    print(
        f"summary: {len(outcomes) - failed} done, {failed} failed, {skipped} skipped (already done) "
        f"in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    for outcome in outcomes:
        if outcome.record.get("status") != "ok":
            labels = ", ".join(study.labels_of(outcome.spec.key))
            print(f"  failed: {labels} seed {outcome.spec.seed}: {outcome.record['error']['message']}", flush=True)
    return failed


def progress_line(study: Study, outcome: Outcome) -> str:
    """``variant(s) seed N: ok in 23 s, test/bleu 41.2`` (or the error of a failed run)."""
    record = outcome.record
    head = f"{' = '.join(study.labels_of(outcome.spec.key))} seed {outcome.spec.seed}"
    if record.get("status") != "ok":
        return f"{head}: FAILED after {outcome.elapsed:.0f} s: {record['error']['message']}"
    metric = record.get("key_metric")
    metrics = record.get("metrics", {})
    name = f"test/{metric}" if f"test/{metric}" in metrics else f"val/{metric}"
    value = metrics.get(name)
    shown = f", {name} {value:.4g}" if isinstance(value, (int, float)) else ""
    return f"{head}: ok in {outcome.elapsed:.0f} s{shown}"


def print_plan(study: Study, workers: int) -> None:
    """The runs the study expands to, whether each is done, and an estimate of its time."""
    step_seconds = _measured_step_seconds(study) or study.seconds_per_step
    total = 0.0
    print(f"study {study.path} -> {study.out}: {len(study.runs)} distinct runs, seeds {study.seeds}")
    print(f"{'run':<26} {'seed':>4}  {'status':<8} {'estimate':>9}  variants")
    for run in study.runs:
        finished = is_finished(study.out, run.key)
        estimate = estimate_seconds(run, step_seconds)
        if not finished and estimate is not None:
            total += estimate
        shown = "?" if estimate is None else f"{estimate:.0f} s"
        status = "done" if finished else "pending"
        print(f"{run.key:<26} {run.seed:>4}  {status:<8} {shown:>9}  {', '.join(study.labels_of(run.key))}")
    basis = "measured in this folder" if _measured_step_seconds(study) else "from the study's seconds_per_step"
    if step_seconds is None:
        print("estimates need trainer.max_steps and a seconds_per_step (in the study file or from finished runs)")
    else:
        print(f"estimated wall time with {workers} worker(s): {total / workers / 60:.1f} min (step time {basis})")


def estimate_seconds(run: RunSpec, step_seconds: float | None) -> float | None:
    """Process start-up plus max_steps at the given step time; None when either is unknown."""
    steps = run.resolved.get("trainer", {}).get("max_steps")
    if step_seconds is None or not isinstance(steps, int) or steps <= 0:
        return None
    return STARTUP_SECONDS + steps * step_seconds


def prepare_output(out: Path) -> None:
    """Create the output folder, or fail clearly before any run when it cannot be written."""
    blocker = next((p for p in [out, *out.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ValueError(
            f"output folder {out} cannot be created: {blocker} is a file, not a folder; choose another --out"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"output folder {out} cannot be written ({error.strerror}); choose another --out") from None


def _measured_step_seconds(study: Study) -> float | None:
    values = []
    for run in study.runs:
        record = read_record(record_path(study.out, run.key)) or {}
        value = record.get("train", {}).get("step_seconds") if record.get("status") == "ok" else None
        if isinstance(value, (int, float)) and value > 0:
            values.append(value)
    return statistics.median(values) if values else None


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
