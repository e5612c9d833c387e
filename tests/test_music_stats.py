"""Statistics of pieces and collections, checked on hand-made cases and against music21."""

import math

import numpy as np
import pytest
from music21 import converter

from rnnkit.data.music.corpus import corpus_folder
from rnnkit.data.music.midi import write_midi
from rnnkit.data.music.piece import Note, Piece
from rnnkit.data.music.score import read_music_file
from rnnkit.data.music.stats import (
    PITCH_CLASS_NAMES,
    collection_stats,
    compare,
    compare_folder,
    estimate_key,
    format_comparison,
    piece_stats,
    pitch_class_distance,
)


def piece(notes, length, steps_per_quarter=1, name="t"):
    return Piece(name, tuple(Note(*note) for note in notes), steps_per_quarter, length)


# Quarter grid: a C major triad held for 4 steps, F#4 for 1, a rest, C5 for 2.
TRIAD = [(0, 60, 4), (0, 64, 4), (0, 67, 4), (4, 66, 1), (6, 72, 2)]


def test_hand_computed_statistics_of_one_piece():
    stats = piece_stats(piece(TRIAD, 8))
    assert list(stats.pitch_classes) == [2, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0]  # C C E F# G
    # Sounding notes per step: 3 3 3 3 1 0 1 1 -> mean over the 7 busy steps = 15 / 7.
    assert stats.polyphony == pytest.approx(15 / 7)
    assert stats.note_density == pytest.approx(5 / 8)  # 5 notes in 8 quarter notes
    assert stats.key == "C major"
    assert stats.in_key == pytest.approx(4 / 5)  # F# is the one note outside C major


def test_note_density_counts_quarter_notes_not_steps():
    assert piece_stats(piece(TRIAD, 8, steps_per_quarter=2)).note_density == pytest.approx(5 / 4)


def test_minor_keys_count_the_raised_leading_tone_as_in_key():
    # A3 C4 E4 A4 G#4 A4: A minor, and G# (the leading tone) is in the scale.
    tune = piece([(0, 57, 2), (2, 60, 1), (3, 64, 1), (4, 69, 2), (6, 68, 1), (7, 69, 1)], 8)
    assert estimate_key(tune) == (9, "minor")
    assert piece_stats(tune).in_key == 1.0
    scale = piece([(step, pitch, 1) for step, pitch in enumerate([60, 62, 64, 65, 67, 69, 71])], 7)
    assert piece_stats(scale).key == "C major" and piece_stats(scale).in_key == 1.0


@pytest.mark.parametrize(
    ("name", "expected"), [("bwv10.7.mxl", "G minor"), ("bwv104.6.mxl", "A major")]
)
def test_key_finding_agrees_with_music21_on_chorales(name, expected):
    path = corpus_folder("bach") / name
    found = converter.parse(path, forceSource=True).analyze("key.krumhanslkessler")
    assert f"{found.tonic.name} {found.mode}".replace("-", "b") == expected
    assert piece_stats(read_music_file(path, "16th")[0]).key == expected


def test_a_silent_piece_has_no_key_and_zero_activity():
    stats = piece_stats(piece([], 4))
    assert (stats.polyphony, stats.note_density, stats.key) == (0.0, 0.0, "")
    assert math.isnan(stats.in_key)


def test_pitch_class_distance_is_half_the_l1_distance():
    only_c = np.eye(12)[0]
    c_and_g = (np.eye(12)[0] + np.eye(12)[7]) / 2
    assert pitch_class_distance(only_c, c_and_g) == pytest.approx(0.5)
    assert pitch_class_distance(only_c, np.eye(12)[1]) == pytest.approx(1.0)
    assert pitch_class_distance(c_and_g, c_and_g) == 0.0


def test_collections_pool_the_histogram_and_average_the_rest():
    three_cs = piece([(0, 60, 1), (1, 48, 1), (2, 72, 1)], 4)  # density 3/4, polyphony 1
    one_g = piece([(0, 67, 2), (0, 71, 2)], 2)  # density 2/2, polyphony 2
    silent = piece([], 2)
    stats = collection_stats([three_cs, one_g, silent])
    assert stats.pieces == 3
    assert list(stats.pitch_class_histogram) == pytest.approx(
        [3 / 5, 0, 0, 0, 0, 0, 0, 1 / 5, 0, 0, 0, 1 / 5]
    )
    assert stats.polyphony == pytest.approx((1 + 2 + 0) / 3)
    assert stats.note_density == pytest.approx((3 / 4 + 1 + 0) / 3)
    assert stats.in_key == pytest.approx(1.0)  # the silent piece is left out of this mean
    # Neither piece ever sounds three pitch classes at once; the silent one is left out.
    assert (stats.triads, stats.sevenths) == (0.0, 0.0)
    with_triad = collection_stats([piece([(0, 60, 1), (0, 64, 1), (0, 67, 1)], 2), three_cs])
    assert with_triad.triads == pytest.approx((1 + 0) / 2)


def test_compare_and_its_table():
    generated = [piece([(0, 60, 1)], 1)]
    reference = [piece([(0, 60, 1), (1, 60, 1), (2, 60, 1)], 3), piece([(0, 67, 1)], 1)]
    comparison = compare(generated, reference)
    assert comparison.pitch_class_distance == pytest.approx(0.25)  # [1, 0] vs pooled [3/4, 1/4]
    table = format_comparison(comparison)
    assert "0.250" in table and "generated" in table and "reference" in table
    assert table.splitlines()[1].split()[-2:] == ["1", "2"]  # the number of pieces


def test_compare_folder_reads_the_generated_midi(tmp_path):
    pieces = [piece(TRIAD, 8, name="a"), piece([(0, 62, 2), (2, 69, 2)], 4, name="b")]
    for index, each in enumerate(pieces):
        write_midi(each, tmp_path / f"{index}.mid")
    reference = [piece([(0, 61, 1)], 1)]
    assert compare_folder(tmp_path, reference, "quarter") == compare(pieces, reference)


def test_pitch_class_names_start_at_c():
    assert (
        PITCH_CLASS_NAMES[0] == "C" and PITCH_CLASS_NAMES[9] == "A" and len(PITCH_CLASS_NAMES) == 12
    )
