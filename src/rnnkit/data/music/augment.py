"""Transposition augmentation: the same tunes in other keys.

A melody or chord progression sounds like itself in any key, so shifting every training piece by
k semitones (k = -5..6 covers all twelve keys) multiplies the data without inventing music. Only the
training split is augmented: valid and test stay as written, so their scores compare with papers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rnnkit.data.music.pianoroll import HIGHEST_PITCH, LOWEST_PITCH
from rnnkit.data.music.piece import Piece

ALL_KEYS = range(-5, 7)  # the shifts that reach each of the twelve keys once, nearest first


def transpositions(pieces: Sequence[Piece], semitones: Iterable[int] = ALL_KEYS) -> list[Piece]:
    """Every piece shifted by every amount in `semitones` (0 keeps the original).

    A shift that would move a note off the piano (MIDI 21..108) is skipped for that piece.
    """
    shifts = list(semitones)
    augmented = []
    for piece in pieces:
        on_piano = _notes_on_piano(piece)
        for shift in shifts:
            shifted = piece.transposed(shift)
            if _notes_on_piano(shifted) == on_piano:
                augmented.append(shifted)
    return augmented


def _notes_on_piano(piece: Piece) -> int:
    return sum(LOWEST_PITCH <= note.pitch <= HIGHEST_PITCH for note in piece.notes)
