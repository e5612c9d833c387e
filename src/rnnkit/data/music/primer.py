"""Primer pitches: an opening given as MIDI note numbers (`rnnkit generate --primer-pitches`).

    parse_pitches("60,64,67")        -> (60, 64, 67), checked: whole numbers on the piano's keys
    primer_chord(pitches, grid)      -> the pitches sounding together for one quarter note
    primer_line(pitches, grid)       -> the pitches one after another, a quarter note each

A piano-roll model starts from a chord, as Magenta's pianoroll_rnn_nade reads its primer pitches;
a melody model plays one note at a time, so for it the same pitches are the opening notes of the
tune (as Magenta's melody_rnn reads a primer melody).
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.data.music.pianoroll import HIGHEST_PITCH, LOWEST_PITCH
from rnnkit.data.music.piece import Note, Piece, steps_per_quarter
from rnnkit.errors import RnnkitError

QUARTERS_PER_BAR = 4  # the primer is written in 4/4, as generated pieces are


def parse_pitches(text: str) -> tuple[int, ...]:
    """'60,64,67' -> (60, 64, 67); RnnkitError with one line if a value is not a piano key."""
    items = [item.strip() for item in text.split(",")]
    try:
        pitches = tuple(int(item) for item in items)
    except ValueError:
        bad = next(item for item in items if not item.lstrip("-").isdigit())
        raise RnnkitError(
            f"--primer-pitches takes MIDI note numbers separated by commas, e.g. 60,64,67 "
            f"(60 is middle C); {bad!r} is not a whole number"
        ) from None
    return check_pitches(pitches)


def check_pitches(pitches: Sequence[int]) -> tuple[int, ...]:
    """The pitches, if there is at least one and each is a piano key (MIDI 21..108)."""
    if not pitches:
        raise RnnkitError("--primer-pitches needs at least one MIDI note number, e.g. 60,64,67")
    for pitch in pitches:
        whole = isinstance(pitch, int) and not isinstance(pitch, bool)
        if not whole or not LOWEST_PITCH <= pitch <= HIGHEST_PITCH:
            raise RnnkitError(
                f"--primer-pitches: {pitch!r} is not a piano key; use MIDI note numbers from "
                f"{LOWEST_PITCH} (A0) to {HIGHEST_PITCH} (C8), 60 is middle C"
            )
    return tuple(pitches)


def primer_chord(pitches: Sequence[int], grid: str) -> Piece:
    """The pitches sounding together for one quarter note, on `grid`."""
    quarter = steps_per_quarter(grid)
    notes = tuple(Note(0, pitch, quarter) for pitch in sorted(set(check_pitches(pitches))))
    return Piece("primer pitches", notes, quarter, quarter, (0,))


def primer_line(pitches: Sequence[int], grid: str) -> Piece:
    """The pitches one after another, a quarter note each, on `grid`, with 4/4 bar lines."""
    quarter = steps_per_quarter(grid)
    pitches = check_pitches(pitches)
    notes = tuple(Note(i * quarter, pitch, quarter) for i, pitch in enumerate(pitches))
    length = len(notes) * quarter
    bars = tuple(range(0, length, QUARTERS_PER_BAR * quarter))
    return Piece("primer pitches", notes, quarter, length, bars)
