"""How a layer runs. Every backend computes exactly the cells' function; they differ in speed.

- native: torch's fused kernels (oneDNN / cuDNN) for the whole stack, where torch has one;
- loop:   any cell, one step at a time (the reference the others are tested against).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnnkit.backends import loop, native

if TYPE_CHECKING:
    from rnnkit.layers.network import RecurrentNetwork

BACKENDS = ("native", "loop")

# Per-direction scans, used by the generic stacked/bidirectional path.
SCANS = {"loop": loop.scan}


def available(network: RecurrentNetwork) -> list[str]:
    """The backends that compute exactly this network's function, fastest first."""
    names = ["native"] if native.supports(network) else []
    return [*names, "loop"]
