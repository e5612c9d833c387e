"""music21 as the independent reader of the music rnnkit writes: what the tests compare with."""

from fractions import Fraction
from pathlib import Path

from music21 import chord, converter


def music21_notes(path: Path) -> list[tuple[int, Fraction, Fraction]]:
    """(MIDI pitch, onset, duration) in quarter notes of every note music21 reads in a file."""
    found = []
    for element in converter.parse(path, forceSource=True).stripTies().flatten().notes:
        members = element.notes if isinstance(element, chord.Chord) else [element]
        for member in members:
            found.append(
                (member.pitch.midi, Fraction(element.offset), Fraction(element.quarterLength))
            )
    return sorted(found)
