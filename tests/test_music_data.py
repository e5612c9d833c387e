"""Music data end to end: scores -> pieces -> roll / tokens -> MIDI -> read back by music21;
file and folder errors; corpora, the parse cache, splits, augmentation and JSB JSON."""

import json
import os
from fractions import Fraction
from pathlib import Path

import pytest
from music21 import chord, converter, stream

from music21_reference import music21_notes
from rnnkit.data.music import cache as cache_module
from rnnkit.data.music.augment import transpositions
from rnnkit.data.music.cache import read_cached
from rnnkit.data.music.corpus import corpus_folder, load_jsb_json, load_music, music_files
from rnnkit.data.music.events import events_to_piece, piece_to_events
from rnnkit.data.music.midi import write_midi
from rnnkit.data.music.pianoroll import piece_to_roll, roll_to_frames, roll_to_piece
from rnnkit.data.music.piece import Note, Piece
from rnnkit.data.music.quantise import quantise
from rnnkit.data.music.score import read_music_file, score_to_piece
from rnnkit.data.music.splits import split_pieces
from rnnkit.errors import RnnkitError

# Two parts in 3/4 with a quarter pickup. Melody: pickup G4 8th + A4 8th, then B4 q, C5 h (tied into
# the next bar: a dotted-half C5 + a quarter = one note), D5 q, rest q, E5 8th F5 8th, G5 h.
# Bass: pickup rest, then a C3-G3 chord for a dotted half, B2 half, rest quarter, C3 dotted half.
MELODY = "tinyNotation: 1/4 g8 a8 3/4 b4 c'2~ c'4 d'4 r4 e'8 f'8 g'2"
BASS = "tinyNotation: 1/4 r4 3/4 C2. BB2 r4 C2."  # the first C3 becomes a C3-G3 chord
# Expected on the 8th grid (2 steps a quarter): (pitch, start, duration) in steps.
EXPECTED_8TH = sorted(
    [
        (67, 0, 1), (69, 1, 1), (71, 2, 2), (72, 4, 6), (74, 10, 2), (76, 14, 1), (77, 15, 1),
        (79, 16, 4), (48, 2, 6), (55, 2, 6), (47, 8, 4), (48, 14, 6),
    ]
)  # fmt: skip
BARS_8TH = (0, 2, 8, 14)  # pickup of one quarter, then 3/4 bars of 6 steps
LENGTH_8TH = 20


def tiny_score() -> stream.Score:
    bass = converter.parse(BASS)
    first = bass.recurse().notes.first()
    first.activeSite.replace(first, chord.Chord(["C3", "G3"], quarterLength=3))
    score = stream.Score()
    score.insert(0, converter.parse(MELODY))
    score.insert(0, bass)
    return score


def notes_of(piece: Piece) -> list[tuple[int, int, int]]:
    return sorted((note.pitch, note.start, note.duration) for note in piece.notes)


def in_quarters(notes, steps_per_quarter):
    return sorted(
        (pitch, Fraction(start, steps_per_quarter), Fraction(duration, steps_per_quarter))
        for pitch, start, duration in notes
    )


def test_a_score_becomes_the_hand_computed_piece():
    piece = score_to_piece(tiny_score(), "tiny", "8th")
    assert notes_of(piece) == EXPECTED_8TH
    assert (piece.length, piece.bar_starts) == (LENGTH_8TH, BARS_8TH)


def test_score_to_roll_to_midi_reads_back_in_music21_with_the_same_notes_and_timing(tmp_path):
    piece = score_to_piece(tiny_score(), "tiny", "8th")
    from_roll = roll_to_piece(piece_to_roll(piece), piece.steps_per_quarter)
    path = write_midi(from_roll, tmp_path / "roll.mid", tempo_bpm=72)
    assert music21_notes(path) == in_quarters(EXPECTED_8TH, 2)


def test_score_to_tokens_to_midi_reads_back_in_music21_with_the_melody(tmp_path):
    piece = score_to_piece(tiny_score(), "tiny", "8th")
    tokens = piece_to_events(piece)
    assert tokens[:8] == ["<bos>", "bar", "on_67", "on_69", "bar", "on_71", "hold", "on_72"]
    path = write_midi(events_to_piece(tokens, 2), tmp_path / "melody.mid")
    melody = [note for note in EXPECTED_8TH if note[0] >= 67]  # the top part never dips below
    assert music21_notes(path) == in_quarters(melody, 2)


def test_the_grid_samples_what_sounds_at_each_step():
    # On the quarter grid the 8th-note pickup G4 (0-0.5) sounds at step 0; A4 (0.5-1) sounds at no
    # grid point and vanishes; E5 at 7.0-7.5 sounds at step 7, F5 at 7.5-8 vanishes.
    piece = score_to_piece(tiny_score(), "tiny", "quarter")
    melody = sorted((p, s, d) for p, s, d in notes_of(piece) if p >= 67)
    assert melody == [(67, 0, 1), (71, 1, 1), (72, 2, 3), (74, 5, 1), (76, 7, 1), (79, 8, 2)]
    assert piece.bar_starts == (0, 1, 4, 7)


def test_same_pitch_overlaps_merge_and_a_new_onset_strikes_again():
    notes = [(60, 0, 4), (60, 0, 2), (62, 0, 2), (62, 1, 4)]
    piece = quantise("q", [(p, Fraction(s), Fraction(e)) for p, s, e in notes], 1, Fraction(4))
    assert piece.notes == (Note(0, 60, 4), Note(0, 62, 1), Note(1, 62, 3))


def test_a_bach_chorale_matches_a_brute_force_sampling_of_music21(tmp_path):
    path = corpus_folder("bach") / "bwv10.7.mxl"
    piece = read_music_file(path, "quarter")[0]
    score = converter.parse(path, forceSource=True).stripTies()
    spans = [
        (p.midi, Fraction(n.offset), Fraction(n.offset) + Fraction(n.quarterLength))
        for n in score.flatten().notes
        for p in n.pitches
    ]
    frames = roll_to_frames(piece_to_roll(piece))
    for step, pitches in enumerate(frames):
        assert pitches == sorted({p for p, start, end in spans if start <= step < end})
    assert len(frames) == score.highestTime


def test_musicxml_and_abc_files_are_read(tmp_path):
    xml = tiny_score().write("musicxml", fp=tmp_path / "tiny.musicxml")
    assert notes_of(read_music_file(xml, "8th")[0]) == EXPECTED_8TH
    abc = tmp_path / "two.abc"
    abc.write_text(
        'X:1\nT:One\nM:2/4\nL:1/8\nK:C\nCDEF|G4|]\n\nX:2\nT:Two\nM:2/4\nL:1/8\nK:C\n"C"c4|c2z2|]\n'
    )
    one, two = read_music_file(abc, "8th")
    assert (one.name, two.name) == (f"{abc}#1", f"{abc}#2")
    assert notes_of(one) == [(60, 0, 1), (62, 1, 1), (64, 2, 1), (65, 3, 1), (67, 4, 4)]
    assert notes_of(two) == [(72, 0, 4), (72, 4, 2)]  # the chord symbol "C" is not a note
    assert one.bar_starts == (0, 4)


def one_line_error(call, match):
    with pytest.raises(RnnkitError, match=match) as error:
        call()
    assert "\n" not in str(error.value)


def test_corrupt_and_empty_files_give_one_clear_line(tmp_path):
    noise = tmp_path / "noise.mid"
    noise.write_bytes(os.urandom(500))
    one_line_error(lambda: read_music_file(noise), "not a readable MIDI file")
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    one_line_error(lambda: read_music_file(empty), "empty.mid is empty")
    silent = write_midi(Piece("s", (), 1, 4), tmp_path / "silent.mid")
    one_line_error(lambda: read_music_file(silent), "has no notes")
    bad_xml = tmp_path / "bad.musicxml"
    bad_xml.write_bytes(os.urandom(200))
    one_line_error(lambda: read_music_file(bad_xml), "could not be parsed")
    (tmp_path / "rests.abc").write_text("X:1\nT:Rests\nM:2/4\nL:1/4\nK:C\nz2|z2|]\n")
    one_line_error(lambda: read_music_file(tmp_path / "rests.abc"), "has no notes")
    one_line_error(lambda: read_music_file(tmp_path / "notes.txt"), "unknown music file type")


def test_folders_with_no_usable_music_give_one_clear_line(tmp_path):
    (tmp_path / "readme.txt").write_text("no music here")
    one_line_error(lambda: load_music(tmp_path, cache=False), "holds no music files")
    (tmp_path / "empty.mid").write_bytes(b"")
    one_line_error(lambda: load_music(tmp_path, cache=False, progress=False), "empty.mid")
    one_line_error(lambda: load_music(tmp_path / "nowhere"), "neither a corpus")
    one_line_error(lambda: load_music("mozart"), "neither a corpus")
    one_line_error(lambda: load_music(tmp_path, grid="32nd"), "unknown grid '32nd'")


def test_a_user_folder_is_read_recursively_with_names_inside_it(tmp_path):
    (tmp_path / "sub").mkdir()
    for index in range(5):
        piece = Piece("p", (Note(0, 60 + index, 2),), 1, 2)
        write_midi(piece, tmp_path / ("sub" if index % 2 else ".") / f"t{index}.mid")
    (tmp_path / "._t0.mid").write_bytes(b"\x00\x05\x16\x07")  # a macOS shadow file, not music
    splits = load_music(
        tmp_path, cache=False, progress=False, valid_fraction=0.2, test_fraction=0.2
    )
    names = sorted(p.name for p in splits.train + splits.valid + splits.test)
    assert names == ["sub/t1.mid", "sub/t3.mid", "t0.mid", "t2.mid", "t4.mid"]
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (3, 1, 1)


def test_built_in_corpora_are_found_without_a_download():
    assert len(music_files(corpus_folder("bach"))) > 300
    assert corpus_folder("nottingham").name == "nottingham-dataset"
    one_line_error(lambda: corpus_folder("beatles"), "unknown corpus")


def test_loading_a_few_chorales_through_the_cache(tmp_path):
    splits = load_music("bach", limit=3, cache_dir=tmp_path, progress=False)
    pieces = splits.train + splits.valid + splits.test
    assert sorted(p.name for p in pieces) == ["bwv1.6.mxl", "bwv10.7.mxl", "bwv101.7.mxl"]
    assert len(list(tmp_path.glob("*.json"))) == 3
    again = load_music("bach", limit=3, cache_dir=tmp_path, progress=False)
    assert again == splits


def test_nottingham_gives_one_piece_per_tune(tmp_path):
    splits = load_music("nottingham", "8th", cache_dir=tmp_path, progress=False)
    pieces = splits.train + splits.valid + splits.test
    assert sorted(p.name for p in pieces) == ["reelsa-c.abc#1", "reelsa-c.abc#2"]
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (1, 1, 0)


def midi_file(folder: Path, pitch: int) -> Path:
    return write_midi(Piece("p", (Note(0, pitch, 2),), 1, 2), folder / "song.mid")


def test_the_cache_parses_once(tmp_path, monkeypatch):
    song = midi_file(tmp_path, 60)
    first = read_cached(song, "quarter", tmp_path / "cache")
    monkeypatch.setattr(cache_module, "read_music_file", lambda *_: pytest.fail("parsed again"))
    assert read_cached(song, "quarter", tmp_path / "cache") == first
    (entry,) = (tmp_path / "cache").glob("*.json")
    assert json.loads(entry.read_text())["pieces"][0]["notes"] == [[0, 60, 2]]


def test_the_cache_parses_again_after_an_edit_another_grid_or_damage(tmp_path):
    cache_dir = tmp_path / "cache"
    song = midi_file(tmp_path, 60)
    assert read_cached(song, "quarter", cache_dir)[0].notes == (Note(0, 60, 2),)
    midi_file(tmp_path, 62)
    os.utime(song, ns=(1, 1))  # a new modification time, whatever the clock's resolution
    assert read_cached(song, "quarter", cache_dir)[0].notes == (Note(0, 62, 2),)
    assert read_cached(song, "8th", cache_dir)[0].notes == (Note(0, 62, 4),)
    for entry in cache_dir.glob("*.json"):
        entry.write_text("{not json")
    assert read_cached(song, "8th", cache_dir)[0].notes == (Note(0, 62, 4),)


def piece_named(name: str) -> Piece:
    return Piece(name, (Note(0, 60, 1),), 1, 1)


def test_splits_are_deterministic_and_independent_of_order():
    pieces = [piece_named(f"p{i}") for i in range(100)]
    splits = split_pieces(pieces, 0.1, 0.2)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (70, 10, 20)
    assert split_pieces(pieces[::-1], 0.1, 0.2) == splits
    names = [p.name for p in splits.train + splits.valid + splits.test]
    assert sorted(names) == sorted(p.name for p in pieces)
    assert [p.name for p in splits.valid] == sorted(p.name for p in splits.valid)


@pytest.mark.parametrize(("n", "sizes"), [(1, (1, 0, 0)), (2, (1, 1, 0)), (3, (1, 1, 1))])
def test_tiny_collections_keep_a_training_piece(n, sizes):
    splits = split_pieces([piece_named(f"p{i}") for i in range(n)])
    assert (len(splits.train), len(splits.valid), len(splits.test)) == sizes


def test_bad_fractions_fail_clearly():
    one_line_error(lambda: split_pieces([], 0.6, 0.5), "sum to less than 1")
    one_line_error(lambda: split_pieces([], -0.1, 0.1), "fractions")


def test_transpositions_shift_every_note_and_skip_shifts_off_the_piano():
    low = Piece("low", (Note(0, 22, 1), Note(1, 30, 1)), 1, 2)
    high = Piece("high", (Note(0, 105, 1),), 1, 1)
    shifted = transpositions([low, high], range(-2, 5))
    assert [p.name for p in shifted] == [
        "low-1", "low", "low+1", "low+2", "low+3", "low+4", "high-2", "high-1", "high", "high+1",
        "high+2", "high+3",
    ]  # fmt: skip
    assert [n.pitch for n in shifted[0].notes] == [21, 29]
    assert shifted[-1].notes == (Note(0, 108, 1),)


def test_jsb_json_loads_with_its_standard_split(shared_data):
    jsb_quarter = shared_data / "jsb-chorales-quarter.json"  # ../shared/data, see conftest.py
    splits = load_jsb_json(jsb_quarter)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (229, 76, 77)
    data = json.loads(jsb_quarter.read_text())
    by_name = {p.name: p for p in splits.test}
    for index, frames in enumerate(data["test"]):
        assert roll_to_frames(piece_to_roll(by_name[f"test/{index}"])) == [
            sorted(f) for f in frames
        ]
    assert load_music(jsb_quarter, limit=2).valid == splits.valid[:2]


def test_broken_jsb_json_fails_clearly(tmp_path):
    path = tmp_path / "jsb.json"
    path.write_text('{"train": [], "valid": []}')
    one_line_error(lambda: load_jsb_json(path), "lists under train, valid and test")
    path.write_text('{"train": [[[60, 200]]], "valid": [], "test": []}')
    one_line_error(lambda: load_jsb_json(path), "pitch 200 at step 0")
    path.write_text('{"train": [[60, 64]], "valid": [], "test": []}')
    one_line_error(lambda: load_jsb_json(path), "list of time steps")
    path.write_text("[1, 2")
    one_line_error(lambda: load_jsb_json(path), "cannot read")


def test_a_file_music21_cannot_read_is_skipped_with_one_warning(tmp_path, capsys):
    from rnnkit.data.music import Note, Piece, read_music_files, write_midi

    good = write_midi(Piece("g", (Note(0, 60, 2), Note(2, 64, 2)), 1, 4), tmp_path / "good.mid")
    (tmp_path / "bad.mid").write_bytes(b"MThd\x00\x00")
    pieces = read_music_files([tmp_path / "bad.mid", good], cache=False, progress=False)
    assert len(pieces) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "warning: skipped" in err[0] and "bad.mid" in err[0]
    assert "1 of 2 music files could not be read" in err[1]
    with pytest.raises(RnnkitError, match=r"none of the 2 music files could be read: .*bad.mid"):
        read_music_files([tmp_path / "bad.mid"] * 2, cache=False, progress=False)


def test_the_folk_corpora_are_music21s_own():
    from rnnkit.data.music import CORPORA, corpus_folder

    for name in ("essen", "oneills", "ryans"):
        assert name in CORPORA and corpus_folder(name).is_dir()
