"""Normalising time series: each series on its own, and per feature over the training split.

per series    x'_{t,d} = (x_{t,d} - m_d) / s_d, m_d and s_d the mean and standard deviation
              of feature d over this series' own steps (the UCR archive's z-normalisation:
              offset and scale go, the shape stays)
per feature   FeatureScaler, fitted on the training split and saved as scaler.json
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.files import read_json, write_json

NORMALISATIONS = ("auto", "series", "features")
TOLERANCE = 1e-3  # how close to mean 0 and std 1 a series must be to count as normalised
SPAN = 100.0  # scales that differ more than this between series share no one per-feature scale


def normalise_each(sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each series z-normalised per feature over its own steps (a constant feature becomes 0)."""
    normalised = []
    for series in sequences:
        mean = series.mean(axis=0, dtype=np.float64)
        std = series.std(axis=0, dtype=np.float64)
        std[std < 1e-12] = 1.0
        normalised.append(((series - mean) / std).astype(np.float32))
    return normalised


def per_series_is_better(sequences: Sequence[np.ndarray]) -> bool:
    """normalize="auto": z-normalise each series on its own when the series already are (the
    UCR archive's), so that new series get what the training ones got, or when their scales
    span orders of magnitude (the 90th percentile of the series' standard deviations over SPAN
    times the 10th, for some feature), which no single per-feature scale can bring into range.
    Otherwise offset and scale may be the very signal (a level, an intensity): keep them."""
    if is_normalised(sequences):
        return True
    spread = np.stack([series.std(axis=0) for series in sequences])  # (N, D)
    low, high = np.percentile(spread, [10, 90], axis=0)
    return bool((high > SPAN * np.maximum(low, 1e-12)).any())


def is_normalised(sequences: Sequence[np.ndarray]) -> bool:
    """Is every series already z-normalised (each feature mean 0 and std 1 over its steps)?

    The archive divides by the population std (ddof 0) in some datasets and the sample std
    (ddof 1) in others (MATLAB's zscore): either counts, one convention for all series."""
    return any(_all_normalised(sequences, ddof) for ddof in (0, 1))


def _all_normalised(sequences: Sequence[np.ndarray], ddof: int) -> bool:
    for series in sequences:
        if len(series) <= ddof:
            return False
        mean, std = series.mean(axis=0), series.std(axis=0, ddof=ddof)
        if np.abs(mean).max() > TOLERANCE or np.abs(std - 1).max() > TOLERANCE:
            return False
    return True


@dataclass
class FeatureScaler:
    """Per-feature standardisation, fitted on the training sequences only.

        x'_{t,d} = (x_{t,d} - mean_d) / std_d

    mean_d and std_d are taken over every time step of every training sequence (a constant
    feature gets std_d = 1, so it maps to 0).
    """

    mean: list[float]
    std: list[float]

    @classmethod
    def fit(cls, sequences: Sequence[np.ndarray]) -> FeatureScaler:
        steps = np.concatenate(sequences, axis=0).astype(np.float64)  # (sum T_i, D)
        std = steps.std(axis=0)
        std[std < 1e-12] = 1.0
        return cls(mean=steps.mean(axis=0).tolist(), std=std.tolist())

    def transform(self, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        if sequences and sequences[0].shape[1] != len(mean):
            raise RnnkitError(
                f"the data has {sequences[0].shape[1]} feature columns but the model was trained "
                f"on {len(mean)}; give data with the training file's feature columns"
            )
        return [(s - mean) / std for s in sequences]

    def save(self, path: Path) -> None:
        write_json(path, {"mean": self.mean, "std": self.std})

    @classmethod
    def load(cls, path: Path) -> FeatureScaler:
        """scaler.json of a run folder, checked (it may be damaged or hostile)."""
        state = read_json(path, "feature scaler")
        mean, std = state.get("mean"), state.get("std")
        numbers = [v for part in (mean, std) if isinstance(part, list) for v in part]
        if not (isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) > 0):
            raise RnnkitError(f"{path} needs lists mean and std of one number per feature; retrain")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
            raise RnnkitError(f"{path} holds a mean or std that is not a number; retrain")
        if not all(math.isfinite(v) for v in numbers) or min(std) <= 0:
            raise RnnkitError(f"{path} holds a non-finite mean or a std <= 0; retrain")
        return cls(mean=[float(v) for v in mean], std=[float(v) for v in std])
