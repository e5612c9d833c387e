"""Piano-roll <-> notes <-> JSB frames."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rnnkit.data.music.pianoroll import (
    KEYS,
    frames_to_roll,
    pad_rolls,
    piece_to_roll,
    roll_to_frames,
    roll_to_piece,
)
from rnnkit.data.music.piece import Note, Piece
from rnnkit.errors import RnnkitError


def test_piece_to_roll_marks_each_sounding_step_of_each_key():
    piece = Piece("p", (Note(0, 21, 2), Note(1, 60, 3), Note(3, 108, 1)), 1, 5)
    roll = piece_to_roll(piece)
    assert roll.shape == (5, 88)
    expected = np.zeros((5, 88), dtype=np.float32)
    expected[0:2, 0] = 1  # A0 is key 0
    expected[1:4, 39] = 1  # middle C is key 60 - 21 = 39
    expected[3, 87] = 1  # C8 is the last key
    np.testing.assert_array_equal(roll, expected)


def test_notes_outside_the_piano_are_left_out_of_the_roll():
    piece = Piece("p", (Note(0, 20, 1), Note(0, 109, 1), Note(0, 60, 1)), 1, 1)
    assert piece_to_roll(piece).sum() == 1


def test_roll_to_piece_reads_each_run_of_ones_as_one_note():
    roll = np.zeros((6, KEYS))
    roll[0:3, 39] = 1
    roll[4:6, 39] = 1  # same key again after a gap: a second note
    roll[5, 43] = 1  # a note in the last step
    piece = roll_to_piece(roll, steps_per_quarter=2, name="g", bar_starts=(0, 4))
    assert piece.notes == (Note(0, 60, 3), Note(4, 60, 2), Note(5, 64, 1))
    assert (piece.length, piece.steps_per_quarter, piece.bar_starts) == (6, 2, (0, 4))


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(0, 12), st.just(KEYS)),
        elements=st.sampled_from([0.0, 1.0]),
    )
)
def test_roll_survives_a_trip_through_notes(roll):
    np.testing.assert_array_equal(piece_to_roll(roll_to_piece(roll, 1)), roll)


def test_frames_round_trip_and_match_the_roll():
    frames = [[60, 64, 67], [], [21, 108], [62]]
    roll = frames_to_roll(frames)
    assert roll.sum() == 6 and roll[0, 39] == roll[0, 43] == roll[0, 46] == 1
    assert roll_to_frames(roll) == frames


@pytest.mark.parametrize("pitch", [20, 109])
def test_frames_outside_the_piano_fail_clearly(pitch):
    with pytest.raises(RnnkitError, match=f"pitch {pitch} at step 1"):
        frames_to_roll([[60], [pitch]])


def test_a_roll_of_the_wrong_width_fails_clearly():
    with pytest.raises(RnnkitError, match="shape"):
        roll_to_piece(np.zeros((4, 12)), 1)


def test_pad_rolls_zero_pads_and_reports_lengths():
    a, b = np.ones((2, KEYS)), np.ones((3, KEYS))
    batch, lengths = pad_rolls([a, b])
    assert batch.shape == (2, 3, KEYS) and lengths.tolist() == [2, 3]
    assert batch[0, 2].sum() == 0 and batch[0, :2].sum() == 2 * KEYS and batch[1].sum() == 3 * KEYS
