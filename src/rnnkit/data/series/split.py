"""A stratified train/valid split: each class in the same proportion, the same for one seed."""

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
