"""Melody event tokens: the vocabulary, encoding, decoding and JSON."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.music.events import (
    TOKENS,
    EventVocabulary,
    events_to_piece,
    melody,
    piece_to_events,
)
from rnnkit.data.music.piece import Note, Piece
from rnnkit.errors import RnnkitError

# events.py's docstring example: 4/4, quarter grid, C4 half, E4 quarter, a rest, G4 whole.
EXAMPLE = Piece("ex", (Note(0, 60, 2), Note(2, 64, 1), Note(4, 67, 4)), 1, 8, (0, 4))
EXAMPLE_TOKENS = [
    "<bos>",
    "bar",
    "on_60",
    "hold",
    "on_64",
    "rest",
    "bar",
    "on_67",
    "hold",
    "hold",
    "hold",
    "<eos>",
]


def test_the_vocabulary_is_fixed_and_ordered_as_documented():
    assert len(TOKENS) == 6 + 88
    assert TOKENS[:6] == ("<pad>", "<bos>", "<eos>", "rest", "hold", "bar")
    assert TOKENS[6] == "on_21" and TOKENS[93] == "on_108"
    vocabulary = EventVocabulary()
    assert vocabulary.encode(["on_60"]) == [6 + 60 - 21]
    assert (vocabulary.pad_id, vocabulary.bos_id, vocabulary.eos_id) == (0, 1, 2)


def test_encoding_the_documented_example():
    assert piece_to_events(EXAMPLE) == EXAMPLE_TOKENS


def test_decoding_the_documented_example():
    assert events_to_piece(EXAMPLE_TOKENS, 1, name="ex") == EXAMPLE


def test_melody_is_the_top_line_and_a_revealed_note_starts_again():
    # Alto holds C4 for 4 steps; the soprano sings E4 (0-1) and G4 (1-2), then rests: the melody
    # drops back to the alto's C4, which starts anew at step 2.
    piece = Piece("p", (Note(0, 60, 4), Note(0, 64, 1), Note(1, 67, 1)), 1, 5)
    assert melody(piece).notes == (Note(0, 64, 1), Note(1, 67, 1), Note(2, 60, 2))
    assert piece_to_events(piece) == ["<bos>", "on_64", "on_67", "on_60", "hold", "rest", "<eos>"]


def test_a_re_struck_note_stays_two_notes():
    piece = Piece("p", (Note(0, 60, 1), Note(1, 60, 1)), 1, 2)
    assert piece_to_events(piece) == ["<bos>", "on_60", "on_60", "<eos>"]


def test_decoding_forgives_what_a_model_may_write():
    tokens = [
        "hold",
        "bar",
        "bar",
        "on_62",
        "<pad>",
        "hold",
        "rest",
        "hold",
        "bar",
        "<eos>",
        "on_70",
    ]
    piece = events_to_piece(tokens, 2)
    # hold with nothing sounding is a rest; <pad> takes no time; two bar lines in a row are one;
    # a final bar line starts no bar; everything after <eos> is ignored.
    assert piece.notes == (Note(1, 62, 2),)
    assert (piece.length, piece.bar_starts, piece.steps_per_quarter) == (5, (1,), 2)


def test_unknown_tokens_fail_clearly():
    with pytest.raises(RnnkitError, match="unknown melody event token 'on_5'"):
        events_to_piece(["on_5"], 1)
    with pytest.raises(RnnkitError, match="unknown melody event token"):
        EventVocabulary().encode(["sharp"])
    with pytest.raises(RnnkitError, match="outside"):
        EventVocabulary().decode([94])


def test_vocabulary_json_round_trip(tmp_path):
    vocabulary = EventVocabulary()
    vocabulary.save(tmp_path / "vocab.json")
    loaded = EventVocabulary.load(tmp_path / "vocab.json")
    assert loaded == vocabulary and loaded.tokens == TOKENS
    assert EventVocabulary.from_json(vocabulary.to_json()) == vocabulary
    ids = loaded.encode(EXAMPLE_TOKENS)
    assert vocabulary.decode(ids) == EXAMPLE_TOKENS


def test_a_foreign_vocabulary_file_fails_clearly(tmp_path):
    (tmp_path / "vocab.json").write_text('{"kind": "chars", "tokens": ["a"]}')
    with pytest.raises(RnnkitError, match="not a melody event vocabulary"):
        EventVocabulary.load(tmp_path / "vocab.json")
    (tmp_path / "vocab.json").write_text('{"kind": ')
    with pytest.raises(RnnkitError, match="corrupt"):
        EventVocabulary.load(tmp_path / "vocab.json")
    with pytest.raises(RnnkitError, match="unknown or repeated"):
        EventVocabulary(("rest", "rest"))


@st.composite
def pieces(draw):
    """Random polyphonic pieces on the 8th grid, with bars."""
    length = draw(st.integers(1, 24))
    notes = {}
    for _ in range(draw(st.integers(0, 8))):
        start = draw(st.integers(0, length - 1))
        pitch = draw(st.integers(21, 108))
        duration = draw(st.integers(1, length - start))
        if all(p != pitch or s + d <= start or start + duration <= s for s, p, d in notes):
            notes[(start, pitch, duration)] = None
    bars = draw(st.sets(st.integers(0, length - 1)))
    return Piece("r", tuple(Note(*key) for key in notes), 2, length, tuple(sorted(bars)))


@settings(max_examples=100, deadline=None)
@given(pieces())
def test_events_round_trip_to_the_melody(piece):
    tokens = piece_to_events(piece)
    assert len([t for t in tokens if t not in ("<bos>", "<eos>", "bar")]) == piece.length
    assert events_to_piece(tokens, 2, name="r") == melody(piece)
