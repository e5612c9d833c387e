"""The loop backend: any cell, one step at a time; the reference every other backend must match.

The input projection W x_t + b is done for all steps in one matrix product; each step then adds
U h_{t-1} and applies the cell's gates. Outputs are collected in a list and stacked once, so no
full-size buffer is written (and differentiated) slice by slice.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.base import Cell, State
from rnnkit.layout.lengths import step_mask


def scan(
    cell: Cell, x: Tensor, state: State, lengths: Tensor | None = None
) -> tuple[Tensor, State]:
    """Run `cell` over x (T, B, D) from `state`; return outputs (T, B, H) and the final state.

    With lengths, a sequence's state stops changing after its last step and its padded outputs
    are zero, so padding never reaches the state.
    """
    Wx = cell.project_input(x)  # (T, B, G*H)
    mask = step_mask(lengths, x.shape[0]) if lengths is not None else None
    outputs = []
    for t in range(x.shape[0]):
        new_state = cell.step(Wx[t], state)
        if mask is None:
            state = new_state
            outputs.append(state[0])
        else:
            state = tuple(torch.where(mask[t], new, old) for new, old in zip(new_state, state))
            outputs.append(new_state[0] * mask[t])
    return torch.stack(outputs), state
