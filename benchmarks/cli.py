"""The command line of ``python -m benchmarks``: which sections run, how many rounds, where the report goes."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from benchmarks import basis_cost, figure_2b, fit_throughput, state_memory, step_time
from benchmarks.report import render

SECTIONS = ("basis", "steps", "memory", "fit", "analyze")


def threads_note(requested: int) -> str:
    """Set torch's threads and say why: threaded LAPACK on a core another job holds waits for it at every barrier.

    Measured on this 2-core machine with a load average of 4: a GaLore+ refresh of the small LLaMA took 9–19 s with
    2 threads and 0.3 s with 1 (hundreds of small QR/SVD calls, each waking a descheduled thread)."""
    default = torch.get_num_threads()
    if requested > 0:
        torch.set_num_threads(requested)
        return f"{requested} torch threads (--threads)"
    busy = round(os.getloadavg()[0])
    threads = max(1, min(default, (os.cpu_count() or 1) - busy))
    torch.set_num_threads(threads)
    if threads == default:
        return f"{threads} torch threads (torch's default; load average {os.getloadavg()[0]:.1f} at the start)"
    return (
        f"{threads} torch thread(s) instead of torch's default {default}: load average {os.getloadavg()[0]:.1f} at "
        "the start, so other jobs held the cores (threaded LAPACK then waits on descheduled threads)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--full", action="store_true", help="add d=4096 and the LLaMA-7B MLP shape (GPU-sized)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("REPORT.md"), help="report path")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per measurement (after one warm-up)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads; 0 (default): torch's default, or fewer when other jobs already load the cores",
    )
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats} is invalid; expected an integer >= 1")

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.0f} s] {message}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    threads = threads_note(args.threads)
    log(threads)
    sections = []
    if "basis" in args.sections:
        log("1. basis estimation per refresh")
        sections.append(basis_cost.run(args.full, (32, 64, 128), args.repeats, log))
    if "steps" in args.sections:
        log("2. optimizer step time")
        sections.append(step_time.run(args.repeats, max(2, args.repeats // 2), log))
    if "memory" in args.sections:
        log("3. optimizer-state memory")
        sections.append(state_memory.run(log))
    if "fit" in args.sections:
        log("4. end-to-end fit throughput (Figure 2a)")
        sections.append(fit_throughput.run(max(2, args.repeats - 1), args.out.parent, log))
    if "analyze" in args.sections:
        log("5. per-head approximation error (Figure 2b)")
        sections.append(figure_2b.run(args.out.parent, log))
    command = "python -m benchmarks" + (" --full" if args.full else "")
    if set(args.sections) != set(SECTIONS):
        command += " --sections " + " ".join(args.sections)
    report = render(sections, command=command, wall_seconds=time.perf_counter() - start, threads=threads)
    args.out.write_text(report, encoding="utf-8")
    log(f"wrote {args.out}")
    return 0
