"""--primer-pitches (rnnkit.data.music.primer): MIDI note numbers -> an opening chord or tune."""

import numpy as np
import pytest

from rnnkit.data.music import piece_to_events, piece_to_roll
from rnnkit.data.music.primer import check_pitches, parse_pitches, primer_chord, primer_line
from rnnkit.errors import RnnkitError


def test_pitches_are_read_from_commas_with_spaces():
    assert parse_pitches("60, 64,67") == (60, 64, 67)
    assert parse_pitches("21,108") == (21, 108)  # the piano's lowest and highest keys


@pytest.mark.parametrize(
    ("text", "named"),
    [("60,abc", "'abc'"), ("60,,67", "''"), ("60.5", "'60.5'"), ("20", "20"), ("109", "109"),
     ("-3", "-3")],
)  # fmt: skip
def test_a_bad_value_is_one_error_that_names_it(text, named):
    with pytest.raises(RnnkitError, match="--primer-pitches") as error:
        parse_pitches(text)
    message = str(error.value)
    assert named in message and "\n" not in message


def test_numbers_from_python_are_checked_the_same_way():
    with pytest.raises(RnnkitError, match="at least one"):
        check_pitches([])
    for bad in (60.0, True, 200):
        with pytest.raises(RnnkitError, match="not a piano key"):
            check_pitches([60, bad])


def test_a_chord_sounds_for_one_quarter_note_on_the_grid():
    chord = primer_chord([67, 60, 64, 60], "8th")  # a repeated pitch is one key
    roll = piece_to_roll(chord)  # (T, 88), key 0 is MIDI 21
    expected = np.zeros((2, 88), dtype=roll.dtype)  # 2 steps of an 8th note: one quarter
    expected[:, [60 - 21, 64 - 21, 67 - 21]] = 1
    np.testing.assert_array_equal(roll, expected)


def test_a_line_plays_the_pitches_in_order_a_quarter_note_each_with_bar_lines():
    tune = primer_line([60, 62, 64, 65, 67], "quarter")
    assert piece_to_events(tune) == [
        "<bos>", "bar", "on_60", "on_62", "on_64", "on_65", "bar", "on_67", "<eos>"
    ]  # fmt: skip
    on_the_8th_grid = primer_line([60, 60], "8th")  # the same pitch twice: two notes
    assert piece_to_events(on_the_8th_grid) == ["<bos>", "bar", "on_60", "hold", "on_60", "hold",
                                                "<eos>"]  # fmt: skip
