"""Missing values inside a series: filled forward along time (CSV and .ts files alike)."""

from __future__ import annotations

import numpy as np

from rnnkit.errors import RnnkitError


def fill_missing(values: np.ndarray, where: str) -> np.ndarray:
    """Fill NaNs in a (T, D) array: forward along time, leading gaps from the first value.

    x_t = x_s where s < t is the last observed step of the same feature; before the first
    observation, x_t = the first observed value. A feature with no observation is an error.
    """
    observed = ~np.isnan(values)  # (T, D)
    if not observed.any(axis=0).all():
        feature = int(np.argmin(observed.any(axis=0)))
        raise RnnkitError(
            f"{where}: feature {feature + 1} has no values at all; fill it in or drop the sequence"
        )
    steps = np.arange(values.shape[0])[:, None]  # (T, 1)
    last_seen = np.maximum.accumulate(np.where(observed, steps, -1), axis=0)  # (T, D)
    first_seen = observed.argmax(axis=0)  # (D,)
    source = np.where(last_seen < 0, first_seen, last_seen)
    return np.take_along_axis(values, source, axis=0).astype(np.float32)
