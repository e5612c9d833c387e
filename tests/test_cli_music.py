"""`rnnkit train music`, `generate` and `evaluate` run for real on a few JSB chorales (and two Bach
chorales from music21's corpus) with tiny models, in a temporary folder."""

import json
import shutil
import warnings
from fractions import Fraction
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import SHARED_DATA, evaluated
from conftest import error_line as any_error_line
from music21_reference import music21_notes
from rnnkit.cli.main import main
from rnnkit.data.music import load_music, piece_to_roll, read_midi, write_midi
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.tasks.registry import load_run

TINY = ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--no-progress"]
JSB = "jsb-chorales-quarter.json"
# Reading a corpus draws its progress bar on stderr even when the command then fails.
error_line = partial(any_error_line, progress="reading music")


def train(shared, out, *extra: str, task: str = "music") -> int:
    corpus = ["--corpus", str(shared / JSB), "--limit", "6"]
    return main(["train", task, *corpus, *TINY, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def shared():
    if not (SHARED_DATA / JSB).is_file():
        pytest.skip(f"{SHARED_DATA / JSB} is not present")
    return SHARED_DATA


@pytest.fixture(scope="module")
def roll_run(shared, tmp_path_factory):
    out = tmp_path_factory.mktemp("music") / "roll"
    # Enough steps at a high learning rate to learn that few keys sound at once.
    assert train(shared, out, "--steps", "30", "--lr", "0.03", "--warmup", "0") == 0
    return out


@pytest.fixture(scope="module")
def melody_run(shared, tmp_path_factory):
    out = tmp_path_factory.mktemp("music") / "melody"
    assert train(shared, out, "--steps", "4", "--eval-every", "2", task="melody") == 0
    return out


def test_train_writes_a_music_run(roll_run, melody_run):
    config = json.loads((roll_run / "config.json").read_text())
    assert config["task"] == "music"
    assert json.loads((melody_run / "config.json").read_text())["task"] == "melody"
    assert config["task_config"]["model"]["hidden_size"] == 8
    assert (roll_run / "model.safetensors").is_file()
    assert (roll_run / "openings.json").is_file()
    assert (melody_run / "vocab.json").is_file()


def test_evaluate_scores_the_test_split_as_an_independent_sum(roll_run, shared, capsys):
    assert main(["evaluate", str(roll_run), "test"]) == 0
    reported = evaluated(capsys.readouterr().out)
    # Independently: each test chorale alone, frames 2..T, summed, over all predicted frames.
    task = load_run(roll_run)
    total, frames = 0.0, 0
    for piece in load_music(shared / JSB, "quarter", limit=6).test:
        roll = torch.from_numpy(piece_to_roll(piece))  # (T, 88)
        with torch.no_grad():
            h, _ = task.model(roll[None, :-1])
            logits = task.model.output(h[0])  # V h_t + b_y
        total += F.binary_cross_entropy_with_logits(logits, roll[1:], reduction="sum").item()
        frames += len(roll) - 1
    assert reported["loss"] == pytest.approx(total / frames, abs=1e-3)
    # Without FILE, a music run scores the same test split.
    assert main(["evaluate", str(roll_run)]) == 0
    out = capsys.readouterr().out
    assert "its test split" in out.strip().splitlines()[-2] and evaluated(out) == reported


def test_a_nade_run_trains_evaluates_and_generates(shared, tmp_path, capsys):
    run = tmp_path / "nade"
    assert train(shared, run, "--output", "nade", "--nade-hidden", "6", "--steps", "4") == 0
    model = json.loads((run / "config.json").read_text())["task_config"]["model"]
    assert model["output"] == "nade" and model["nade_hidden_size"] == 6
    capsys.readouterr()
    assert main(["evaluate", str(run), "valid"]) == 0
    reported = evaluated(capsys.readouterr().out)["loss"]
    task = load_run(run)
    total, frames = 0.0, 0
    for piece in load_music(shared / JSB, "quarter", limit=6).valid:  # each chorale alone
        roll = torch.from_numpy(piece_to_roll(piece))  # (T, 88)
        with torch.no_grad():
            h, _ = task.model(roll[None, :-1])
            total += task.model.output.frame_nll(h[0], roll[1:]).sum().item()
        frames += len(roll) - 1
    assert reported == pytest.approx(total / frames, abs=1e-3)
    songs = [tmp_path / "a.mid", tmp_path / "b.mid"]
    for song in songs:
        assert main(["generate", str(run), "--bars", "2", "--seed", "3", "--out", str(song)]) == 0
    assert songs[0].read_bytes() == songs[1].read_bytes()


def test_a_nade_run_with_the_cells_layer_options_trains_and_generates(shared, tmp_path):
    run = tmp_path / "nade-options"
    options = ["--cell", "lstm", "--layer-norm", "--zoneout", "0.1", "--recurrent-dropout", "0.1"]
    options += ["--proj", "4"]
    assert train(shared, run, "--output", "nade", "--nade-hidden", "6", "--steps", "3",
                 *options) == 0  # fmt: skip
    model = json.loads((run / "config.json").read_text())["task_config"]["model"]
    assert (model["layer_norm"], model["zoneout"], model["recurrent_dropout"]) == (True, 0.1, 0.1)
    task = load_run(run)
    assert task.model.output.bias_weight.shape[1] == 4  # the NADE's biases read the projection
    out = tmp_path / "chord.mid"
    assert main(["generate", str(run), "--primer-pitches", "60,64,67", "--steps", "3",
                 "--seed", "1", "--out", str(out)]) == 0  # fmt: skip
    first = piece_to_roll(read_midi(out))[0]
    assert np.flatnonzero(first).tolist() == [60 - 21, 64 - 21, 67 - 21]


def test_primer_pitches_start_a_piece_with_a_chord_and_a_tune_with_those_notes(
    roll_run, melody_run, tmp_path
):
    chord = tmp_path / "chord.mid"
    assert main(["generate", str(roll_run), "--primer-pitches", "62,65,69", "--steps", "4",
                 "--seed", "1", "--out", str(chord)]) == 0  # fmt: skip
    roll = piece_to_roll(read_midi(chord))
    assert np.flatnonzero(roll[0]).tolist() == [62 - 21, 65 - 21, 69 - 21]  # D minor
    tune = tmp_path / "tune.mid"
    assert main(["generate", str(melody_run), "--primer-pitches", "60,62,64", "--steps", "4",
                 "--seed", "1", "--out", str(tune)]) == 0  # fmt: skip
    opening = [(n.start, n.pitch) for n in read_midi(tune).notes][:3]
    assert opening == [(0, 60), (1, 62), (2, 64)]  # a quarter note each, in order
    with_abc = tmp_path / "abc.mid"
    assert main(["generate", str(melody_run), "--primer-pitches", "60,62,64", "--steps", "4",
                 "--seed", "1", "--out", str(with_abc), "--abc"]) == 0  # fmt: skip
    abc = with_abc.with_suffix(".abc").read_text().splitlines()
    assert abc[3] == "L:1/4" and abc[-1].startswith("C D E")  # the primer, a quarter note each


@pytest.mark.parametrize("bad", ["60,sixty", "60,120"])
def test_bad_primer_pitches_are_one_error_line(roll_run, tmp_path, capsys, bad):
    out = tmp_path / "never.mid"
    assert main(["generate", str(roll_run), "--primer-pitches", bad, "--out", str(out)]) == 2
    line = error_line(capsys)
    assert "--primer-pitches" in line and bad.split(",")[1] in line
    assert not out.exists()


def test_generated_midi_reads_back_in_music21_with_the_notes_generated(roll_run, tmp_path, capsys):
    out = tmp_path / "song.mid"
    args = ["generate", str(roll_run), "--bars", "2", "--seed", "7", "--temperature", "0.5"]
    assert main([*args, "--out", str(out)]) == 0
    assert out.with_suffix(".png").stat().st_size > 0
    task = load_run(roll_run)
    piece = task.generate(8, Sampler(SamplerConfig(temperature=0.5, seed=7)))  # 2 bars
    expected = sorted(
        (n.pitch, Fraction(n.start), Fraction(n.duration)) for n in piece.notes
    )  # the quarter grid: one step is one quarter note
    assert piece.length == 8  # the opening chord and 7 generated frames
    assert music21_notes(out) == expected
    again = tmp_path / "again.mid"
    assert main([*args, "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_a_primed_piece_starts_with_the_prime(roll_run, shared, tmp_path):
    chorale = load_music(shared / JSB, "quarter", limit=1).valid[0]
    prime = write_midi(chorale, tmp_path / "prime.mid")
    out = tmp_path / "continued.mid"
    assert main(["generate", str(roll_run), "--prime", str(prime), "--prime-bars", "2",
                 "--steps", "5", "--seed", "1", "--out", str(out)]) == 0  # fmt: skip
    written = piece_to_roll(read_midi(out))
    assert written.shape[0] == 8 + 5
    np.testing.assert_array_equal(written[:8], piece_to_roll(chorale)[:8])


def test_melody_generation_is_one_line_with_bars(melody_run, tmp_path, capsys):
    out = tmp_path / "tune.mid"
    assert main(["generate", str(melody_run), "--bars", "3", "--seed", "2", "--out", str(out)]) == 0
    tune = read_midi(out)
    roll = piece_to_roll(tune)
    assert roll.sum(axis=1).max() <= 1  # a melody: never two notes at once
    assert tune.length <= 12  # 3 bars of 4/4 on the quarter grid (trailing rests not in MIDI)


def test_evaluate_generated_music_against_the_training_data(roll_run, tmp_path, capsys):
    folder = tmp_path / "generated"
    folder.mkdir()
    for seed in (1, 2):
        assert main(["generate", str(roll_run), "--seed", str(seed), "--bars", "2",
                     "--out", str(folder / f"{seed}.mid")]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["evaluate", str(roll_run), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "pitch-class histogram distance" in out
    numbers = out.strip().splitlines()[-1].split()
    assert numbers[numbers.index("pieces") + 1] == "2"


def test_generated_statistics_without_a_loss(roll_run, tmp_path, capsys):
    from rnnkit.data.music import compare, read_music_folder

    folder = tmp_path / "generated"
    folder.mkdir()
    assert main(["generate", str(roll_run), "--seed", "3", "--bars", "1",
                 "--out", str(folder / "a.mid")]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["evaluate", str(roll_run), "--generated", str(folder)]) == 0
    metrics = evaluated(capsys.readouterr().out)
    assert "loss" not in metrics
    training = load_music(SHARED_DATA / JSB, "quarter", limit=6).train
    expected = compare(read_music_folder(folder, progress=False), training)
    # Printed to 4 decimals; computed independently from the files and the training split.
    assert metrics["pitch_class_distance"] == pytest.approx(expected.pitch_class_distance, abs=1e-4)
    assert metrics["train_polyphony"] == pytest.approx(expected.reference.polyphony, abs=1e-4)


def test_bach_from_music21s_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "bach"
    args = ["train", "music", "--limit", "3", *TINY, "--steps", "2", "--out", str(out)]
    assert main(args) == 0
    assert json.loads((out / "config.json").read_text())["task_config"]["data"]["source"] == "bach"


@pytest.mark.parametrize("content", [b"", b"MThd\x00\x00\x00\x06\x00\x01", b"not midi at all"])
def test_corrupt_or_empty_midi_gives_one_error_line(roll_run, tmp_path, capsys, content):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(content)
    assert main(["evaluate", str(roll_run), str(bad)]) == 2
    assert "bad.mid" in error_line(capsys)
    out = tmp_path / "song.mid"
    assert main(["generate", str(roll_run), "--prime", str(bad), "--out", str(out)]) == 2
    assert "bad.mid" in error_line(capsys)
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert (
        main(["train", "music", "--corpus", str(tmp_path), *TINY, "--out", str(tmp_path / "r")])
        == 2
    )
    assert "bad.mid" in error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_a_folder_without_music_gives_one_error_line(roll_run, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no music here")
    assert (
        main(["train", "music", "--corpus", str(tmp_path), *TINY, "--out", str(tmp_path / "r")])
        == 2
    )
    assert "no music files" in error_line(capsys)
    assert main(["evaluate", str(roll_run), str(tmp_path)]) == 2
    assert "no music files" in error_line(capsys)


def test_generate_refuses_to_overwrite_and_other_tasks(roll_run, tmp_path, capsys):
    out = tmp_path / "song.mid"
    out.write_bytes(b"keep")
    assert main(["generate", str(roll_run), "--out", str(out)]) == 2
    assert "--force" in error_line(capsys)
    assert out.read_bytes() == b"keep"
    assert main(["sample", str(roll_run)]) == 2
    assert "rnnkit generate" in error_line(capsys)


@pytest.mark.skipif(shutil.which("fluidsynth") is not None, reason="FluidSynth is installed")
def test_wav_without_fluidsynth_says_it_is_not_installed(roll_run, tmp_path, capsys):
    out = tmp_path / "song.mid"
    assert main(["generate", str(roll_run), "--wav", "--out", str(out)]) == 2
    assert "not installed" in error_line(capsys)
    assert not out.exists()


def test_a_resumed_run_computes_what_an_uninterrupted_one_does(shared, tmp_path):
    from safetensors.torch import load_file

    schedule = ["--schedule", "constant", "--warmup", "0", "--eval-every", "3", "--transpose"]
    assert train(shared, tmp_path / "whole", "--steps", "6", *schedule) == 0
    assert train(shared, tmp_path / "parts", "--steps", "3", *schedule) == 0
    config_path = tmp_path / "parts" / "config.json"
    config = json.loads(config_path.read_text())
    config["train_config"]["steps"] = 6  # as if the first part had been stopped at step 3
    config_path.write_text(json.dumps(config))
    assert main(["train", "--resume", str(tmp_path / "parts"), "--no-progress"]) == 0

    def last_weights(run):
        # state.json names the committed files (a step saved twice is written as step-N-b).
        training = tmp_path / run / "training"
        stem = json.loads((training / "state.json").read_text())["files"]
        assert stem.startswith("step-0000006")
        return load_file(training / f"{stem}.model.safetensors")

    whole, parts = last_weights("whole"), last_weights("parts")
    assert whole.keys() == parts.keys()
    for key in whole:
        torch.testing.assert_close(parts[key], whole[key], rtol=0, atol=0)


def test_melody_loss_is_the_mean_cross_entropy_per_predicted_token(melody_run, shared, capsys):
    from rnnkit.data.music import EventVocabulary, piece_to_events

    assert main(["evaluate", str(melody_run), "valid"]) == 0
    reported = evaluated(capsys.readouterr().out)["loss"]
    task = load_run(melody_run)
    total, tokens = 0.0, 0
    for piece in load_music(shared / JSB, "quarter", limit=6).valid:
        ids = torch.tensor(EventVocabulary().encode(piece_to_events(piece)))
        with torch.no_grad():
            logits, _ = task.model(ids[None, :-1])
        total += F.cross_entropy(logits[0], ids[1:], reduction="sum").item()
        tokens += len(ids) - 1
    assert reported == pytest.approx(total / tokens, abs=1e-3)


@pytest.mark.parametrize("length", [["--bars", "0"], ["--steps", "-2"]])
def test_a_length_below_one_is_an_error(roll_run, tmp_path, capsys, length):
    out = tmp_path / "song.mid"
    assert main(["generate", str(roll_run), *length, "--out", str(out)]) == 2
    assert length[0] in error_line(capsys)
    assert not out.exists()


def test_without_music21_a_music_command_says_how_to_install_it(tmp_path):
    import subprocess
    import sys

    blocked = "import sys; sys.modules['music21'] = None; from rnnkit.cli.main import main; "
    run = f"sys.exit(main(['train', 'music', '--out', r'{tmp_path / 'r'}']))"
    result = subprocess.run([sys.executable, "-c", blocked + run], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'rnnkit[music]'" in lines[0]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("tempo", ["3", "1e9"])
def test_a_tempo_a_midi_file_cannot_hold_is_refused_before_any_work(
    melody_run, tmp_path, capsys, tempo
):
    song = tmp_path / "song.mid"
    assert main(["generate", str(melody_run), "--out", str(song), "--tempo", tempo]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --tempo {float(tempo):g} is outside") and "4 to 1000" in err
    assert not song.exists()


@pytest.mark.parametrize("length", [["--bars", "1001"], ["--steps", "100000"]])
def test_a_piece_longer_than_1000_bars_is_refused_before_generating(
    melody_run, tmp_path, capsys, length
):
    song = tmp_path / "song.mid"
    assert main(["generate", str(melody_run), "--out", str(song), *length]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {length[0]} asks for ") and "at most 1000 bars" in err
    assert not song.exists()


def test_pieces_of_one_step_are_one_error_line_without_warnings(tmp_path, capsys):
    """numpy's "mean of empty slice" warnings came above the error (the key frequencies)."""
    from rnnkit.data.music import Note, Piece

    one_step = Piece("one", (Note(0, 60, 1),), steps_per_quarter=1, length=1)
    for name in ("a", "b", "c"):
        write_midi(one_step, tmp_path / f"{name}.mid")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        argv = ["train", "music", "--corpus", str(tmp_path), "--out", str(tmp_path / "run")]
        assert main([*argv, "--steps", "2", "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        "error: no training piece is longer than one step, so there is nothing to predict; "
        "give longer pieces or a finer --grid\n"
    )
