"""Which backend runs a network: the layers choose, the backends only say what they can compute.

A network asks `available` for the backends that compute exactly its function, fastest first,
and runs `automatic`'s pick unless the user forced one with `backend=`.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.backends import Scan, StackSettings, fused, loop, native
from rnnkit.cells import Cell

BACKENDS = ("native", "fused", "loop")

# The per-direction scans, which the generic stacked / bidirectional path runs layer by layer.
SCANS: dict[str, Scan] = {"fused": fused.scan, "loop": loop.scan}


def available(cells: Sequence[Cell], stack: StackSettings) -> list[str]:
    """The backends that compute exactly this stack's function, fastest first."""
    names = ["native"] if native.supports(cells, stack) else []
    if all(fused.supports(cell) for cell in cells):
        names.append("fused")
    return [*names, "loop"]


def automatic(cells: Sequence[Cell], stack: StackSettings, training: bool) -> str:
    """The fastest backend for this stack, to train (`training`) or to infer, measured on CPU
    (docs/BENCHMARKS.md).

    Training on CPU, the fused backend beats torch's own kernels wherever it applies (GRU and
    RNN: 1.2-1.45x torch.nn at the benchmark shapes; LSTM has no fused backend, its oneDNN
    kernel is the fastest there is). For inference, and on GPU, where cuDNN runs the whole
    sequence in one kernel, torch's kernels win where they exist: fused steps through Python.
    """
    names = available(cells, stack)
    on_cpu = cells[0].weight_ih.device.type == "cpu"
    if training and on_cpu and "fused" in names:
        return "fused"
    return names[0]
