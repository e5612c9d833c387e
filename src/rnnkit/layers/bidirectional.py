"""Bidirectional RNN: a forward RNN (A) reads x_1..x_T, a backward RNN (A') reads x_T..x_1.

    h->_t = f(W-> x_t + U-> h->_{t-1})
    h<-_t = f(W<- x_t + U<- h<-_{t+1})
    y_t   = merge(h->_t, h<-_t)

merge is "concat" ([h->_t, h<-_t], torch.nn's layout), "sum", "mean" or "mul".
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.backends import Scan, loop
from rnnkit.cells.base import State
from rnnkit.layers.recurrent import Recurrent

MERGES = {
    "concat": lambda forward, backward: torch.cat([forward, backward], dim=-1),
    "sum": lambda forward, backward: forward + backward,
    "mean": lambda forward, backward: (forward + backward) / 2,
    "mul": lambda forward, backward: forward * backward,
}


def check_merge(merge: str) -> str:
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {tuple(MERGES)}, got {merge!r}")
    return merge


class Bidirectional(nn.Module):
    """Runs a forward and a backward `Recurrent` over the same sequence and merges their outputs."""

    def __init__(self, forward_layer: Recurrent, backward_layer: Recurrent, merge: str = "concat"):
        super().__init__()
        if forward_layer.reverse or not backward_layer.reverse:
            raise ValueError("Bidirectional needs a forward layer and a reverse=True layer")
        self.forward_layer = forward_layer
        self.backward_layer = backward_layer
        self.merge = check_merge(merge)

    def forward(
        self,
        x: Tensor,
        states: tuple[State | None, State | None] = (None, None),
        lengths: Tensor | None = None,
        scan: Scan = loop.scan,
    ) -> tuple[Tensor, tuple[State, State]]:
        """x (T, B, D) -> merged outputs (T, B, H or 2H) and the two final states."""
        forward_out, forward_state = self.forward_layer(x, states[0], lengths, scan)
        backward_out, backward_state = self.backward_layer(x, states[1], lengths, scan)
        return MERGES[self.merge](forward_out, backward_out), (forward_state, backward_state)

    @property
    def output_size(self) -> int:
        size = self.forward_layer.output_size
        return 2 * size if self.merge == "concat" else size
