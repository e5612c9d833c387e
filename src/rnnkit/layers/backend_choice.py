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

    On CPU the fused backend beats torch's own kernels for GRU and RNN: in training always
    (1.3-2.7x torch.nn at the benchmark shapes with its C++ loops, 1.2-1.45x with the Python
    ones), in inference where its C++ loops run (float32 or float64, built: 1.5-1.9x; the
    Python loops lose to torch's C++ at small shapes). Not for the plain LSTM, whose oneDNN
    kernel is faster than fused's C++ loop at the smaller benchmark shapes (fused faster only
    in training at the largest, PERFORMANCE.md): an LSTM runs fused where torch has no kernel
    for it (its options), and with a
    projection, which torch computes in a loop of its own, not oneDNN's (fused trains it 1.2-2.2x
    as fast as torch's projected LSTM and, with the C++ loop, infers at 1.03-1.31 of torch's
    plain LSTM against 0.61-1.00). On GPU, where cuDNN runs the whole sequence in one kernel,
    torch's kernels win where they exist. A cell's options decide what exists: torch's kernels
    compute none but an LSTM's projection and weight dropout (on the masked U), and the other
    dropouts only in evaluation.
    """
    names = available(cells, stack)
    cell = cells[0]
    if "fused" not in names or cell.weight_ih.device.type != "cpu":
        return names[0]
    if isinstance(cell, LSTMCell) and not cell.proj_size:
        return names[0]
    if training or fused_cpp.runs(cell.weight_hh):
        return "fused"
    return names[0]
