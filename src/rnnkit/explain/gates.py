"""What a cell computes inside one step, recorded while the cell's own `step` runs.

A cell's step applies its activation functions in a fixed order (LSTMCell.step: sigmoid for f,
i and o, then tanh for the candidate and for c_t). `record_step` runs the real step under a torch
function mode that writes down the argument and the result of each activation call, and names
them with ACTIVATIONS. What a learner or a visualisation sees is what the cell computed, not a
second calculation of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

from rnnkit.cells import Cell, GRUCell, LSTMCell, RNNCell, State

# The activations each cell's step applies, in the order its code applies them.
ACTIVATIONS: dict[type[Cell], tuple[str, ...]] = {
    LSTMCell: ("f", "i", "o", "c_tilde", "tanh_c"),  # f_t, i_t, o_t, sigma_c(...), sigma_h(c_t)
    GRUCell: ("r", "z", "h_tilde"),  # r_t, z_t, h~_t
    RNNCell: ("h",),  # h_t = f(W x_t + U h_{t-1} + b)
}

ACTIVATION_FUNCTIONS = (torch.sigmoid, torch.tanh, torch.relu)


@dataclass(frozen=True)
class Activation:
    """One activation call inside a step: f_t = sigmoid(pre), pre = W_f x_t + U_f h_{t-1} + b_f."""

    function: str  # "sigmoid", "tanh" or "relu"
    pre: Tensor  # the argument
    value: Tensor  # the result


class _ActivationRecorder(TorchFunctionMode):
    """Lets every torch call run unchanged and keeps the activation calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Activation] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if func in ACTIVATION_FUNCTIONS:
            self.calls.append(Activation(func.__name__, args[0].detach(), result.detach()))
        return result


def activation_names(cell: Cell) -> tuple[str, ...]:
    """The names of `cell`'s activations, in the order its step applies them."""
    for cell_type in type(cell).__mro__:
        if cell_type in ACTIVATIONS:
            return ACTIVATIONS[cell_type]
    raise TypeError(f"cannot record the gates of {type(cell).__name__}: not in ACTIVATIONS")


def record_step(cell: Cell, Wx_t: Tensor, state: State) -> tuple[State, dict[str, Activation]]:
    """Run `cell.step(Wx_t, state)` and return the new state and its named activations."""
    names = activation_names(cell)
    with _ActivationRecorder() as recorder:
        new_state = cell.step(Wx_t, state)
    if len(recorder.calls) != len(names):
        raise RuntimeError(
            f"{type(cell).__name__}.step applied {len(recorder.calls)} activations, expected "
            f"{len(names)} ({', '.join(names)}); update ACTIVATIONS in rnnkit/explain/gates.py"
        )
    return new_state, dict(zip(names, recorder.calls))
