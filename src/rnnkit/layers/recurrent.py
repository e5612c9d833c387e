"""A cell scanned over time, in one direction: the only loop over time in rnnkit's layers."""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.backends import Scan, loop
from rnnkit.cells.base import Cell, State
from rnnkit.layout.lengths import reverse_within_lengths


class Recurrent(nn.Module):
    """Runs `cell` over a sequence, forwards or (reverse=True) backwards.

    The backward direction reads each sequence reversed within its own length, so
    h<-_t = f(W x_t + U h<-_{t+1}) starts at the sequence's last real step, not at the padding.
    The cell's masks (its options' dropout and zoneout) are drawn once per call, before the scan.
    """

    def __init__(self, cell: Cell, reverse: bool = False) -> None:
        super().__init__()
        self.cell = cell
        self.reverse = reverse

    def forward(
        self,
        x: Tensor,
        state: State | None = None,
        lengths: Tensor | None = None,
        scan: Scan = loop.scan,
    ) -> tuple[Tensor, State]:
        """x (T, B, D) -> outputs y_t (T, B, P) and the final state (each (B, P) or (B, H))."""
        if state is None:
            state = self.cell.initial_state(x.shape[1], x)
        noise = self.cell.draw(x.shape[0], x.shape[1], x)
        if not self.reverse:
            h, state = scan(self.cell, x, state, lengths, noise)
        else:
            h, state = scan(self.cell, reverse_within_lengths(x, lengths), state, lengths, noise)
            h = reverse_within_lengths(h, lengths)
        return self.cell.output(h, noise), state

    @property
    def output_size(self) -> int:
        return self.cell.output_size
