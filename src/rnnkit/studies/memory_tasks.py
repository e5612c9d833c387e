"""Two synthetic tasks that need a memory over a chosen distance (the "lag").

Both are classics for showing that a vanilla RNN forgets and an LSTM remembers:

- The adding problem (Hochreiter & Schmidhuber 1997; the form of Le et al. 2015). Input (T, 2):
  channel 0 holds values u_t ~ U[0, 1], channel 1 marks two steps with 1, one in the first half of
  the sequence and one in the second. The target, read at the last step, is the sum of the two
  marked values. Here T = lag. The memoryless baseline, always answering the mean 1, has
  MSE = Var(u_a + u_b) = 1/6 ~ 0.167 (the baseline of Arjovsky et al. 2016), so the score is
  R^2 = 1 - MSE / (1/6): 0 is the baseline, 1 is solved.
- Copy memory (Arjovsky et al. 2016), with S symbols from an alphabet of K. Input one-hot over
  K + 2 tokens (0 blank, 1..K symbols, K + 1 the "recall now" marker):
      s_1 .. s_S, then `lag` blanks of which the last is the marker, then S blanks.
  During the last S steps the model must output s_1 .. s_S; each symbol is recalled S + lag steps
  after it was seen. The score is the accuracy over the recalled symbols: 1/K is chance. The loss
  is the cross-entropy over the S recalled symbols only, so the memoryless baseline (a uniform
  guess) costs ln K per symbol. Arjovsky et al. score every one of the 2S + lag steps, where a
  memoryless model outputs blanks for free, so their baseline S ln K / (2S + lag) is the same
  strategy averaged over the whole sequence: 10 ln 8 / (T + 20) for S = 10, K = 8, lag = T.

Every task gives batches from a torch.Generator (so runs are reproducible), a mean loss for
training, and a score for the table. Shapes: B batch, T time, D inputs, O outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

ADDING_VARIANCE = 1.0 / 6.0  # Var(u_a + u_b) for two independent U[0, 1] values


@dataclass(frozen=True)
class AddingProblem:
    """The adding problem: the sum of two marked values, read at the last step."""

    name: str = "adding"
    score_name: str = "R^2"
    loss_name: str = "MSE"
    chance: float = 0.0
    baseline: float = ADDING_VARIANCE  # the memoryless loss: MSE of always answering 1
    input_size: int = 2
    output_size: int = 1

    def batch(self, lag: int, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """x (B, T=lag, 2) and the target sums (B,)."""
        half = lag // 2
        values = torch.rand(batch_size, lag, generator=generator)  # (B, T)
        first = torch.randint(0, half, (batch_size,), generator=generator)
        second = torch.randint(half, lag, (batch_size,), generator=generator)
        markers = torch.zeros(batch_size, lag)
        rows = torch.arange(batch_size)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        target = values[rows, first] + values[rows, second]
        return torch.stack([values, markers], dim=-1), target

    def losses(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Squared error of the last step's output, per sequence (B,)."""
        return (outputs[:, -1, 0] - target) ** 2

    def score(self, outputs: Tensor, target: Tensor) -> float:
        return 1.0 - float(self.losses(outputs, target).mean()) / ADDING_VARIANCE


@dataclass(frozen=True)
class CopyMemory:
    """Copy memory: repeat S symbols after a gap of `lag` steps."""

    symbols: int = 5  # S, how many symbols to remember
    alphabet: int = 8  # K, how many different symbols
    name: str = "copy"
    score_name: str = "accuracy"
    loss_name: str = "cross-entropy"

    @property
    def chance(self) -> float:
        return 1.0 / self.alphabet

    @property
    def baseline(self) -> float:
        """The memoryless loss: a uniform guess costs ln K per recalled symbol."""
        return math.log(self.alphabet)

    def baseline_per_step(self, lag: int) -> float:
        """The same strategy's loss averaged over all 2S + lag steps, as Arjovsky et al. count
        it (every step but the S recalls is a free blank): S ln K / (2S + lag)."""
        return self.symbols * self.baseline / (2 * self.symbols + lag)

    @property
    def input_size(self) -> int:
        return self.alphabet + 2  # blank, K symbols, marker

    @property
    def output_size(self) -> int:
        return self.alphabet  # the recalled symbol, as index 0..K-1

    def batch(self, lag: int, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """x (B, T = 2S + lag, K + 2) one-hot, and the symbols to recall (B, S) as 0..K-1."""
        S = self.symbols
        symbols = torch.randint(0, self.alphabet, (batch_size, S), generator=generator)
        tokens = torch.zeros(batch_size, 2 * S + lag, dtype=torch.long)  # 0 = blank
        tokens[:, :S] = symbols + 1
        tokens[:, S + lag - 1] = self.alphabet + 1  # the marker: recall from the next step on
        return F.one_hot(tokens, self.input_size).float(), symbols

    def losses(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy over the S recall steps, per sequence (B,)."""
        recalled = outputs[:, -self.symbols :]  # (B, S, K)
        return F.cross_entropy(recalled.transpose(1, 2), target, reduction="none").mean(dim=1)

    def score(self, outputs: Tensor, target: Tensor) -> float:
        recalled = outputs[:, -self.symbols :].argmax(dim=-1)  # (B, S)
        return float((recalled == target).float().mean())


MemoryTask = AddingProblem | CopyMemory
