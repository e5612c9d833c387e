"""Stratified splits: train/valid, or K folds; each class in proportion, the same for one seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.data.series.labels import label_order
from rnnkit.errors import RnnkitError


def stratified_split(
    labels: Sequence[str], valid_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices (train, valid), each class split in the same proportion, the same for one seed.

    Every class with two or more sequences gives round(n * valid_fraction) of them to valid, at
    least one and never all.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise RnnkitError(f"the validation fraction must be in [0, 1), got {valid_fraction}")
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for label in sorted(set(labels), key=label_order):
        members = [i for i, other in enumerate(labels) if other == label]
        members = [members[j] for j in rng.permutation(len(members))]
        n_valid = 0
        if valid_fraction > 0 and len(members) >= 2:
            n_valid = min(len(members) - 1, max(1, round(len(members) * valid_fraction)))
        valid += members[:n_valid]
        train += members[n_valid:]
    return sorted(train), sorted(valid)


def stratified_folds(labels: Sequence[str], folds: int, seed: int) -> list[int]:
    """The fold (0..folds-1) of each sequence: each class dealt round the folds in a random
    order, the same for one seed, so every fold holds each class in proportion (give or take
    one) and the folds' sizes differ by at most one."""
    rng = np.random.default_rng(seed)
    fold = [0] * len(labels)
    dealt = 0  # where the next class starts dealing: keeps the folds' sizes level
    for label in sorted(set(labels), key=label_order):
        members = [i for i, other in enumerate(labels) if other == label]
        for position, j in enumerate(rng.permutation(len(members))):
            fold[members[j]] = (dealt + position) % folds
        dealt += len(members)
    return fold
