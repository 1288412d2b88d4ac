"""Interleaved timing: every candidate runs once per round, in a rotating order.

A shared, noisy machine slows everything down in bursts. Running the guard and
its baselines back to back in each round, many rounds over, puts each burst on
all of them alike; the median of the rounds then ignores the bursts, and the
spread (the interquartile range, as a share of the median) says how noisy the
run was.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: ``prepare(round_number)`` does the untimed set-up of one round and returns
#: the timed part, which performs ``operations`` operations.
Prepare = Callable[[int], Callable[[], object]]


@dataclass(frozen=True)
class Sample:
    """Per-operation times of one candidate over every round, in seconds."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> float:
        """Interquartile range as a fraction of the median."""
        if len(self.times) < 4:
            return (max(self.times) - min(self.times)) / self.median
        q1, _, q3 = statistics.quantiles(self.times, n=4)
        return (q3 - q1) / self.median

    def us(self) -> str:
        """``median µs ±spread%``."""
        return f"{self.median * 1e6:.2f} µs ±{self.spread * 100:.0f}%"

    def per_second(self) -> str:
        return f"{1 / self.median:,.0f}/s ±{self.spread * 100:.0f}%"


def interleaved(
    candidates: Mapping[str, Prepare], *, rounds: int, operations: int
) -> dict[str, Sample]:
    """Time each candidate ``rounds`` times, interleaved, ``operations`` per timing."""
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        # Rotate who goes first, so no candidate always follows the same one.
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            timed = candidates[name](number)
            gc.collect()
            start = time.perf_counter()
            timed()
            times[name].append((time.perf_counter() - start) / operations)
    return {name: Sample(tuple(values)) for name, values in times.items()}
