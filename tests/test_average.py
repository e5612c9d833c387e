"""--ema: the moving average of the weights follows its formula, is what evaluation sees and what
a checkpoint keeps, and leaves the training itself unchanged."""

import io

import pytest
import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.models.language import LanguageModelConfig
from rnnkit.tasks.text import TextDataConfig, TextTask
from rnnkit.tasks.text_data import PYTHON_TEXT, TextSource
from rnnkit.train.average import WeightAverage
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import fit, seed_everything

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 12


def test_the_average_follows_its_formula_and_swaps_in_and_out():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
        average = WeightAverage(model, decay=0.5)
        model.weight.fill_(1.0)
        average.update(1)  # d_1 = min(0.5, 2/11): avg = 2/11 * 0 + 9/11 * 1
        model.weight.fill_(3.0)
        average.update(10)  # d_10 = min(0.5, 11/20) = 0.5: avg = 0.5 * 9/11 + 0.5 * 3
    expected = torch.full((1, 2), 0.5 * 9 / 11 + 1.5)
    with average.swapped_in():
        torch.testing.assert_close(model.weight.detach(), expected)
    assert torch.equal(model.weight.detach(), torch.full((1, 2), 3.0))  # training weights back


def run(tmp_path, name, ema):
    seed_everything(0)
    data = TextDataConfig(source=PYTHON_TEXT, batch_size=4, seq_len=8, split="80/20/0")
    task = TextTask.new(
        data, LanguageModelConfig(hidden_size=16, num_layers=1), TextSource(data, text=TEXT)
    )
    config = TrainConfig(steps=12, eval_every=4, warmup=2, lr=1e-2, ema=ema)
    return fit(task, config, tmp_path / name, show_progress=False, out=io.StringIO())


def test_evaluation_sees_the_average_and_training_is_unchanged(tmp_path):
    plain, averaged = run(tmp_path, "plain", 0.0), run(tmp_path, "ema", 0.9)
    assert [e["train_loss"] for e in plain.history] == [e["train_loss"] for e in averaged.history]
    assert all(p["valid_loss"] != a["valid_loss"] for p, a in zip(plain.history, averaged.history))


def test_ema_must_be_below_one():
    with pytest.raises(RnnkitError, match=r"ema must be a probability in \[0, 1\)"):
        TrainConfig(ema=1.0).check()
