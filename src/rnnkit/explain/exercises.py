"""The lecture's worked exercises (LECTURE.md), and a small vanilla-RNN one in the same style.

Parameters are written as the slides print them, letters included: exercise 2's U matrices are
2x3 on the slide although U must be 2x2 (inputs.py says so when it loads them), and exercise 4
uses the letters W_A, U_A, V_A whose meaning depends on the reading (see birnn.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exercise:
    number: int | None  # the lecture's exercise number; None for rnnkit's own
    params: dict[str, list]  # the lecture's names -> nested lists of numbers
    x: list[list[float]]  # the input, one list per time step


LSTM_EXERCISE = Exercise(
    number=2,
    params={
        "W_f": [[1, -2, 5], [5, 5, 0]],
        "W_i": [[0, 2, 5], [3, -4, 1]],
        "W_o": [[1, 2, 1], [0, -1, 3]],
        "W_c": [[-2, 0, 1], [5, 1, 8]],
        "U_f": [[1, 5, 5], [2, 1, 1]],
        "U_i": [[-1, -5, 3], [2, 1, 0]],
        "U_o": [[2, 4, -1], [0, 3, 1]],
        "U_c": [[1, -1, 1], [0, -2, 6]],
        "b_f": [5, 2],
        "b_i": [5, 2],
        "b_o": [5, 2],
        "b_c": [5, 2],
    },
    x=[[2, 3, -1]],
)

GRU_EXERCISE = Exercise(
    number=3,
    params={
        "W_z": [[1, 3], [2, 0]],
        "U_z": [[3, 0], [-1, 1]],
        "W_r": [[1, -1], [-6, -1]],
        "U_r": [[1, 1], [4, -3]],
        "W_h": [[1, 1], [2, 0]],
        "U_h": [[2, 3], [0, -2]],
        "b_z": [1, 1],
        "b_r": [1, 1],
        "b_h": [1, 1],
    },
    x=[[1, 0]],
)

# Exercise 4: "machine learning", machine -> [1, 0], learning -> [0, 1]; no biases.
BIRNN_EXERCISE = Exercise(
    number=4,
    params={
        "U_A": [[1, 1], [1, 2]],
        "W_A": [[3, -2], [4, 1]],
        "V_A": [-1, 0],
        "U_A'": [[3, -1], [0, 1]],
        "W_A'": [[0, 2], [2, 1]],
        "V_A'": [1, 1],
    },
    x=[[1, 0], [0, 1]],
)

# rnnkit's own: the vanilla slide's two steps, h_t = tanh(W x_t + U h_{t-1} + b) and
# y_t = softmax(V h_t + b_y), over the same one-hot "machine learning".
RNN_EXERCISE = Exercise(
    number=None,
    params={
        "W": [[1, -1], [2, 0]],
        "U": [[0.5, 1], [-1, 0.5]],
        "b": [0, 1],
        "V": [[1, -1], [0, 2]],
        "b_y": [0, 0],
    },
    x=[[1, 0], [0, 1]],
)

EXERCISES = {
    "lstm": LSTM_EXERCISE,
    "gru": GRU_EXERCISE,
    "birnn": BIRNN_EXERCISE,
    "rnn": RNN_EXERCISE,
}
