"""Which backend runs a network: the layers choose, the backends only say what they can compute.

A network asks `available` for the backends that compute exactly its function, fastest first,
and runs `automatic`'s pick unless the user forced one with `backend=`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

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


# From this many units a plain LSTM trains faster on fused's C++ loop than on oneDNN's kernel.
# Fused's speed over the kernel's in training (forward + backward), interleaved in one process,
# AMD EPYC at 2 / 1 threads, (B,T,H,L): (64,100,512,2) 1.11-1.16 / 1.07, (16,200,256,1)
# 1.15-1.36 / 1.09, (128,64,256,1) 1.11 / 1.11, (1,500,512,1) 1.14 / 1.05, (64,35,400,2)
# 1.07 / 1.02, but (2,300,256,2) 0.94 / 0.89; Intel Xeon, 2 threads: 1.24-1.30 and 1.41 at the
# first two. Below 256 units it turns with the batch, from 0.74 (32,50,32,1) to 1.59
# (64,150,64,2, bidirectional), so the kernel keeps those.
FUSED_LSTM_UNITS = 256


def fused_trains_lstm(cell: LSTMCell) -> bool:
    """Whether a plain LSTM cell trains faster on fused than on torch's kernel: from
    FUSED_LSTM_UNITS units, where fused's C++ loop runs and no autocast hands it another dtype
    (its Python loop in bfloat16 is slower than torch's kernel)."""
    return (
        cell.hidden_size >= FUSED_LSTM_UNITS
        and not torch.is_autocast_enabled(cell.weight_hh.device.type)
        and fused_cpp.runs(cell.weight_hh)  # (builds the C++ loops: asked last)
    )


def automatic(cells: Sequence[Cell], stack: StackSettings, training: bool) -> str:
    """The fastest backend for this stack, to train (`training`) or to infer, measured on CPU
    (docs/BENCHMARKS.md, docs/PERFORMANCE.md).

    On CPU the fused backend beats torch's own kernels for GRU and RNN: in training always
    (1.3-2.7x torch.nn at the benchmark shapes with its C++ loops, 1.2-1.45x with the Python
    ones), in inference where its C++ loops run (float32 or float64, built: 1.5-1.9x; the
    Python loops lose to torch's C++ at small shapes). The plain LSTM (or one with DropConnect
    alone, torch's kernel on the dropped U) trains on fused from FUSED_LSTM_UNITS units where
    the C++ loop runs (see `fused_trains_lstm`) and infers on oneDNN's kernel, level with or
    ahead of fused's at every shape measured. An LSTM runs fused where torch has no kernel for
    it (its options), and with a projection, which torch computes in a loop of its own, not
    oneDNN's (fused trains it 1.2-2.2x as fast as torch's projected LSTM and, with the C++
    loop, infers at 1.03-1.31 of torch's plain LSTM against 0.61-1.00). On GPU, where cuDNN runs
    the whole sequence in one kernel, torch's kernels win where they exist. A cell's options
    decide what exists: torch's kernels compute none but an LSTM's projection and weight
    dropout (on the masked U), and the other dropouts only in evaluation.
    """
    names = available(cells, stack)
    cell = cells[0]
    if "fused" not in names or cell.weight_ih.device.type != "cpu":
        return names[0]
    if isinstance(cell, LSTMCell) and not cell.proj_size:
        return "fused" if training and fused_trains_lstm(cell) else names[0]
    if training or fused_cpp.runs(cell.weight_hh):
        return "fused"
    return names[0]
