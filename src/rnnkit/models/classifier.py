"""SequenceClassifier: a recurrent branch, optionally beside a convolutional one, then a linear
head (with the convolutional branch, LSTM-FCN: Karim et al. 2017; MLSTM-FCN for several features).

    h_1..h_T = Recurrent(x_1..x_T)          any rnnkit cell, stacked, bidirectional
    r        = pool(h_1..h_T)               last, mean, max or attention (models/pooling.py)
    c        = FCN(x_1..x_T)                three convolution blocks (squeeze-and-excite
                                            optional), mean over time (models/convolution.py;
                                            conv=0: no such branch)
    logits   = V [r; c] + b_y,   p(class | x) = softmax(logits)

The recurrent branch may read a shortened sequence: with `downsample` S it reads the means of
S neighbouring steps (T/S steps), so a long series costs 1/S of its sequential steps while the
convolutional branch still sees every step, or (`conv_downsample` S') the means of S' steps: on a
series of thousands of steps the convolutions are nearly all the cost. Padding never counts: T is
each sequence's own length.

Shapes: B batch, T time, D input features, H hidden, K classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers.dropout import Dropout
from rnnkit.models.convolution import FullyConvolutional
from rnnkit.models.pooling import (
    POOLINGS,
    AttentionPooling,
    last_state,
    max_over_time,
    mean_over_time,
    padded,
)
from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.values import COUNT, setting

AUTO_STEPS = 64  # downsample=0: the recurrent branch reads at most this many steps
AUTO_CONV_STEPS = 512  # conv_downsample=0: the convolutional branch reads at most this many


@dataclass
class ClassifierConfig(RecurrentConfig):
    """Everything needed to rebuild a SequenceClassifier (saved in the run's config.json): the
    recurrent layers (RecurrentConfig), which way they read, how a sequence becomes a vector,
    and the convolutional branch beside them."""

    input_size: int = 1  # D, features per time step (set from the data, not a flag)
    num_classes: int = 2  # K (set from the labels, not a flag)
    bidirectional: bool = setting(
        False, "read each sequence both ways (--no-bidirectional: left to right only)"
    )
    pooling: str = setting(
        "last",
        "one vector per sequence from the recurrent states: the last one, the mean, the max "
        "or attention-weighted",
        choices=POOLINGS,
    )
    conv: int = setting(
        0,
        "N, filters of the convolutional branch beside the recurrent one (N, 2N, N of widths "
        "8, 5, 3: LSTM-FCN); 0 = no such branch",
        COUNT,
    )
    downsample: int = setting(
        1,
        "S: the recurrent branch reads the means of S neighbouring steps; 0 = auto, the "
        f"smallest S that leaves the longest training series at most {AUTO_STEPS} steps",
        COUNT,
    )
    conv_downsample: int = setting(
        1,
        "S: the convolutional branch reads the means of S neighbouring steps; 0 = auto, the "
        f"smallest S that leaves the longest training series at most {AUTO_CONV_STEPS} steps",
        COUNT,
    )
    squeeze_excite: bool = setting(
        False,
        "squeeze-and-excite after the first two convolution blocks (MLSTM-FCN)",
    )

    def check(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.downsample < 1 or self.conv_downsample < 1:
            raise ValueError("downsample=0 (auto) is resolved by fit_downsample before building")

    def fit_downsample(self, longest: int) -> None:
        """Resolve downsample=0 and conv_downsample=0 (auto) for training series of at most
        `longest` steps."""
        if self.downsample == 0:
            self.downsample = max(1, -(-longest // AUTO_STEPS))
        if self.conv_downsample == 0:
            self.conv_downsample = max(1, -(-longest // AUTO_CONV_STEPS))


class SequenceClassifier(nn.Module):
    """Classify whole sequences: `forward(x, lengths, targets) -> (logits, loss)`."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        self.pooling = config.pooling
        self.recurrent = config.build(config.input_size, bidirectional=config.bidirectional)
        width = self.recurrent.output_size
        self.attention = AttentionPooling(width) if config.pooling == "attention" else None
        self.convolutional = None
        if config.conv:
            self.convolutional = FullyConvolutional(
                config.input_size, config.conv, config.squeeze_excite
            )
            width += self.convolutional.output_size
        self.dropout = Dropout(config.dropout)
        self.head = nn.Linear(width, config.num_classes)

    def forward(
        self, x: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """x (B, T, D) zero-padded, lengths (B,), targets (B,) class indices or None.

        Returns logits (B, K) and the mean cross-entropy over the batch (None without targets).
        """
        features = self.read(x, lengths)  # (B, dirs*H [+ N])
        logits = self.head(self.dropout(features))
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

    def read(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The vector each sequence is classified from: its branches' outputs side by side."""
        parts = [self.read_recurrent(x, lengths)]
        if self.convolutional is not None:
            if self.config.conv_downsample > 1:
                x, lengths = shorten(x, lengths, self.config.conv_downsample)
            parts.append(self.convolutional(x, lengths))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def read_recurrent(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The pooled states of the recurrent branch (B, dirs*H)."""
        if self.config.downsample > 1:
            x, lengths = shorten(x, lengths, self.config.downsample)
        given = lengths if padded(lengths, x.shape[1]) else None  # none: the faster call
        output, state = self.recurrent(x, lengths=given)  # (B, T, dirs*H)
        if self.pooling == "mean":
            return mean_over_time(output, lengths)
        if self.pooling == "max":
            return max_over_time(output, lengths)
        if self.pooling == "attention":
            return self.attention(output, lengths)
        h_n = state[0] if isinstance(state, tuple) else state  # (L*dirs, B, H); LSTM: (h, c)
        return last_state(h_n, self.recurrent.output_size)

    @torch.no_grad()
    def predict(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The most likely class (B,) of each sequence."""
        logits, _ = self(x, lengths)
        return logits.argmax(dim=-1)


def shorten(x: Tensor, lengths: Tensor, window: int) -> tuple[Tensor, Tensor]:
    """The means of `window` neighbouring steps: x (B, T, D) -> (B, ceil(T / window), D).

    A sequence's last window may be partial: its mean is over the valid steps in it only."""
    B, T, D = x.shape
    steps = -(-T // window)  # T' = ceil(T / window)
    padded = F.pad(x, (0, 0, 0, steps * window - T))  # zeros after: they add nothing to a sum
    total = padded.view(B, steps, window, D).sum(dim=2)  # (B, T', D)
    short = (lengths + window - 1) // window  # (B,)
    starts = torch.arange(steps, device=x.device)[None, :] * window  # (1, T')
    counts = (lengths.to(x.device)[:, None] - starts).clamp(1, window)  # (B, T') valid steps
    return total / counts[:, :, None].to(x.dtype), short
