"""Resampling series of different lengths to one length (uniform scaling, as in Tan et al. 2019).

A series of T steps becomes N steps read at evenly spaced positions of its own time axis, each
linearly interpolated between its two neighbouring steps:

    x'_n = (1 - w) x_k + w x_{k+1},   p = n (T - 1) / (N - 1),  k = floor(p),  w = p - k
                                      n = 0 .. N - 1 (a series of one step is repeated)

So the first and last steps are kept, and a gesture made slowly and one made quickly line up
step by step, which is what 1-NN DTW finds by warping. What is lost is the length itself.

`resample` in a classify run's data settings: N >= 2 resamples every series to N steps, 1 reads
them as they are (the recipe's), and 0 (auto) picks N = the median length of the training series,
at most AUTO_STEPS, when their lengths differ, and 1 when they are all equal. Measured
(docs/BENCHMARKS.md, "Resampling series of different lengths"): on PickupGestureWiimoteZ
(gestures of 29 to 361 steps, median 136) the recipe's test accuracy over five seeds at --time
60s was 0.660 as read, 0.656 at 136 steps, 0.676 at 128, 0.716 at 64, 0.696 at 48 and 0.684 at
32; on the built-in waveforms (30 to 80 steps at one sampling rate, periods of 6 to 16 steps)
auto's 55 steps lost 0.04 (three seeds): where the clock, not the length, sets the time scale,
resampling distorts it. So it is an option, not the recipe.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

AS_READ, AUTO = 1, 0
AUTO_STEPS = 64  # resample=0: at most this many steps (the recurrent branch then reads each one)


def resample_each(sequences: Sequence[np.ndarray], steps: int) -> list[np.ndarray]:
    """Each series (T_i, D) linearly interpolated to (steps, D); steps 1 leaves them as read."""
    if steps == AS_READ:
        return list(sequences)
    return [resampled(series, steps) for series in sequences]


def resampled(series: np.ndarray, steps: int) -> np.ndarray:
    """One series (T, D) at `steps` evenly spaced positions of its own time axis (the equation
    above), float32."""
    length = len(series)
    position = np.linspace(0.0, length - 1.0, steps)  # p_n
    below = np.minimum(position.astype(np.int64), max(length - 2, 0))  # k_n, keeping k + 1 inside
    above = np.minimum(below + 1, length - 1)
    weight = (position - below)[:, None]  # w_n
    values = series.astype(np.float64)
    return ((1.0 - weight) * values[below] + weight * values[above]).astype(np.float32)


def fit_resample(lengths: Sequence[int]) -> int:
    """resample=0 (auto): the median training length, at most AUTO_STEPS, when the lengths
    differ; as read when they are equal."""
    if min(lengths) == max(lengths):
        return AS_READ
    return min(AUTO_STEPS, max(2, round(float(np.median(lengths)))))
