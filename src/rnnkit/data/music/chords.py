"""Chords in a piece: the share of its sounding steps that are a triad or a seventh chord.

At each grid step the sounding notes are reduced to their pitch classes (pitch % 12; octave and
doubling do not matter, C3 C4 E4 G4 is C major). The step is a triad or a seventh chord when that
set of pitch classes is exactly the set of one of these chords on some root r (nothing missing,
nothing added):

    major triad        r, r+4, r+7               minor triad          r, r+3, r+7
    dominant seventh   r, r+4, r+7, r+10         major seventh        r, r+4, r+7, r+11
    minor seventh      r, r+3, r+7, r+10         half-diminished      r, r+3, r+6, r+10
    diminished seventh r, r+3, r+6, r+9

So an augmented or diminished triad, a seventh chord without its fifth, or a chord with a passing
note is neither. The shares are taken over the steps where at least one note sounds (the steps
polyphony is measured on), so rests do not count against a piece.
"""

from __future__ import annotations

import numpy as np

from rnnkit.data.music.piece import Piece

TRIADS = {"major": (0, 4, 7), "minor": (0, 3, 7)}
SEVENTHS = {
    "dominant": (0, 4, 7, 10),
    "major": (0, 4, 7, 11),
    "minor": (0, 3, 7, 10),
    "half-diminished": (0, 3, 6, 10),
    "diminished": (0, 3, 6, 9),
}


def _on_every_root(shapes: dict[str, tuple[int, ...]]) -> frozenset[frozenset[int]]:
    """Every pitch-class set of the given chord shapes, on each of the 12 roots."""
    return frozenset(
        frozenset((root + step) % 12 for step in shape)
        for shape in shapes.values()
        for root in range(12)
    )


TRIAD_SETS = _on_every_root(TRIADS)
SEVENTH_SETS = _on_every_root(SEVENTHS)


def step_pitch_classes(piece: Piece) -> list[frozenset[int]]:
    """The pitch classes sounding at each grid step of the piece (empty where nothing sounds)."""
    steps: list[set[int]] = [set() for _ in range(piece.length)]
    for note in piece.notes:
        for step in range(note.start, note.end):
            steps[step].add(note.pitch % 12)
    return [frozenset(classes) for classes in steps]


def chord_shares(piece: Piece) -> tuple[float, float]:
    """(triad share, seventh-chord share) of the piece's sounding steps; nan, nan if none sounds."""
    sounding = [classes for classes in step_pitch_classes(piece) if classes]
    if not sounding:
        return float("nan"), float("nan")
    triads = np.mean([classes in TRIAD_SETS for classes in sounding])
    sevenths = np.mean([classes in SEVENTH_SETS for classes in sounding])
    return float(triads), float(sevenths)
