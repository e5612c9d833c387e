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
    t = graph.node("Unsqueeze", [t, graph.constant("axis_0", [0])])  # (1, T)
    return graph.node(
        "Less", [t, graph.node("Unsqueeze", [lengths, graph.constant("axis_1", [1])])]
    )


def as_float(graph: Graph, value: str) -> str:
    """A bool or int64 value as float32."""
    return graph.node("Cast", [value], to=graph.onnx.TensorProto.FLOAT)


def zero_padding(graph: Graph, x: str, lengths: str) -> str:
    """x (B, T, D) with every step past a sequence's end set to 0, whatever the caller padded
    with (rnnkit's tasks pad with 0, so this changes nothing for them)."""
    valid = as_float(graph, valid_mask(graph, x, lengths))
    return graph.node("Mul", [x, graph.node("Unsqueeze", [valid, graph.constant("axis_2", [2])])])


def mean_over_steps(graph: Graph, h: str, lengths: str, axis: int) -> str:
    """The sum of h along its time `axis` divided by each sequence's length: (B, F). Steps past
    the end must be 0 in h (the callers' values are)."""
    total = graph.node("ReduceSum", [h, graph.constant(f"axis_{axis}", [axis])], keepdims=0)
    count = graph.node("Unsqueeze", [as_float(graph, lengths), graph.constant("axis_1", [1])])
    return graph.node("Div", [total, count])


def shorten(graph: Graph, x: str, lengths: str, window: int, features: int) -> tuple[str, str]:
    """The means of `window` neighbouring steps (models.classifier.shorten): x (B, T, D) ->
    (B, ceil(T / window), D), and the shortened lengths (B,) int64. A sequence's last window may
    be partial: its mean is over the valid steps in it only. x's padding must be 0."""
    S = graph.constant(f"window_{window}", np.int64(window))
    T = step_count(graph, x)
    missing = graph.node("Mod", [graph.node("Sub", [S, graph.node("Mod", [T, S])]), S])
    zero = graph.constant("zeros_4", [0, 0, 0, 0])
    pads = graph.node(
        "Concat",
        [
            zero,
            graph.node("Unsqueeze", [missing, graph.constant("axis_0", [0])]),
            graph.constant("zero_1", [0]),
        ],
        axis=0,
    )  # [0, 0, 0 | 0, missing, 0]: zeros after the last step add nothing to a sum
    windows = graph.node(
        "Reshape",
        [
            graph.node("Pad", [x, pads]),
            graph.constant(f"windows_{window}", [0, -1, window, features]),
        ],
    )  # (B, T', S, D)
    total = graph.node("ReduceSum", [windows, graph.constant("axis_2", [2])], keepdims=0)
    short = graph.node(
        "Div",
        [
            graph.node(
                "Add", [lengths, graph.node("Sub", [S, graph.constant("one", np.int64(1))])]
            ),
            S,
        ],
    )
    zero_scalar, one = graph.constant("zero", np.int64(0)), graph.constant("one", np.int64(1))
    T_short = step_count(graph, total)
    starts = graph.node("Mul", [graph.node("Range", [zero_scalar, T_short, one]), S])  # (T',)
    inside = graph.node(
        "Sub",
        [
            graph.node("Unsqueeze", [lengths, graph.constant("axis_1", [1])]),
            graph.node("Unsqueeze", [starts, graph.constant("axis_0", [0])]),
        ],
    )  # (B, T'): steps of the sequence at or after each window's start
    counts = graph.node("Clip", [inside, one, S])  # valid steps in each window, at least 1
    counts = graph.node("Unsqueeze", [as_float(graph, counts), graph.constant("axis_2", [2])])
    return graph.node("Div", [total, counts]), short
