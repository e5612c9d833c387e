"""Variable-length batches, handled once: validation, masks and reversal within each length.

Shapes are time-major: x is (T, B, ...), lengths is (B,) with 1 <= lengths[b] <= T.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError


def check_lengths(lengths: Tensor, batch_size: int, steps: int) -> Tensor:
    """Return lengths as a (B,) int64 tensor, or raise a clear error."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != batch_size:
        raise RnnkitError(
            f"lengths must have shape ({batch_size},), one length per sequence, "
            f"got {tuple(lengths.shape)}"
        )
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise RnnkitError(f"lengths must be integers, got dtype {lengths.dtype}")
    lengths = lengths.long()
    if batch_size and (lengths.min() < 1 or lengths.max() > steps):
        raise RnnkitError(
            f"every length must be between 1 and the sequence length {steps}, "
            f"got lengths from {int(lengths.min())} to {int(lengths.max())}"
        )
    return lengths


def step_mask(lengths: Tensor, steps: int) -> Tensor:
    """(T, B, 1) boolean mask, True where step t is inside sequence b."""
    t = torch.arange(steps, device=lengths.device)
    return (t[:, None] < lengths.to(t.device)[None, :]).unsqueeze(-1)


def reverse_within_lengths(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence along time within its own length; padding stays at the end.

    x[t, b] -> x[lengths[b] - 1 - t, b] for t < lengths[b]. Applying it twice gives x back.
    """
    if lengths is None:
        return x.flip(0)
    steps = x.shape[0]
    t = torch.arange(steps, device=x.device)[:, None]  # (T, 1)
    lengths = lengths.to(x.device)[None, :]  # (1, B)
    source = torch.where(t < lengths, lengths - 1 - t, t)  # (T, B)
    index = source.view(steps, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)
