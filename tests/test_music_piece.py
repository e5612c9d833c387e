"""The Piece representation: validation, grid names, transposition, opening, JSON."""

import json

import pytest

from rnnkit.data.music.piece import GRIDS, Note, Piece, grid_name, steps_per_quarter
from rnnkit.errors import RnnkitError

PIECE = Piece("p", (Note(2, 64, 3), Note(0, 60, 4), Note(4, 67, 2)), 2, 6, (0, 4))


def test_notes_are_sorted_by_start_then_pitch():
    assert PIECE.notes == (Note(0, 60, 4), Note(2, 64, 3), Note(4, 67, 2))


def test_grids():
    assert GRIDS == {"quarter": 1, "8th": 2, "16th": 4}
    assert [steps_per_quarter(name) for name in GRIDS] == [1, 2, 4]
    assert [grid_name(steps) for steps in (1, 2, 4)] == ["quarter", "8th", "16th"]
    assert PIECE.grid == "8th"
    with pytest.raises(RnnkitError, match="unknown grid"):
        steps_per_quarter("triplet")
    with pytest.raises(RnnkitError, match="not a grid"):
        grid_name(3)


@pytest.mark.parametrize(
    ("notes", "length", "bars", "match"),
    [
        ((Note(0, 60, 0),), 2, (), "duration below 1"),
        ((Note(-1, 60, 1),), 2, (), "negative start"),
        ((Note(0, 60, 3),), 2, (), "ends before its last note"),
        ((Note(0, 60, 2), Note(1, 60, 2)), 4, (), "two notes of pitch 60 overlap at step 1"),
        ((Note(0, 60, 1),), 2, (2,), "bar starts outside"),
        ((Note(0, 60, 1),), 4, (2, 1), "bar starts must increase"),
        ((Note(0, 60, 1),), 4, (1, 1), "bar starts must increase"),
    ],
)
def test_invalid_pieces_fail_clearly(notes, length, bars, match):
    with pytest.raises(RnnkitError, match=match):
        Piece("bad", notes, 1, length, bars)


def test_transposed_moves_every_pitch_and_names_the_shift():
    up = PIECE.transposed(3)
    assert [n.pitch for n in up.notes] == [63, 67, 70] and up.name == "p+3"
    assert [(n.start, n.duration) for n in up.notes] == [(0, 4), (2, 3), (4, 2)]
    assert PIECE.transposed(-2).name == "p-2" and PIECE.transposed(0) == PIECE


def test_head_keeps_the_opening_and_cuts_notes_at_its_end():
    opening = PIECE.head(3)
    assert opening.notes == (Note(0, 60, 3), Note(2, 64, 1))
    assert (opening.length, opening.bar_starts) == (3, (0,))
    assert PIECE.head(100) == PIECE and PIECE.head(0).notes == ()


def test_json_round_trip_through_text():
    text = json.dumps(PIECE.to_dict())
    assert json.loads(text)["notes"][0] == [0, 60, 4]
    assert Piece.from_dict(json.loads(text)) == PIECE


def test_a_run_on_few_pieces_says_so():
    from rnnkit.tasks.pieces import count_of_pieces

    assert count_of_pieces(331, "bach") == "331 training pieces"
    assert count_of_pieces(1, "nottingham") == (
        "1 training piece (few: a model learns so few by heart, and music21's bundled nottingham "
        "has 2 tunes; give more music for a real run)"
    )
    assert "nottingham" not in count_of_pieces(5, "my_tunes/")
