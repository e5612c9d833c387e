"""The Python classes (rnnkit.tasks.api): TextModel, MusicModel, SeriesClassifier fit,
generate or predict, evaluate, save and load; bad arguments are one RnnkitError."""

import dataclasses
import json
import math

import numpy as np
import pytest

from rnnkit import MusicModel, SeriesClassifier, TextModel
from rnnkit.errors import RnnkitError
from rnnkit.train.recipes import recipe_for

TEXT = "a stitch in time saves nine.\n" * 30
TINY = {"hidden_size": 16, "num_layers": 1, "batch_size": 4, "seq_len": 8, "sample_length": 10}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    lm = TextModel(**TINY)
    lm.fit(text=TEXT, out=folder / "run", steps=20, eval_every=10, progress=False)
    return lm, folder


def test_generate_is_reproducible_and_continues_the_prime(trained):
    lm, _ = trained
    first = lm.generate("a stitch", length=30, seed=3)
    assert first == lm.generate("a stitch", length=30, seed=3)
    assert first.startswith("a stitch") and len(first) == len("a stitch") + 30


def test_save_and_load_give_the_same_model(trained):
    lm, folder = trained
    saved = lm.save(folder / "saved")
    for loaded in (TextModel.load(saved), TextModel.load(folder / "run")):
        assert loaded.generate("a ", length=20, seed=1) == lm.generate("a ", length=20, seed=1)


def test_evaluate_reports_loss_and_bits_per_character(trained):
    lm, folder = trained
    path = folder / "eval.txt"
    path.write_text("saves nine.\n", encoding="utf-8")
    metrics = lm.evaluate(path)
    assert metrics["bpc"] == pytest.approx(metrics["loss"] / math.log(2))
    assert metrics["tokens"] == len("saves nine.\n") - 1
    # With a cache: the same tokens scored; its λ = 0.5 moves the loss, θ and N as given.
    cached = lm.evaluate(path, cache=5, theta=0.0, lam=0.5)
    assert cached["tokens"] == metrics["tokens"] and cached["loss"] != metrics["loss"]
    with pytest.raises(RnnkitError, match="--cache-lambda"):
        lm.evaluate(path, cache=5, lam=1.5)


def test_a_word_model_starts_from_the_word_recipe_as_the_command_line_does():
    word, char = recipe_for("word", 120), recipe_for("char", 120)
    assert word.model != char.model  # else this test could not tell them apart
    lm = TextModel(level="word")
    for name, value in word.model.items():
        assert getattr(lm.settings, name) == value
    assert lm.settings.embedding_size is None  # the word recipe's E = H, not char-1m's 64
    assert lm.recipe.name == word.name


def test_mistakes_are_clear_errors():
    with pytest.raises(RnnkitError, match="no setting colour"):
        TextModel(colour="red")
    with pytest.raises(RnnkitError, match="not trained yet"):
        TextModel().generate("x")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: TextModel(hidden_size=0), "hidden_size must be a positive integer, got 0"),
        (lambda: TextModel(dropout=1.5), r"dropout must be a probability in \[0, 1\)"),
        (lambda: TextModel(cell="lsmt"), "cell must be one of"),
        (lambda: TextModel.from_recipe("ten minutes"), "time must be a duration"),
        (lambda: SeriesClassifier(pooling="median"), "pooling must be one of last, mean, max"),
        (lambda: MusicModel(colour="red"), "MusicModel has no setting colour"),
    ],
)
def test_bad_settings_are_one_error(call, message):
    with pytest.raises(RnnkitError, match=message):
        call()


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"lr": float("nan")}, "lr must be a positive finite number, got nan"),
        ({"steps": -1}, "steps must be a positive integer, got -1"),
        ({"colour": 1}, "no training setting colour"),
        ({"time": "forever"}, "time must be a duration"),
    ],
)
def test_bad_training_settings_are_one_error(train, message, tmp_path):
    with pytest.raises(RnnkitError, match=message):
        TextModel(**TINY).fit(text=TEXT, out=tmp_path / "run", progress=False, **train)
    assert not (tmp_path / "run").exists()


def test_bad_generation_arguments_are_one_error(trained):
    lm, _ = trained
    for arguments, message in [
        ({"temperature": float("nan")}, "temperature must be a finite number >= 0"),
        ({"top_k": 0}, "top_k must be a positive integer"),
        ({"top_p": 1.5}, r"top_p must be a probability in \(0, 1\]"),
        ({"length": -5}, "length must be a positive integer"),
    ]:
        with pytest.raises(RnnkitError, match=message):
            lm.generate("a", **arguments)


def test_numpy_numbers_are_settings_too_and_are_saved_as_python_numbers():
    """A grid search hands over np.int64 and np.float32: they are taken, as int and float."""
    classifier = SeriesClassifier(
        hidden_size=np.arange(8, 9)[0], dropout=np.float32(0.25), ensemble=np.int64(2)
    )
    settings, data = classifier.settings, classifier.data
    values = (settings.hidden_size, settings.dropout, data.ensemble)
    assert values == (8, 0.25, 2) and [type(v) for v in values] == [int, float, int]
    json.dumps(dataclasses.asdict(classifier.settings))  # np.int64 would not serialise
    with pytest.raises(RnnkitError, match="hidden_size must be a positive integer, got 0"):
        SeriesClassifier(hidden_size=np.int64(0))
    with pytest.raises(RnnkitError, match="ensemble must be a positive integer"):
        SeriesClassifier(ensemble=np.float64(2.0))


def test_a_series_classifier_takes_the_recipes_ensemble_unless_folds_make_the_committee():
    assert SeriesClassifier().data.ensemble == 3
    assert (SeriesClassifier(folds=3).data.folds, SeriesClassifier(folds=3).data.ensemble) == (3, 1)
    assert SeriesClassifier(ensemble=1).data.ensemble == 1


def test_a_series_classifier_fits_predicts_and_reloads(tmp_path):
    classifier = SeriesClassifier(hidden_size=8)
    classifier.fit("example:waveforms", out=tmp_path / "run", steps=30, progress=False)
    result = classifier.predict("example:waveforms")
    assert len(result.labels) == len(result.ids) == 400
    assert set(result.labels) <= {"sine", "square", "sawtooth", "triangle"}
    again = SeriesClassifier.load(tmp_path / "run").predict("example:waveforms")
    assert again.labels == result.labels
    assert result.scores.accuracy > 0.25  # 4 classes: better than chance after 30 steps
    assert result.classes == ["sawtooth", "sine", "square", "triangle"]
    assert result.probabilities.shape == (400, 4)
    with pytest.raises(RnnkitError, match=r"no test part; .*from Python, \.evaluate\(DATA\)"):
        classifier.evaluate()  # the waveforms have no test part


def test_a_music_model_fits_and_writes_a_midi_file(tmp_path, shared_data):
    music = MusicModel(hidden_size=8, num_layers=1, batch_size=4, limit=6)
    music.fit(shared_data / "jsb-chorales-quarter.json", out=tmp_path / "run", steps=3,
              progress=False)  # fmt: skip
    piece = music.generate(bars=2, seed=1, out=tmp_path / "song.mid")
    assert piece.length == 8  # two 4/4 bars on the quarter grid
    assert (tmp_path / "song.mid").read_bytes()[:4] == b"MThd"
    loaded = MusicModel.load(tmp_path / "run")
    assert loaded.generate(bars=2, seed=1).notes == piece.notes
    with pytest.raises(RnnkitError, match="holds a music model, not a text one"):
        TextModel.load(tmp_path / "run")
    chord = loaded.generate(steps=3, seed=1, primer_pitches=[60, 64, 67])
    assert chord.length == 1 + 3  # the chord on the quarter grid, then 3 frames
    assert sorted(n.pitch for n in chord.notes if n.start == 0) == [60, 64, 67]
    assert loaded.generate(steps=3, seed=1, primer_pitches="60,64,67").notes == chord.notes
    with pytest.raises(RnnkitError, match="not a piano key"):
        loaded.generate(primer_pitches=[60, 200])


def test_fit_adds_recurrent_dropout_for_a_small_text_unless_it_was_chosen(tmp_path):
    # 40 steps of 32 x 8 characters go 13 times through the 783 training characters
    for settings, expected in (({}, 0.3), ({"recurrent_dropout": 0.0}, 0.0)):
        lm = TextModel(**{**TINY, "batch_size": 32}, **settings)
        out = tmp_path / f"run{len(settings)}"
        lm.fit(text=TEXT, out=out, steps=40, progress=False)
        config = json.loads((out / "config.json").read_text())
        assert config["task_config"]["model"]["recurrent_dropout"] == expected
        assert lm.settings.recurrent_dropout == 0.0  # the run's copy chose it, not the object
