"""The lecture's worked exercises, computed by rnnkit's own cells and layers (LECTURE.md); the
slides' numbers are read from rnnkit.explain.exercises, their one transcription."""

import pytest
import torch

import rnnkit
from rnnkit.explain.exercises import GRU_EXERCISE, LSTM_EXERCISE

DOUBLE = torch.float64


def t(values) -> torch.Tensor:
    return torch.as_tensor(values, dtype=DOUBLE)


def load(params: dict[str, torch.Tensor], values: dict) -> None:
    with torch.no_grad():
        for name, value in values.items():
            params[name].copy_(t(value))


def test_exercise_2_lstm_h1():
    cell = rnnkit.LSTMCell(3, 2).double()
    # The slide prints U as 2x3; with h_0 = 0 the U matrices cannot affect h_1.
    random_U = {f"U_{g}": torch.randn(2, 2) for g in "fioc"}
    load(cell.params(), {**LSTM_EXERCISE.params, **random_U})
    h_1, c_1 = cell(t(LSTM_EXERCISE.x))
    assert torch.allclose(h_1[0], t([0.0, 0.0001203770]), atol=1e-9)
    assert torch.allclose(c_1[0], t([0.0, 0.0066928398]), atol=1e-9)


def test_exercise_3_gru_h1():
    cell = rnnkit.GRUCell(2, 2, reset="before").double()
    load(cell.params(), GRU_EXERCISE.params)
    h_1 = cell(t(GRU_EXERCISE.x))
    assert torch.allclose(h_1[0], t([0.8491126756, 0.9478634131]), atol=1e-9)


@pytest.mark.parametrize(
    ("reading", "expected_y"),
    [("lecture", [5.0, -2.0]), ("vanilla", [3.0, -2.0])],
)
def test_exercise_4_birnn(reading, expected_y):
    forward = {"U": [[1, 1], [1, 2]], "W": [[3, -2], [4, 1]]}
    backward = {"U": [[3, -1], [0, 1]], "W": [[0, 2], [2, 1]]}
    V_forward, V_backward = t([-1, 0]), t([1, 1])
    if reading == "vanilla":  # the vanilla slide's letters: U multiplies the input
        forward = {"W": forward["U"], "U": forward["W"]}
        backward = {"W": backward["U"], "U": backward["W"]}
    layers = []
    for weights, reverse in ((forward, False), (backward, True)):
        # The exercise says: ignore every activation function.
        cell = rnnkit.RNNCell(2, 2, bias=False, nonlinearity="identity").double()
        load(cell.params(), weights)
        layers.append(rnnkit.Recurrent(cell, reverse=reverse))
    birnn = rnnkit.Bidirectional(*layers, merge="concat")
    x = t([[[1, 0]], [[0, 1]]])  # "machine learning", one-hot, (T=2, B=1, D=2)
    outputs, _ = birnn(x)
    h_forward, h_backward = outputs[:, 0, :2], outputs[:, 0, 2:]
    y = h_forward @ V_forward + h_backward @ V_backward
    if reading == "lecture":
        assert torch.equal(h_forward, t([[3, 4], [5, 12]]))
        assert torch.equal(h_backward, t([[5, 3], [2, 1]]))
    assert torch.allclose(y, t(expected_y), atol=1e-9)
