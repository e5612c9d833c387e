"""Batches of whole sequences (music pieces, time series) for training and evaluation.

    pad(sequences, value)            -> values (B, T_max, ...) padded with `value`, lengths (B,)
    Batches(sequences, B, seed)      endless training batches: shuffled each epoch, similar lengths
                                     together, with an exact, saveable position
    fixed_batches(sequences, B)      every sequence once, for evaluation and prediction

Similar lengths go together: each epoch's random order is cut into windows of BUCKET_BATCHES
batches, each window sorted by length and cut into batches, and the batches shuffled. Padding is
then a fraction of what random batches carry (about half on JSB Chorales), while every batch is
still a random draw. The order depends only on the seed and the epoch, so the position
(epoch, index of the next batch) is all a resumed run needs.

Shapes: B batch, T time; a sequence is an array (T_i, ...) whose trailing shape is the same for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnkit.errors import RnnkitError

BUCKET_BATCHES = 8


@dataclass
class Padded:
    """Sequences padded to the longest one of the batch."""

    values: Tensor  # (B, T, ...), `pad` after each sequence's end
    lengths: Tensor  # (B,) int64
    indices: list[int]  # the sequences' positions in the list they came from
    labels: Tensor | None = None  # (B,) int64 class indices, when the sequences have them


def pad(sequences: Sequence[np.ndarray], value: float = 0) -> tuple[Tensor, Tensor]:
    """Stack sequences of different lengths: values (B, T_max, ...), lengths (B,) int64."""
    lengths = [len(sequence) for sequence in sequences]
    first = sequences[0]
    full = np.full((len(sequences), max(lengths), *first.shape[1:]), value, dtype=first.dtype)
    for row, sequence in enumerate(sequences):
        full[row, : len(sequence)] = sequence
    return torch.from_numpy(full), torch.tensor(lengths, dtype=torch.long)


def _batch(
    sequences: Sequence[np.ndarray], chosen: list[int], value: float, labels: Tensor | None
) -> Padded:
    values, lengths = pad([sequences[i] for i in chosen], value)
    return Padded(values, lengths, chosen, None if labels is None else labels[chosen])


class Batches:
    """The training sequences, `batch_size` at a time, in a new random order each epoch (see the
    module docstring); an endless stream with an exact position (a BatchSource for the loop)."""

    def __init__(
        self,
        sequences: Sequence[np.ndarray],
        batch_size: int,
        seed: int,
        pad: float = 0,
        labels: Tensor | None = None,
    ) -> None:
        if not sequences:
            raise RnnkitError("there are no training sequences to batch")
        self.sequences, self.labels, self.pad, self.seed = sequences, labels, pad, seed
        self.batch_size = min(batch_size, len(sequences))
        self.epoch, self.index = 0, 0
        self.batches = self._batches()

    def _batches(self) -> list[list[int]]:
        """This epoch's batches, as lists of sequence positions."""
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.sequences)).tolist()
        window, size = BUCKET_BATCHES * self.batch_size, self.batch_size
        batches = []
        for start in range(0, len(order), window):
            bucket = sorted(order[start : start + window], key=lambda i: len(self.sequences[i]))
            batches += [bucket[i : i + size] for i in range(0, len(bucket), size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def next_batch(self) -> Padded:
        """The batch at the current position; then advance (into the next epoch at its end)."""
        chosen = self.batches[self.index]
        self.index += 1
        if self.index == len(self.batches):
            self.epoch, self.index = self.epoch + 1, 0
            self.batches = self._batches()
        return _batch(self.sequences, chosen, self.pad, self.labels)

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.index / len(self.batches)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index = state["epoch"], state["index"]
        self.batches = self._batches()


def fixed_batches(
    sequences: Sequence[np.ndarray],
    batch_size: int,
    pad: float = 0,
    labels: Tensor | None = None,
) -> list[Padded]:
    """Every sequence once, similar lengths together (less padding); `indices` say where each
    row came from, to put results back in order."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    return [
        _batch(sequences, order[i : i + batch_size], pad, labels)
        for i in range(0, len(order), batch_size)
    ]
