"""The vanilla RNN cell.

    h_t = tanh(W x_t + U h_{t-1} + b)
    y_t = softmax(V h_t + b_y)          (the output layer lives in the task's model, not here)

The lecture's vanilla slide writes h_t = tanh(W s_{t-1} + U x_t + b_s), with the letters swapped;
rnnkit follows the lecture's later slides everywhere: W multiplies the input, U the state.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.base import Cell, State


def identity(a: Tensor) -> Tensor:
    """No activation: the lecture's exercise 4 asks to ignore every activation function."""
    return a


NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu, "identity": identity}


class RNNCell(Cell):
    """h_t = f(W x_t + U h_{t-1} + b), f = tanh (the lecture), relu or identity."""

    gate_names = ("",)

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity must be one of {tuple(NONLINEARITIES)}, got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias)

    def params(self) -> dict[str, Tensor]:
        """{"W": ..., "U": ..., "b": ...}: views on weight_ih, weight_hh, bias."""
        return {name.rstrip("_"): value for name, value in super().params().items()}

    def step_quantities(self, Wx_t: Tensor, state: State) -> dict[str, Tensor]:
        (h_prev,) = state
        # h_t = f(W x_t + U h_{t-1} + b)   hidden state
        a = Wx_t + h_prev @ self.weight_hh.T
        h = NONLINEARITIES[self.nonlinearity](a)
        return {"a": a, "h": h}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"
