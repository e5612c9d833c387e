"""A compare run's numbers gathered over its seeds: what the tables, plots and verdict show.

Every score of the study is measured once per seed; a `Spread` holds the mean and the lowest and
highest of those values. Gradient norms span tens of orders of magnitude, so their summary over
seeds is the geometric mean (the mean of the logarithms), and a spread of them is taken likewise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnkit.studies.compare import CompareResults, GradientResult, MemoryResult

# The smallest float32 above 0 (a subnormal). The gradient norms are float32, so one that
# underflowed to 0 counts as this: its log is finite, and a mean or share that uses it is an upper
# bound of the true value (a ratio against it, a lower bound).
TINY = 2.0**-149


@dataclass(frozen=True)
class Spread:
    """The mean of a few values (one per seed) and their range."""

    mean: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(sum(values) / len(values), min(values), max(values), len(values))

    @classmethod
    def geometric(cls, values: list[float]) -> Spread:
        """The same for positive values spanning orders of magnitude: the geometric mean."""
        logs = [math.log(max(v, TINY)) for v in values]
        return cls(math.exp(sum(logs) / len(logs)), min(values), max(values), len(values))

    def text(self, number: str = ".3f") -> str:
        """'0.912 (0.880 to 0.950)', or '0.912' for one value."""
        mean = format(self.mean, number)
        if self.count == 1:
            return mean
        return f"{mean} ({format(self.low, number)} to {format(self.high, number)})"


def tasks(results: CompareResults) -> list[str]:
    return list(dict.fromkeys(m.task for m in results.memory))


def lags(results: CompareResults, task: str) -> list[int]:
    return list(dict.fromkeys(m.lag for m in results.memory if m.task == task))


def cells(results: CompareResults) -> list[str]:
    return list(dict.fromkeys(m.cell for m in results.memory))


def runs(results: CompareResults, task: str, lag: int, cell: str) -> list[MemoryResult]:
    """The piece (task, lag, cell) on every seed."""
    return [m for m in results.memory if (m.task, m.lag, m.cell) == (task, lag, cell)]


def scores(results: CompareResults, task: str, lag: int, cell: str) -> Spread:
    return Spread.of([m.score for m in runs(results, task, lag, cell)])


def losses(results: CompareResults, task: str, lag: int, cell: str) -> Spread:
    return Spread.of([m.loss for m in runs(results, task, lag, cell)])


def first(results: CompareResults, task: str) -> MemoryResult:
    """Any one result of `task`: what its metric, chance and baseline are."""
    return next(m for m in results.memory if m.task == task)


def gradient_curves(results: CompareResults) -> dict[tuple[str, str], list[float]]:
    """(cell, stage) -> the geometric mean over seeds of ||d loss / d h_{T-k}||, for each k."""
    grouped: dict[tuple[str, str], list[GradientResult]] = {}
    for g in results.gradients:
        grouped.setdefault((g.cell, g.stage), []).append(g)
    return {
        key: [Spread.geometric(list(column)).mean for column in zip(*(g.norms for g in group))]
        for key, group in grouped.items()
    }


def reach(norms: list[float]) -> float:
    """How much of the last step's gradient reaches the first step: ||g_1|| / ||g_T||."""
    return norms[-1] / norms[0] if norms[0] > 0 else 0.0


def reaches(results: CompareResults, stage: str) -> dict[str, dict[int, float]]:
    """cell -> seed -> reach of its gradient at `stage` ("init" or "trained")."""
    found: dict[str, dict[int, float]] = {}
    for g in results.gradients:
        if g.stage == stage:
            found.setdefault(g.cell, {})[g.seed] = reach(g.norms)
    return found
