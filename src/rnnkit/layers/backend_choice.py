"""Which backend runs a network: the layers choose, the backends only say what they can compute.

A network asks `available` for the backends that compute exactly its function, fastest first,
and runs `automatic`'s pick unless the user forced one with `backend=`.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.backends import Scan, StackSettings, fused, loop, native
from rnnkit.backends.fused import cpp as fused_cpp
from rnnkit.cells import Cell, LSTMCell

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

    Training on CPU, the fused backend beats torch's own kernels for GRU and RNN (1.2-1.45x
    torch.nn at the benchmark shapes), not for the plain LSTM, whose oneDNN kernel is as fast as
    fused's C++ loop at the larger benchmark shapes and faster at the smallest: an LSTM trains on
    fused where torch has no kernel for it (its options), and with a projection, which torch
    computes in a loop of its own, not oneDNN's (fused trains it 1.2-2.2x as fast as torch's
    projected LSTM). An LSTM with a projection also infers on fused where the C++ loop runs
    (float32 or float64 on CPU, built: 1.03-1.31 of torch's plain LSTM against 0.61-1.00 for
    torch's projected one); otherwise, and on GPU, where cuDNN runs the whole sequence in one
    kernel, torch's kernels win where they exist. A cell's options decide what exists: torch's
    kernels compute none but an LSTM's projection and weight dropout (on the masked U), and the
    other dropouts only in evaluation.
    """
    names = available(cells, stack)
    if "fused" not in names or cells[0].weight_ih.device.type != "cpu":
        return names[0]
    lstm = isinstance(cells[0], LSTMCell)
    if training and not (lstm and not cells[0].proj_size):
        return "fused"
    if lstm and cells[0].proj_size and fused_cpp.runs(cells[0].weight_hh):
        return "fused"
    return names[0]
