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
    """The backends that compute exactly this network's function."""
    names = ["native"] if native.supports(network) else []
    if fused.supports(network.cells[0]):
        names.append("fused")
    return [*names, "loop"]


def automatic(network: RecurrentNetwork, training: bool) -> str:
    """The fastest backend for this network, measured on CPU (docs/BENCHMARKS.md).

    Training on CPU, the fused backend beats torch's own kernels wherever it applies (GRU and
    RNN: 1.2-1.45x torch.nn at the benchmark shapes; LSTM has no fused backend, its oneDNN
    kernel is the fastest there is). For inference, and on GPU, where cuDNN runs the whole
    sequence in one kernel, torch's kernels win where they exist: fused steps through Python.
    """
    names = available(network)
    on_cpu = network.cells[0].weight_ih.device.type == "cpu"
    if training and on_cpu and "fused" in names:
        return "fused"
    return names[0]
