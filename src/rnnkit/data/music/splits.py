"""Deterministic train / valid / test splits of a collection of pieces.

Pieces are ordered by a hash of their name (SHA-256 of `name`, where the name is the path inside the
corpus folder, e.g. `bwv1.6.mxl` or `reelsa-c.abc#2`), so the split depends neither on the order
files are listed in nor on the machine where the corpus lives. The first n_valid pieces in that
order are valid, the next n_test are test, the rest train, with

    n_valid = round(n * valid_fraction)      n_test = round(n * test_fraction)

raised to 1 when the fraction is positive, as long as one piece is left for training (valid is
served first: training needs it more than a test set does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from rnnkit.data.music.piece import Piece
from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class MusicSplits:
    """The pieces of a dataset, split three ways; each split sorted by name."""

    train: tuple[Piece, ...]
    valid: tuple[Piece, ...]
    test: tuple[Piece, ...]


def split_pieces(
    pieces: Sequence[Piece], valid_fraction: float = 0.1, test_fraction: float = 0.1
) -> MusicSplits:
    """Split `pieces` deterministically (see the module docstring)."""
    if not (valid_fraction >= 0 and test_fraction >= 0 and valid_fraction + test_fraction < 1):
        raise RnnkitError(
            f"valid and test fractions must be >= 0 and sum to less than 1; "
            f"got {valid_fraction} and {test_fraction}"
        )
    order = sorted(pieces, key=lambda piece: hashlib.sha256(piece.name.encode()).hexdigest())
    n_valid = _count(len(order), valid_fraction, taken=0)
    n_test = _count(len(order), test_fraction, taken=n_valid)
    return MusicSplits(
        train=_by_name(order[n_valid + n_test :]),
        valid=_by_name(order[:n_valid]),
        test=_by_name(order[n_valid : n_valid + n_test]),
    )


def _count(total: int, fraction: float, taken: int) -> int:
    """round(total * fraction), at least 1 if fraction > 0, leaving one piece for training."""
    wanted = max(round(total * fraction), 1 if fraction > 0 else 0)
    return max(0, min(wanted, total - taken - 1))


def _by_name(pieces: Sequence[Piece]) -> tuple[Piece, ...]:
    return tuple(sorted(pieces, key=lambda piece: piece.name))
