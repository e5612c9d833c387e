"""How a layer runs. Every backend computes exactly the cells' function; they differ in speed.

- native: torch's fused kernels (oneDNN / cuDNN) for the whole stack, where torch has one;
- fused:  hand-written backpropagation through time for the lecture's GRU, which torch lacks;
- loop:   any cell, one step at a time (the reference the others are tested against).

A backend is a function of cells and explicit settings, never of a network: fused and loop are
`Scan`s of one cell over one direction; native runs a whole stack of cells with `StackSettings`.
Each answers only "can I compute exactly this?" (`native.supports`, `fused.supports`; loop runs
any cell); which one runs is the layers' choice (rnnkit/layers/backend_choice.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from rnnkit.cells.base import Cell, State
from rnnkit.cells.options import Noise

# A scan runs one cell over x (T, B, D) from a state, for one direction of one layer:
# (cell, x, state, lengths (B,) or None, noise or None) -> (states h_t (T, B, P), final state).
# noise: the masks of this call (cell.draw), drawn by the scan when None.
Scan = Callable[[Cell, Tensor, State, "Tensor | None", "Noise | None"], "tuple[Tensor, State]"]


@dataclass(frozen=True)
class StackSettings:
    """What a whole-stack kernel needs besides the cells: torch.nn's constructor arguments."""

    num_layers: int
    bidirectional: bool
    merge: str  # how the directions' outputs combine: "concat", "sum", "mean" or "mul"
    bias: bool  # whether the cells have biases
    dropout: float  # on the input of every layer but the first, while training
    training: bool  # the network's mode: dropout applies
