"""What the training loop needs from a task (text, music, classification, ...).

The loop knows nothing about tokens, notes or labels. A task hands it:

    task.model          the torch module to train (the loop moves it to the device)
    task.train_data     a BatchSource: next_batch(), a resumable position, epochs_done
    task.train_loss()   the loss of one batch, and the carry for the next one
    task.evaluate()     metrics on held-out data; "loss" (lower is better) picks the best model
    task.sample()       optional text shown at each evaluation (a generated sample)
    task.config()       JSON that rebuilds the task (saved as config.json's "task_config")
    task.save_artifacts(folder)   extra files a run needs (e.g. vocab.json)

The "carry" is whatever a task passes from one batch to the next: the recurrent state for
truncated BPTT over contiguous streams, or None. It is a tensor, a tuple of tensors, or None,
and it is saved in checkpoints so that a resumed run continues exactly where it stopped.

Data-parallel training (distributed.py) needs nothing more from a task: every rank walks the same
BatchSource, keeps its own rows of each batch (every tensor or list of the batch dataclass whose
length is the batch's rows), and weighs its mean loss by `batch_items(batch)`, the number of
items that mean is over. The default counts rows; a task whose loss averages over something else
(time steps of unequal pieces) overrides it, or a 2-process run differs slightly from 1 process.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from rnnkit.train.distributed import batch_rows

Carry = torch.Tensor | tuple[torch.Tensor, ...] | None


class BatchSource(Protocol):
    """An endless stream of training batches with an exact, saveable position."""

    def next_batch(self) -> Any:
        """The batch at the current position; then advance (wrapping into the next epoch)."""

    @property
    def epochs_done(self) -> float:
        """Epochs completed, with the fraction of the current one (e.g. 2.25)."""

    @property
    def items_per_batch(self) -> int:
        """Items (tokens, time steps, sequences) in one batch, for the items/s readout."""

    def state_dict(self) -> dict[str, int]: ...

    def load_state_dict(self, state: dict[str, int]) -> None: ...


class Task(ABC):
    """One kind of training job; see the module docstring for the contract."""

    name: str  # the registry key (rnnkit.train.registry.TASKS), saved in config.json
    item_name: str = "items"  # what items_per_batch counts, for the progress bar ("tokens")
    model: nn.Module
    train_data: BatchSource
    device: torch.device = torch.device("cpu")

    @abstractmethod
    def train_loss(self, batch: Any, carry: Carry) -> tuple[torch.Tensor, Carry]:
        """The mean loss of `batch` (with a graph for backward) and the carry for the next batch
        (detached: truncated BPTT stops at batch boundaries)."""

    @abstractmethod
    def evaluate(self) -> dict[str, float]:
        """Metrics on the validation data; must include "loss". Runs under no_grad, in eval mode."""

    def batch_items(self, batch: Any) -> int:
        """How many items the mean loss of `batch` averages over (default: its rows)."""
        return batch_rows(batch)

    def describe(self) -> str:
        """A line of sanity numbers printed at start (data sizes, expected initial loss), or ""."""
        return ""

    def sample(self) -> str | None:
        """Something to show at each evaluation (runs under no_grad, in eval mode), or None."""
        return None

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-ready settings that rebuild this task and its model from a run folder."""

    def save_artifacts(self, folder: Path) -> None:  # noqa: B027 (optional hook, default no-op)
        """Write the extra files the run needs besides weights and config (default: none)."""

    def to(self, device: torch.device) -> None:
        """Move the model (and anything else that lives on a device) to `device`."""
        self.device = device
        self.model.to(device)
