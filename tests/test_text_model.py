"""TextModel, the Python API: fit, generate, evaluate, save, load."""

import math

import pytest

from rnnkit import TextModel
from rnnkit.errors import RnnkitError

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


def test_mistakes_are_clear_errors():
    with pytest.raises(RnnkitError, match="no setting colour"):
        TextModel(colour="red")
    with pytest.raises(RnnkitError, match="not trained yet"):
        TextModel().generate("x")
