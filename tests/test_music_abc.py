"""A melody as ABC text (rnnkit.data.music.abc), on tunes written out by hand."""

from rnnkit.data.music.abc import to_abc
from rnnkit.data.music.piece import Note, Piece


def tune(notes, length, steps_per_quarter=2, bars=(0, 8)):
    return Piece("t", tuple(Note(*note) for note in notes), steps_per_quarter, length, bars)


def test_a_tune_on_the_8th_grid_with_rests_octaves_and_a_tie_over_the_bar_line():
    # (start, pitch, duration in 8ths): G4 quarter, A4 B4 eighths, C5 half tied into the next bar
    # for a quarter, then a quarter rest, D3 eighth, C#6 eighth and a half-note rest.
    notes = [(0, 67, 2), (2, 69, 1), (3, 71, 1), (4, 72, 6), (12, 50, 1), (13, 85, 1)]
    assert to_abc(tune(notes, 16), title="test").splitlines() == [
        "X:1", "T:test", "M:4/4", "L:1/8", "K:C",
        "G2 A B c4- | c2 z2 D, ^c' z2 |",
    ]  # fmt: skip


def test_a_sharp_holds_to_the_end_of_its_bar_so_a_later_natural_is_marked():
    # Quarter grid (L:1/4): F#4 F4 F#4 | F4: the second F needs =, the one after the bar does not.
    notes = [(0, 66, 1), (1, 65, 1), (2, 66, 1), (4, 65, 1)]
    body = to_abc(tune(notes, 5, steps_per_quarter=1, bars=(0, 4))).splitlines()
    assert body[3] == "L:1/4"
    assert body[-1] == "^F =F ^F z | F |"


def test_the_top_line_of_a_chord_is_written_and_one_bar_has_no_meter():
    chord = [(0, 60, 4), (0, 64, 4), (0, 67, 4)]
    abc = to_abc(tune(chord, 4, bars=(0,))).splitlines()
    assert abc[2] == "M:none" and abc[-1] == "G4 |"


def test_the_meter_is_the_commonest_bar_length():
    jig = tune([(0, 62, 3), (3, 66, 3), (6, 69, 6), (12, 74, 6)], 18, bars=(0, 6, 12))
    assert to_abc(jig).splitlines()[2] == "M:6/8"  # 6 eighths a bar
