"""The loop backend: any cell, one step at a time; the reference every other backend must match.

The input projection W x_t + b is done for all steps in one matrix product and split into the
steps' views by one `unbind`; each step then adds U h_{t-1} and applies the cell's gates
(`cell.step`). Outputs are collected in a list and stacked once.

Why unbind, not Wx[t]: in backward, each Wx[t] would write its step's gradient into a new
full-size (T, B, G*H) buffer of zeros, and the T buffers would be summed: O(T^2) memory traffic
per sequence. unbind's backward stacks the T step gradients once, O(T); stack's backward hands
each step a view of the outputs' gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.base import Cell, State
from rnnkit.cells.options import Noise
from rnnkit.layout.lengths import step_mask


def scan(
    cell: Cell,
    x: Tensor,
    state: State,
    lengths: Tensor | None = None,
    noise: Noise | None = None,
) -> tuple[Tensor, State]:
    """Run `cell` over x (T, B, D) from `state`; return the states h_t (T, B, P) and the final
    state. noise: the masks of this call (cell.draw), drawn here when None.

    With lengths, a sequence's state stops changing after its last step and its padded outputs
    are zero, so padding never reaches the state.
    """
    if noise is None:
        noise = cell.draw(x.shape[0], x.shape[1], x)
    Wx = cell.project_input(x, noise).unbind(0)  # T views (B, G*H), W x_t + b
    steps = zip(Wx, noise.steps(x.shape[0]))
    outputs = []
    if lengths is None:
        for Wx_t, noise_t in steps:
            state = cell.step(Wx_t, state, noise_t)
            outputs.append(state[0])
        return torch.stack(outputs), state
    for (Wx_t, noise_t), inside in zip(steps, step_mask(lengths, x.shape[0]).unbind(0)):
        new_state = cell.step(Wx_t, state, noise_t)  # inside: (B, 1)
        state = tuple(torch.where(inside, new, old) for new, old in zip(new_state, state))
        outputs.append(new_state[0] * inside)
    return torch.stack(outputs), state
