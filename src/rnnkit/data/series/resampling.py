"""Resampling series of different lengths to one length (uniform scaling, as in Tan et al. 2019).

A series of T steps becomes N steps read at evenly spaced positions of its own time axis, each
linearly interpolated between its two neighbouring steps:

    x'_n = (1 - w) x_k + w x_{k+1},   p = n (T - 1) / (N - 1),  k = floor(p),  w = p - k
                                      n = 0 .. N - 1 (a series of one step is repeated)

So the first and last steps are kept, and a gesture made slowly and one made quickly line up
step by step, which is what 1-NN DTW finds by warping. What is lost is the length itself.

`resample` in a classify run's data settings: N >= 2 resamples every series to N steps, 1 reads
them as they are, and 0 (auto, the recipe's) reads series of one length as they are and, where
the training lengths differ, tries them both ways, as read and resampled to their median length
(fit_resample, at most AUTO_STEPS), before the run (tasks/resample_trial.py): resampling helps
where speed varies (gestures) and hurts where a clock sets the time scale (waves of a period in
steps), and only training tells which (docs/BENCHMARKS.md, "Resampling series of different
lengths").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.errors import RnnkitError

AS_READ, AUTO = 1, 0
AUTO_STEPS = 64  # resample=0: at most this many steps (the best of 32 to 136 on the gestures)
STRETCH = 10  # resample=N: at most this many times the longest training series


def resample_each(sequences: Sequence[np.ndarray], steps: int) -> list[np.ndarray]:
    """Each series (T_i, D) linearly interpolated to (steps, D); steps 1 leaves them as read."""
    if steps == AS_READ:
        return list(sequences)
    return [resampled(series, steps) for series in sequences]


def resampled(series: np.ndarray, steps: int) -> np.ndarray:
    """One series (T, D) at `steps` >= 2 evenly spaced positions of its own time axis (the
    equation above), float32. (resample_each reads steps 1 as "as read".)"""
    length = len(series)
    position = np.linspace(0.0, length - 1.0, steps)  # p_n
    below = np.minimum(position.astype(np.int64), max(length - 2, 0))  # k_n, keeping k + 1 inside
    above = np.minimum(below + 1, length - 1)
    weight = (position - below)[:, None]  # w_n
    values = series.astype(np.float64)
    return ((1.0 - weight) * values[below] + weight * values[above]).astype(np.float32)


def fit_resample(lengths: Sequence[int]) -> int:
    """The length resample=0 tries (and takes, without a trial): the median training length, at
    most AUTO_STEPS, when the lengths differ; as read when they are equal."""
    if min(lengths) == max(lengths):
        return AS_READ
    return min(AUTO_STEPS, max(2, round(float(np.median(lengths)))))


def check_resample(steps: int, longest: int) -> None:
    """--resample N stretches series by at most STRETCH times their longest: interpolation adds
    no information, only memory and time (a mistyped N could fill the memory)."""
    if steps > STRETCH * longest:
        raise RnnkitError(
            f"--resample {steps} would stretch the longest training series ({longest} steps) "
            f"more than {STRETCH} times, which adds no information; use at most "
            f"{STRETCH * longest}, or 0 to let a trial choose"
        )
