"""Weight averaging (`--ema DECAY`): evaluate and keep a moving average of the weights.

    avg_t = d_t avg_{t-1} + (1 - d_t) w_t        d_t = min(DECAY, (1 + t) / (10 + t))

w_t are the weights after optimiser step t. With a high learning rate on little data (a few
hundred chorales, a short text) each AdamW step moves w_t around the minimum by about the step's
size, so the valid loss of w_t is noisy and above the loss at the centre of that wandering; the
average sits nearer the centre (Polyak averaging, as an exponential moving average). Evaluation,
the best weights kept and the saved checkpoint all use avg_t; training goes on from w_t.
The ramp d_t keeps the first steps' average from being stuck near the initial weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightAverage:
    """An exponential moving average of a model's parameters."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Fold in the weights after optimiser step `step` (counted from 1)."""
        d = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1 - d)

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The model holds the average inside the block, its training weights again after."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    @torch.no_grad()
    def _swap(self) -> None:
        for param, average in zip(self.params, self.average):
            held = param.detach().clone()
            param.copy_(average)
            average.copy_(held)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The average's tensors, for a checkpoint."""
        return {f"average.{i}": tensor for i, tensor in enumerate(self.average)}

    @torch.no_grad()
    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore the average from a checkpoint's tensors (shapes checked)."""
        for i, average in enumerate(self.average):
            saved = tensors[f"average.{i}"]
            if saved.shape != average.shape:
                raise ValueError(f"average.{i} has shape {tuple(saved.shape)}")
            average.copy_(saved)
