"""What every unit of a language model does at every character, from its own cells.

Karpathy, Johnson and Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks", read a
trained character-level model by looking at single units over a text: the hidden state h_t,
the cell state c_t and the gates. `trace_language_model` runs the model's cells step by step
(`cell.step_quantities`, the cell's own named quantities of each step) and returns, per layer,
each of these signals as a (T, H) tensor: T characters, H units.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from rnnkit.cells import Cell
from rnnkit.errors import RnnkitError

# The step quantities shown after h, in this order, with the range of their values, which sets
# the colour scale: "gate" for a sigmoid's (0, 1), "signed" for a tanh's (-1, 1).
KINDS = {
    "f": "gate",
    "i": "gate",
    "o": "gate",
    "c_tilde": "signed",
    "tanh_c": "signed",
    "r": "gate",
    "z": "gate",
    "h_tilde": "signed",
}


@dataclass(frozen=True)
class Signal:
    """One quantity of one layer over the text: values (T, H), unit k's series is values[:, k]."""

    layer: int  # 1 for the first recurrent layer
    name: str  # "h", "f", "tanh_c", ...
    kind: str  # "gate" (in [0, 1]), "signed" (in [-1, 1]) or "unbounded"
    values: Tensor  # (T, H)


@torch.no_grad()
def trace_language_model(model: nn.Module, ids: Tensor) -> list[Signal]:
    """Run `model` (embedding or one-hot -> model.rnn -> output) over token ids (T,), cell by cell.

    The recurrent network's input is taken from the model's own forward (a hook on model.rnn),
    so the embedding or one-hot step is the model's; its output is checked against the states
    traced here.
    """
    if model.rnn.bidirectional:
        raise RnnkitError("visualize needs a left-to-right language model, not a bidirectional one")
    # In float64, so that the check below can be tight at any length: in float32 the cells' step
    # by step sums and the network's fused kernels round differently, and over a thousand steps
    # of a barely trained model the difference grew to 1e-3.
    dtype = next(model.parameters()).dtype  # the signals come back in it
    model = copy.deepcopy(model).to(torch.float64)
    network = model.rnn
    model.eval()  # no dropout: the model as it predicts
    seen = {}
    hook = network.register_forward_hook(
        lambda module, inputs, output: seen.update(x=inputs[0], h=output[0])
    )
    try:
        model(ids[None])  # (1, T) -> the network's input (1, T, D) and output (1, T, H)
    finally:
        hook.remove()
    x = seen["x"][0]  # (T, D)
    signals = []
    for layer in range(network.num_layers):
        layer_signals = _trace_cell(network.cell(layer), x, layer + 1)
        signals += layer_signals
        x = layer_signals[0].values  # h_t of this layer is the next layer's x_t
    if not torch.allclose(x, seen["h"][0], rtol=1e-4, atol=1e-5):
        raise RuntimeError("traced states differ from the model's forward: a bug in rnnkit")
    return [replace(signal, values=signal.values.to(dtype)) for signal in signals]


def _trace_cell(cell: Cell, x: Tensor, layer: int) -> list[Signal]:
    """h_t and each of `cell`'s step quantities named in KINDS, over x (T, D), h first."""
    state = cell.initial_state(1, x)
    steps = []
    for Wx_t in cell.project_input(x).split(1):  # (1, G*H): W x_t + b, for all steps at once
        quantities = cell.step_quantities(Wx_t, state)
        state = cell.state_of(quantities)
        steps.append(quantities)
    h = torch.stack([quantities["h"][0] for quantities in steps])
    signals = [Signal(layer, "h", "signed" if h.abs().max() <= 1 else "unbounded", h)]
    for name, kind in KINDS.items():
        if name in steps[0]:
            values = torch.stack([quantities[name][0] for quantities in steps])
            signals.append(Signal(layer, name, kind, values))
    return signals
