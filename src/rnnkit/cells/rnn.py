"""The vanilla RNN cell.

    h_t = tanh(W x_t + U h_{t-1} + b)
    y_t = softmax(V h_t + b_y)          (the output layer lives in the task's model, not here)

The lecture's vanilla slide writes h_t = tanh(W s_{t-1} + U x_t + b_s), with the letters swapped;
rnnkit follows the lecture's later slides everywhere: W multiplies the input, U the state.

With options (cells/options.py), v = h_{t-1} (m_h * h_{t-1} with recurrent dropout):

    h'_t = f(LN(W x_t; γ^x) + LN(U v; γ^h) + b)        layer_norm
    h_t = d_t * h_{t-1} + (1 - d_t) * h'_t              zoneout
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.base import Cell, State
from rnnkit.cells.options import StepNoise


def identity(a: Tensor) -> Tensor:
    """No activation: the lecture's exercise 4 asks to ignore every activation function."""
    return a


NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu, "identity": identity}


class RNNCell(Cell):
    """h_t = f(W x_t + U h_{t-1} + b), f = tanh (the lecture), relu or identity."""

    gate_names = ("",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        **options,
    ) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity must be one of {tuple(NONLINEARITIES)}, got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, **options)

    def params(self) -> dict[str, Tensor]:
        """{"W": ..., "U": ..., "b": ...}: views on weight_ih, weight_hh, bias."""
        return {name.rstrip("_"): value for name, value in super().params().items()}

    def step_quantities(
        self, Wx_t: Tensor, state: State, noise: StepNoise | None = None
    ) -> dict[str, Tensor]:
        noise = self.step_noise(noise)
        (h_prev,) = state
        # h_t = f(W x_t + U h_{t-1} + b)   hidden state
        a = Wx_t + self.times_U(self.recurrent_input(h_prev, noise), noise)
        h = NONLINEARITIES[self.nonlinearity](a)
        # zoneout: h_t = d_t * h_{t-1} + (1 - d_t) * h'_t
        return {"a": a, "h": self.zone(h, h_prev, noise.zone_h)}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"
