"""How a layer runs. Every backend computes exactly the cells' function; they differ in speed.

- native: torch's fused kernels (oneDNN / cuDNN) for the whole stack, where torch has one;
- fused:  hand-written backpropagation through time for the lecture's GRU, which torch lacks;
- loop:   any cell, one step at a time (the reference the others are tested against).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnnkit.backends import fused, loop, native

if TYPE_CHECKING:
    from rnnkit.layers.network import RecurrentNetwork

BACKENDS = ("native", "fused", "loop")

# Per-direction scans, used by the generic stacked/bidirectional path.
SCANS = {"fused": fused.scan, "loop": loop.scan}


def available(network: RecurrentNetwork) -> list[str]:
    """The backends that compute exactly this network's function, fastest first."""
    names = ["native"] if native.supports(network) else []
    if fused.supports(network.cells[0]):
        names.append("fused")
    return [*names, "loop"]
