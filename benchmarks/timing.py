"""Repeated, interleaved wall-clock timing: the machine is shared and noisy, so every figure is a median of repeats
and every comparison is a ratio of measurements taken in the same round (each round runs every candidate once)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Samples of one quantity (seconds, or a unitless ratio); reported as median with the min–max spread."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def __truediv__(self, other: Timing) -> Timing:
        """Per-round ratio when both were measured in the same rounds; a single sample divides every sample."""
        if len(self.samples) == len(other.samples):
            return Timing(tuple(a / b for a, b in zip(self.samples, other.samples, strict=True)))
        if len(other.samples) == 1:
            return Timing(tuple(a / other.samples[0] for a in self.samples))
        if len(self.samples) == 1:
            return Timing(tuple(self.samples[0] / b for b in other.samples))
        raise ValueError(f"cannot pair {len(self.samples)} samples with {len(other.samples)}")

    def map(self, fn: Callable[[float], float]) -> Timing:
        return Timing(tuple(fn(s) for s in self.samples))


def combine(fn: Callable[..., float], *timings: Timing) -> Timing:
    """Round-by-round ``fn`` of timings measured in the same rounds (a single-sample timing is broadcast)."""
    rounds = max(len(t.samples) for t in timings)
    if any(len(t.samples) not in (1, rounds) for t in timings):
        raise ValueError(f"cannot combine timings of {[len(t.samples) for t in timings]} samples round by round")
    pick = [(lambda i, t=t: t.samples[i if len(t.samples) > 1 else 0]) for t in timings]
    return Timing(tuple(fn(*(p(i) for p in pick)) for i in range(rounds)))


def measure_rounds(candidates: Mapping[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, Timing]:
    """Run every candidate once per round, ``warmup`` rounds discarded; a candidate returning a float reports its
    own time (e.g. an optimizer's ``basis_seconds``); for any other result its wall-clock time is taken."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for round_no in range(warmup + repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            reported = fn()
            elapsed = reported if isinstance(reported, float) else time.perf_counter() - start
            if round_no >= warmup:
                samples[name].append(elapsed)
    return {name: Timing(tuple(values)) for name, values in samples.items()}


def seconds(t: Timing) -> str:
    """``12.3 ms (11.9–13.0)``: median and min–max in a unit that fits the median."""
    size = abs(t.median)
    scale, unit = (1.0, "s") if size >= 1 else (1e3, "ms") if size >= 1e-3 else (1e6, "µs")
    if len(t.samples) == 1:
        return f"{t.median * scale:.3g} {unit} (1 run)"
    return f"{t.median * scale:.3g} {unit} ({t.low * scale:.3g}–{t.high * scale:.3g})"


def times(t: Timing) -> str:
    """``143× (120–160)`` for a ratio."""
    if len(t.samples) == 1:
        return f"{t.median:.3g}×"
    return f"{t.median:.3g}× ({t.low:.3g}–{t.high:.3g})"
