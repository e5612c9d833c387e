"""MIDI writing and reading with mido: exact round trips, what the file holds, and clear errors."""

import os
import tempfile
from pathlib import Path

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.music.midi import TICKS_PER_QUARTER, read_midi, write_midi
from rnnkit.data.music.piece import Note, Piece
from rnnkit.errors import RnnkitError


def test_the_file_holds_the_tempo_and_note_times_in_ticks(tmp_path):
    piece = Piece("p", (Note(0, 60, 2), Note(1, 64, 1)), 4, 4, (0,))  # 16th grid: 120 ticks a step
    midi = mido.MidiFile(write_midi(piece, tmp_path / "p.mid", tempo_bpm=90))
    assert midi.ticks_per_beat == TICKS_PER_QUARTER == 480
    tick, seen = 0, []
    for message in midi.tracks[0]:
        tick += message.time
        if message.type == "set_tempo":
            assert message.tempo == round(60_000_000 / 90)  # microseconds per quarter note
        if message.type in ("note_on", "note_off"):
            seen.append((tick, message.type, message.note))
        if message.type == "time_signature":
            assert (message.numerator, message.denominator) == (1, 4)  # one quarter, one bar
    assert seen == [
        (0, "note_on", 60),
        (120, "note_on", 64),
        (240, "note_off", 60),
        (240, "note_off", 64),
    ]
    assert tick == 4 * 120  # the track ends where the piece ends
    assert midi.length == pytest.approx(4 * 0.25 * 60 / 90)  # seconds: 1 quarter at 90 bpm


def test_a_re_struck_note_is_heard_twice(tmp_path):
    piece = Piece("p", (Note(0, 60, 1), Note(1, 60, 1)), 1, 2)
    assert read_midi(write_midi(piece, tmp_path / "p.mid")).notes == piece.notes
    kinds = [
        m.type for m in mido.MidiFile(tmp_path / "p.mid").tracks[0] if m.type.startswith("note")
    ]
    assert kinds == ["note_on", "note_off", "note_on", "note_off"]


def test_time_signatures_follow_the_bars_and_come_back_as_bars(tmp_path):
    # A one-quarter pickup, two bars of 3/4, one bar of 6/8 cut short: quarter grid.
    piece = Piece("p", (Note(0, 67, 1), Note(1, 72, 9)), 1, 10, (0, 1, 4, 7))
    path = write_midi(piece, tmp_path / "p.mid")
    signatures = [
        (m.numerator, m.denominator)
        for m in mido.MidiFile(path).tracks[0]
        if m.type == "time_signature"
    ]
    assert signatures == [(1, 4), (3, 4)]
    assert read_midi(path).bar_starts == (0, 1, 4, 7)


def test_reading_a_foreign_file_skips_drums_and_quantises(tmp_path):
    off = 0  # note_on with velocity 0 is a note_off
    track = mido.MidiTrack(
        [
            mido.Message("note_on", note=60, velocity=90, channel=0, time=0),
            mido.Message("note_on", note=36, velocity=90, channel=9, time=0),  # a drum
            mido.Message("note_off", note=36, velocity=0, channel=9, time=96),
            mido.Message("note_on", note=60, velocity=off, channel=0, time=96),
            mido.Message("note_on", note=62, velocity=90, channel=1, time=200),  # 392 ticks in
            mido.Message("note_off", note=62, velocity=0, channel=1, time=192),
            mido.Message("note_on", note=64, velocity=90, channel=1, time=0),  # never off
            mido.MetaMessage("end_of_track", time=96),
        ]
    )
    midi = mido.MidiFile(ticks_per_beat=192)
    midi.tracks.append(track)
    midi.save(tmp_path / "f.mid")
    piece = read_midi(tmp_path / "f.mid", "8th")  # 96 ticks a step
    # C4: ticks 0..192 = steps 0..2. D4: ticks 392..584: ceil(392/96) = 5, ceil(584/96) = 7.
    # E4: ticks 584..680 (the end of the track): steps 7..ceil(680/96) = 8.
    assert piece.notes == (Note(0, 60, 2), Note(5, 62, 2), Note(7, 64, 1))
    assert piece.length == 8 and piece.bar_starts == (0,)  # no time signature: 4/4


@st.composite
def pieces(draw):
    steps = draw(st.sampled_from([1, 2, 4]))
    length = draw(st.integers(1, 20))
    notes = []
    for _ in range(draw(st.integers(1, 8))):
        start, pitch = draw(st.integers(0, length - 1)), draw(st.integers(0, 127))
        duration = draw(st.integers(1, length - start))
        if all(n.pitch != pitch or n.end <= start or start + duration <= n.start for n in notes):
            notes.append(Note(start, pitch, duration))
    bars = sorted({0, *draw(st.sets(st.integers(1, length - 1)))}) if length > 1 else [0]
    return Piece("r", tuple(notes), steps, length, tuple(bars))


@settings(max_examples=60, deadline=None)
@given(pieces(), st.floats(30, 240))
def test_write_then_read_gives_the_same_piece(piece, bpm):
    grid = {1: "quarter", 2: "8th", 4: "16th"}[piece.steps_per_quarter]
    with tempfile.TemporaryDirectory() as folder:
        back = read_midi(write_midi(piece, Path(folder) / "r.mid", tempo_bpm=bpm), grid)
    assert (back.notes, back.length, back.bar_starts) == (
        piece.notes,
        piece.length,
        piece.bar_starts,
    )


def test_random_bytes_give_one_clear_line(tmp_path):
    path = tmp_path / "noise.mid"
    path.write_bytes(os.urandom(300))
    with pytest.raises(RnnkitError, match="not a readable MIDI file") as error:
        read_midi(path)
    assert "\n" not in str(error.value)


def test_a_truncated_file_gives_one_clear_line(tmp_path):
    piece = Piece("p", (Note(0, 60, 2),), 1, 2)
    data = write_midi(piece, tmp_path / "p.mid").read_bytes()
    (tmp_path / "cut.mid").write_bytes(data[: len(data) // 2])
    with pytest.raises(RnnkitError, match="not a readable MIDI file"):
        read_midi(tmp_path / "cut.mid")


def test_empty_files_give_one_clear_line(tmp_path):
    (tmp_path / "zero.mid").write_bytes(b"")
    with pytest.raises(RnnkitError, match=r"zero\.mid is empty; give a MIDI file with notes$"):
        read_midi(tmp_path / "zero.mid")
    silent = write_midi(Piece("s", (), 1, 4), tmp_path / "silent.mid")
    with pytest.raises(RnnkitError, match="has no notes; give a MIDI file with pitched notes"):
        read_midi(silent)
    with pytest.raises(RnnkitError, match="does not exist"):
        read_midi(tmp_path / "missing.mid")


def test_a_drums_only_file_says_so_rather_than_suggesting_a_grid(tmp_path):
    midi = mido.MidiFile()
    track = mido.MidiTrack()
    midi.tracks.append(track)
    for _ in range(4):
        track.append(mido.Message("note_on", note=36, velocity=90, channel=9, time=0))
        track.append(mido.Message("note_off", note=36, velocity=0, channel=9, time=480))
    midi.save(tmp_path / "drums.mid")
    with pytest.raises(RnnkitError, match=r"has only drums \(MIDI channel 10\)") as error:
        read_midi(tmp_path / "drums.mid", "16th")
    assert "grid" not in str(error.value)


def test_notes_shorter_than_the_grid_vanish_and_say_so(tmp_path):
    piece = Piece("p", (Note(1, 60, 1),), 4, 2)  # one 16th, from the 2nd 16th on
    path = write_midi(piece, tmp_path / "p.mid")
    assert read_midi(path, "16th").notes == (Note(1, 60, 1),)
    with pytest.raises(RnnkitError, match="no notes on the quarter grid"):
        read_midi(path, "quarter")


def test_a_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(RnnkitError, match="cannot write"):
        write_midi(Piece("p", (Note(0, 60, 1),), 1, 1), tmp_path / "no-such-folder" / "p.mid")
    assert list(tmp_path.iterdir()) == []
