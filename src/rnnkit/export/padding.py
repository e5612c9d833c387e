"""Padded batches in an ONNX graph: which steps are inside a sequence, means over them, and the
means of S neighbouring steps, computed as rnnkit.models.pooling and models.classifier compute
them, so padding never counts.

    valid_{b,t} = 1 if t < length_b else 0                          (B, T)
    mean_b      = (1 / length_b) sum_t valid_{b,t} h_{b,t}          (B, F)
    short_{b,j} = mean of x_{b,t} over the valid t in [jS, jS + S)  (B, ceil(T / S), D)

Values are batch-major, (B, T, F); lengths are the graph's int64 `lengths` (B,).
"""

from __future__ import annotations

import numpy as np

from rnnkit.export.graph import Graph


def step_count(graph: Graph, x: str, axis: int = 1) -> str:
    """The size of `x` along `axis`, as an int64 scalar."""
    size = graph.node("Shape", [x], start=axis, end=axis + 1)  # [T]
    return graph.node("Squeeze", [size])


def valid_mask(graph: Graph, x: str, lengths: str) -> str:
    """(B, T) bool: step t is inside sequence b, for x (B, T, ...) and lengths (B,) int64."""
    zero, one = graph.constant("zero", np.int64(0)), graph.constant("one", np.int64(1))
    t = graph.node("Range", [zero, step_count(graph, x), one])  # (T,)
    return graph.node("Less", [graph.unsqueeze(t, 0), graph.unsqueeze(lengths, 1)])


def padded_with(graph: Graph, values: str, lengths: str, fill: float) -> str:
    """values (B, T, F) with `fill` at every step past a sequence's end, whatever was there (NaN
    included, which a multiplication by 0 would keep)."""
    valid = graph.unsqueeze(valid_mask(graph, values, lengths), 2)  # (B, T, 1)
    return graph.node("Where", [valid, values, graph.constant(f"fill_{fill}", np.float32(fill))])


def mean_over_steps(graph: Graph, h: str, lengths: str, axis: int) -> str:
    """The sum of h along its time `axis` divided by each sequence's length: (B, F). Steps past
    the end must be 0 in h."""
    total = graph.node("ReduceSum", [h, graph.constant(f"axis_{axis}", [axis])], keepdims=0)
    return graph.node("Div", [total, graph.unsqueeze(graph.as_float(lengths), 1)])


def shorten(graph: Graph, x: str, lengths: str, window: int, features: int) -> tuple[str, str]:
    """The means of `window` neighbouring steps (models.classifier.shorten): x (B, T, D) ->
    (B, ceil(T / window), D), and the shortened lengths (B,) int64. A sequence's last window may
    be partial: its mean is over the valid steps in it only. x's padding must be 0."""
    S = graph.constant(f"window_{window}", np.int64(window))
    zero, one = graph.constant("zero", np.int64(0)), graph.constant("one", np.int64(1))
    # Zeros after the last step, up to a whole number of windows, add nothing to a sum.
    missing = graph.node(
        "Mod", [graph.node("Sub", [S, graph.node("Mod", [step_count(graph, x), S])]), S]
    )
    before = graph.constant("pads_before", [0, 0, 0, 0])  # B, T, D before; B after
    pads = graph.node(
        "Concat", [before, graph.unsqueeze(missing, 0), graph.constant("pad_0", [0])], axis=0
    )
    shape = graph.constant(f"windows_{window}", [0, -1, window, features])
    windows = graph.node("Reshape", [graph.node("Pad", [x, pads]), shape])  # (B, T', S, D)
    total = graph.node("ReduceSum", [windows, graph.constant("axis_2", [2])], keepdims=0)
    short = graph.node(
        "Div",
        [graph.node("Add", [lengths, graph.constant("window_less_1", np.int64(window - 1))]), S],
    )
    starts = graph.node("Mul", [graph.node("Range", [zero, step_count(graph, total), one]), S])
    inside = graph.node("Sub", [graph.unsqueeze(lengths, 1), graph.unsqueeze(starts, 0)])
    counts = graph.node("Clip", [inside, one, S])  # (B, T') valid steps in each window, >= 1
    return graph.node("Div", [total, graph.unsqueeze(graph.as_float(counts), 2)]), short
