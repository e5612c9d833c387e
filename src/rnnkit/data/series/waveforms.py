"""The built-in example `example:waveforms`: noisy waves of four shapes, generated here."""

from __future__ import annotations

import numpy as np

from rnnkit.data.series.dataset import SeriesDataset

EXAMPLE = "example:waveforms"
WAVEFORMS = ("sine", "square", "sawtooth", "triangle")


def make_waveforms(
    per_class: int = 100,
    min_length: int = 30,
    max_length: int = 80,
    noise: float = 0.2,
    seed: int = 0,
) -> SeriesDataset:
    """The built-in example: four classes of noisy univariate waves, generated, never downloaded.

    Each sequence draws, from numpy's default_rng(seed): a length T ~ U{min_length..max_length},
    a period P ~ U[6, 16) steps, a phase phi ~ U[0, 2 pi), an amplitude A ~ U[0.8, 1.5) and an
    offset m ~ N(0, 0.3); then x_t = m + A * shape(2 pi t / P + phi) + A * noise * e_t with
    e_t ~ N(0, 1), where shape is sin, sign(sin), a rising sawtooth or a triangle wave, all
    spanning [-1, 1]. The sequences are shuffled; the label is the shape's name.
    """
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for label in WAVEFORMS:
        for _ in range(per_class):
            length = int(rng.integers(min_length, max_length + 1))
            period, phase = rng.uniform(6, 16), rng.uniform(0, 2 * np.pi)
            amplitude, offset = rng.uniform(0.8, 1.5), rng.normal(0, 0.3)
            theta = 2 * np.pi * np.arange(length) / period + phase
            clean = _wave(label, theta)
            x = offset + amplitude * (clean + noise * rng.standard_normal(length))
            sequences.append(x.astype(np.float32)[:, None])
            labels.append(label)
    order = rng.permutation(len(sequences))
    return SeriesDataset(
        sequences=[sequences[i] for i in order],
        labels=[labels[i] for i in order],
        ids=[f"wave{n}" for n in range(len(order))],
        features=["value"],
        source=EXAMPLE,
    )


def _wave(shape: str, theta: np.ndarray) -> np.ndarray:
    cycle = (theta / (2 * np.pi)) % 1.0  # position in the period, in [0, 1)
    if shape == "sine":
        return np.sin(theta)
    if shape == "square":
        return np.sign(np.sin(theta))
    if shape == "sawtooth":
        return 2 * cycle - 1
    return 1 - 4 * np.abs(cycle - 0.5)  # triangle
