"""Triads and seventh chords in a piece (rnnkit.data.music.chords), on hand-made frames whose
chords are named by hand."""

import math

import pytest

from rnnkit.data.music.chords import chord_shares, step_pitch_classes
from rnnkit.data.music.piece import Note, Piece

# One chord per quarter-grid step, spelled in MIDI numbers (60 = C4).
FRAMES = [
    [60, 64, 67],  # C major: a triad
    [57, 60, 64],  # A minor: a triad
    [55, 59, 62, 65],  # G7: a seventh chord
    [60, 64],  # C and E only: neither
    [60, 62, 64],  # C D E: neither
    [59, 62, 65, 68],  # B diminished seventh: a seventh chord
    [48, 60, 64, 67],  # C major with the root doubled an octave down: a triad
    [],  # silence: not counted at all
    [60, 64, 68],  # C augmented: neither
    [62, 65, 69, 72],  # D minor seventh: a seventh chord
    [67, 71, 74, 77, 81],  # G9: neither (a fifth pitch class)
]


def frames_piece(frames):
    notes = [Note(step, pitch, 1) for step, frame in enumerate(frames) for pitch in frame]
    return Piece("chords", tuple(notes), 1, len(frames))


def test_triads_and_sevenths_are_counted_over_the_sounding_steps():
    triads, sevenths = chord_shares(frames_piece(FRAMES))
    assert triads == pytest.approx(3 / 10)  # 10 steps sound: C, Am, C (doubled)
    assert sevenths == pytest.approx(3 / 10)  # G7, B dim7, Dm7


def test_a_held_note_belongs_to_every_step_it_sounds_in():
    # C4 held for two steps under E4 G4 (step 0) and then F4 A4 (step 1): C major, then F major.
    held = Piece("held", (Note(0, 60, 2), Note(0, 64, 1), Note(0, 67, 1), Note(1, 65, 1),
                          Note(1, 69, 1)), 1, 2)  # fmt: skip
    assert step_pitch_classes(held) == [frozenset({0, 4, 7}), frozenset({0, 5, 9})]
    assert chord_shares(held) == (1.0, 0.0)


def test_a_silent_piece_has_no_chord_share():
    assert all(math.isnan(share) for share in chord_shares(frames_piece([[], []])))
