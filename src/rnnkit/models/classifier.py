"""SequenceClassifier: a recurrent layer read once per sequence, then a linear head.

    h_1..h_T = Recurrent(x_1..x_T)                 (any rnnkit cell, stacked, bidirectional)
    s        = h_T                                 pooling="last": the last valid state
             = (1 / T) * sum_{t=1..T} h_t          pooling="mean": the mean over valid steps
    logits   = V s + b_y,   p(class | x) = softmax(logits)

For a bidirectional layer "the last valid state" is [h->_T, h<-_1]: the forward direction's state
after the last real step and the backward direction's state after reading back to the first step.
Padding never counts: T is each sequence's own length.

Shapes: B batch, T time, D input features, H hidden, K classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.values import setting

POOLINGS = ("last", "mean")


@dataclass
class ClassifierConfig(RecurrentConfig):
    """Everything needed to rebuild a SequenceClassifier (saved in the run's config.json): the
    recurrent layers (RecurrentConfig), which way they read, and how a sequence becomes a vector."""

    input_size: int = 1  # D, features per time step (set from the data, not a flag)
    num_classes: int = 2  # K (set from the labels, not a flag)
    bidirectional: bool = setting(
        False, "read each sequence both ways (--no-bidirectional: left to right only)"
    )
    pooling: str = setting(
        "last", "one vector per sequence: the last state or the mean", choices=POOLINGS
    )


class SequenceClassifier(nn.Module):
    """Classify whole sequences: `forward(x, lengths, targets) -> (logits, loss)`."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        if config.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {config.pooling!r}")
        self.config = config
        self.pooling = config.pooling
        self.recurrent = config.build(config.input_size, bidirectional=config.bidirectional)
        self.head = nn.Linear(self.recurrent.output_size, config.num_classes)

    def forward(
        self, x: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """x (B, T, D) zero-padded, lengths (B,), targets (B,) class indices or None.

        Returns logits (B, K) and the mean cross-entropy over the batch (None without targets).
        """
        output, state = self.recurrent(x, lengths=lengths)  # output (B, T, dirs*H)
        pooled = self.pool(output, state, lengths)  # (B, dirs*H)
        logits = self.head(pooled)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

    def pool(
        self, output: Tensor, state: Tensor | tuple[Tensor, Tensor], lengths: Tensor
    ) -> Tensor:
        """One vector per sequence from the top layer's states, ignoring padding."""
        if self.pooling == "mean":
            steps = torch.arange(output.shape[1], device=output.device)  # (T,)
            valid = (steps[None, :] < lengths.to(output.device)[:, None]).to(output.dtype)
            total = (output * valid[:, :, None]).sum(dim=1)  # (B, dirs*H)
            return total / lengths.to(output.device, output.dtype)[:, None]
        h_n = state[0] if isinstance(state, tuple) else state  # (L*dirs, B, H); LSTM: (h, c)
        directions = self.recurrent.output_size // h_n.shape[-1]
        top = h_n[-directions:]  # (dirs, B, H): the last layer, forward then backward
        return top.transpose(0, 1).reshape(h_n.shape[1], -1)  # (B, dirs*H)

    @torch.no_grad()
    def predict(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The most likely class (B,) of each sequence."""
        logits, _ = self(x, lengths)
        return logits.argmax(dim=-1)
