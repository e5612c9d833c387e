"""A model that cannot fit is refused before it is built, not killed while it is allocated.

`affordable(build)` builds the model first on torch's meta device (shapes only, no memory),
counts its parameters, and compares what it needs with the memory this machine has free:

    training:  4 bytes x parameters x 4    (float32 weights, gradients, AdamW's two moments)
    loading:   4 bytes x parameters        (weights only: sampling, evaluating)

Activations come on top and depend on the batch, so this is a floor: a model refused here could
never train on this machine; one accepted may still need a smaller batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from rnnkit.errors import RnnkitError

M = TypeVar("M", bound=nn.Module)
BYTES = 4  # float32
TRAINING_COPIES = 4  # weights, gradients, AdamW's first and second moments


def affordable(
    build: Callable[[], M],
    training: bool = True,
    smaller: str = "--hidden, --layers or --embedding",
) -> M:
    """`build()`, after checking that the model (and, to train it, its gradients and optimiser
    state) fits in the memory available; one RnnkitError saying how much it needs otherwise, and
    which flags (`smaller`) make a smaller model."""
    with torch.device("meta"):
        count = sum(p.numel() for p in build().parameters())
    need = count * BYTES * (TRAINING_COPIES if training else 1)
    free = available_memory()
    if free is not None and need > free:
        what = "train it (weights, gradients, AdamW's moments)" if training else "load it"
        raise RnnkitError(
            f"this model has {count:,} parameters: to {what} takes {need / 2**30:,.1f} GiB, "
            f"more than the {free / 2**30:,.1f} GiB of memory available; use a smaller "
            f"{smaller}"
        )
    return build()


def available_memory() -> int | None:
    """Bytes of memory free for a new allocation (Linux's MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
