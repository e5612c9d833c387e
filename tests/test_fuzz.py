"""Property-based fuzzing of every loader of user or run-folder files: whatever the bytes, the
only exception that escapes is RnnkitError (the one-line `error:` of the command line).

Each loader gets a fixed, derandomised budget of examples (a few seconds each): random bytes,
and mutations of a valid file, which reach deeper into the parser than noise does.
"""

import contextlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.cli.main import main
from rnnkit.data.music.score import read_music_file
from rnnkit.data.series import open_series
from rnnkit.data.text import Vocabulary, read_text
from rnnkit.errors import RnnkitError
from rnnkit.explain.inputs import read_params_file
from rnnkit.tasks.registry import load_run

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW_FUZZ = settings(FUZZ, max_examples=40)  # music21's ABC parser takes a while per file

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
MIDI_HEADER = b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk"


def only_rnnkit_errors(load, *args) -> None:
    with contextlib.suppress(RnnkitError):  # any other exception fails the test
        load(*args)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def text_run(folder) -> Path:
    (folder / "train.txt").write_text("abc abd abe, the cat.\n" * 40, encoding="utf-8")
    args = ["train", "text", str(folder / "train.txt"), "--out", str(folder / "run")]
    args += ["--hidden", "4", "--layers", "1", "--batch-size", "2", "--seq-len", "4"]
    assert main([*args, "--steps", "1", "--sample-length", "1", "--no-progress"]) == 0
    return folder / "run"


def mutate(original: bytes, data: st.DataObject) -> bytes:
    """Overwrite, cut or splice a few bytes of `original`."""
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        action = data.draw(st.sampled_from(["set", "cut", "insert"]))
        chunk = data.draw(st.binary(min_size=1, max_size=8))
        if action == "set":
            raw[at : at + len(chunk)] = chunk
        elif action == "cut":
            del raw[at : at + len(chunk)]
        else:
            raw[at:at] = chunk
    return bytes(raw)


@FUZZ
@given(content=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_text_files(folder, content):
    path = folder / "fuzz.txt"
    path.write_bytes(content)
    only_rnnkit_errors(read_text, path)


@FUZZ
@given(content=st.binary(max_size=120).map(MIDI_HEADER.__add__) | st.binary(max_size=60))
def test_midi_files(folder, content):
    path = folder / "fuzz.mid"
    path.write_bytes(content)
    only_rnnkit_errors(read_music_file, path)


ABC = "X:1\nT:Tune\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n"


@SLOW_FUZZ
@given(data=st.data())
def test_abc_files(folder, data):
    path = folder / "fuzz.abc"
    path.write_bytes(mutate(ABC.encode(), data))
    only_rnnkit_errors(read_music_file, path)


CSV = "high,1.0,2.5,,3\nlow,-1,-2,-3\nhigh,0.5,1e3,2\nlow,nan,1,2\n"


@FUZZ
@given(data=st.data())
def test_csv_files(folder, data):
    path = folder / "fuzz.csv"
    path.write_bytes(mutate(CSV.encode(), data))
    only_rnnkit_errors(open_series, path)


@FUZZ
@given(value=JSON_VALUES)
def test_params_json(folder, value):
    path = folder / "params.json"
    path.write_text(json.dumps(value))
    only_rnnkit_errors(read_params_file, path)


@FUZZ
@given(raw=st.binary(max_size=40))
def test_params_file_bytes(folder, raw):
    path = folder / "params.json"
    path.write_bytes(raw)
    only_rnnkit_errors(read_params_file, path)


@FUZZ
@given(data=st.data())
def test_vocab_json(text_run, folder, data):
    vocab = json.loads((text_run / "vocab.json").read_text())
    key = data.draw(st.sampled_from([*vocab, "extra"]))
    vocab[key] = data.draw(JSON_VALUES)
    path = folder / "vocab.json"
    path.write_text(json.dumps(vocab))
    only_rnnkit_errors(Vocabulary.load, path)
    path.write_bytes(mutate(json.dumps(vocab).encode(), data))
    only_rnnkit_errors(Vocabulary.load, path)


def tampered_config(text_run: Path, folder: Path, data: st.DataObject, task: str) -> Path:
    """A copy of the text run whose config.json names `task` and has one setting replaced."""
    run = folder / "tampered"
    if not run.exists():
        shutil.copytree(text_run, run)
    config = json.loads((text_run / "config.json").read_text())
    config["task"] = task
    sections = {
        "top": config,
        "task_config": config["task_config"],
        "data": config["task_config"]["data"],
        "model": config["task_config"]["model"],
        "train_config": config["train_config"],
    }
    target = sections[data.draw(st.sampled_from(list(sections)))]
    key = data.draw(st.sampled_from([k for k in target if k != "task"] + ["extra"]))
    target[key] = data.draw(JSON_VALUES)
    (run / "config.json").write_text(json.dumps(config))
    return run


@FUZZ
@given(data=st.data())
def test_config_json(text_run, folder, data):
    only_rnnkit_errors(load_run, tampered_config(text_run, folder, data, "text"))


@FUZZ
@given(data=st.data(), task=st.sampled_from(["classify", "music"]))
def test_config_json_of_the_other_tasks(text_run, folder, data, task):
    only_rnnkit_errors(load_run, tampered_config(text_run, folder, data, task))
