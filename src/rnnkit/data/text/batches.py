"""Token ids -> contiguous parts and batches for truncated backpropagation through time.

The ids may be a list, a NumPy array or a memory-mapped one (a run's cached ids): a batch copies
only its own B x T ids into a tensor.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnkit.errors import RnnkitError


def split_ids(ids: Sequence[int], fractions: tuple[float, ...]) -> list[Sequence[int]]:
    """Cut `ids` into contiguous parts of the given fractions (e.g. (0.9, 0.05, 0.05)), in order."""
    if any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise RnnkitError(f"split fractions {fractions} must be >= 0 and sum to 1, e.g. 90/5/5")
    bounds = [round(len(ids) * sum(fractions[:i])) for i in range(len(fractions) + 1)]
    return [ids[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass
class TokenBatch:
    """One chunk of B contiguous streams: predict targets[b, t] from inputs[b, :t+1]."""

    inputs: torch.Tensor  # (B, T) token ids
    targets: torch.Tensor  # (B, T) the next token of each input
    reset: bool  # first chunk of an epoch: start from a zero state


class TokenBatches:
    """Contiguous streams for truncated backpropagation through time.

    The ids are cut into B rows of L = (N - 1) // B tokens; row b covers ids[b*L : b*L + L + 1]
    (one token of overlap, so every token from ids[1] to ids[B*L] is a target exactly once per
    epoch). Each epoch walks the rows left to right in chunks of T steps (the last one shorter),
    so the recurrent state at the end of a chunk is the right start for the next one.

    The position (epoch, chunk) is the whole state: `state_dict()` / `load_state_dict()` resume
    exactly. For data-parallel training each of `world_size` ranks reads its own B / world_size
    rows.
    """

    def __init__(
        self,
        ids: Sequence[int] | np.ndarray,
        batch_size: int,
        seq_len: int,
        rank: int = 0,
        world_size: int = 1,
        name: str = "text",
    ) -> None:
        ids = np.asarray(ids)
        if batch_size < 1 or seq_len < 1:
            raise RnnkitError("--batch-size and --seq-len must be at least 1")
        if batch_size % world_size:
            raise RnnkitError(f"--batch-size {batch_size} must be a multiple of {world_size} ranks")
        length = (len(ids) - 1) // batch_size
        if length < seq_len:
            raise RnnkitError(
                f"the {name} has {len(ids)} token{'s' * (len(ids) != 1)}, fewer than one batch "
                f"({batch_size} rows x {seq_len} steps + 1); use a smaller --batch-size or "
                "--seq-len, or more text"
            )
        # Row b is ids[b*L : b*L + L + 1], a view: rows overlap by one id, nothing is copied.
        rows = np.lib.stride_tricks.as_strided(
            ids, shape=(batch_size, length + 1), strides=(length * ids.strides[0], ids.strides[0])
        )  # (B, L + 1)
        shard = batch_size // world_size
        self.rows = rows[rank * shard : (rank + 1) * shard]
        self.tokens = len(ids)
        self.seq_len = seq_len
        self.epoch = 0
        self.index = 0  # next chunk within the epoch

    @property
    def targets_per_epoch(self) -> int:
        """Tokens predicted in one pass over the rows."""
        return self.rows.shape[0] * (self.rows.shape[1] - 1)

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil((self.rows.shape[1] - 1) / self.seq_len)

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.index / self.batches_per_epoch

    def chunk(self, index: int) -> TokenBatch:
        start = index * self.seq_len
        stop = min(start + self.seq_len, self.rows.shape[1] - 1)
        chunk = torch.from_numpy(self.rows[:, start : stop + 1].astype(np.int64))  # a copy
        return TokenBatch(inputs=chunk[:, :-1], targets=chunk[:, 1:], reset=index == 0)

    def __iter__(self):
        """One full pass from the first chunk (for evaluation; does not move the position)."""
        return (self.chunk(i) for i in range(self.batches_per_epoch))

    def next_batch(self) -> TokenBatch:
        """The chunk at the current position; then advance (wrapping into the next epoch)."""
        batch = self.chunk(self.index)
        self.index += 1
        if self.index == self.batches_per_epoch:
            self.epoch, self.index = self.epoch + 1, 0
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
