"""A sequence classifier as one ONNX graph: (x, lengths) -> logits.

    h_1..h_T = the recurrent layers (x_1..x_T), each sequence stopped at its own length
    s        = h_T                              pooling="last" ([h->_T, h<-_1] if bidirectional)
             = (1 / T) * sum_{t=1..T} h_t       pooling="mean", over the valid steps only
    logits   = V s + b_y

Graph inputs: `x` (B, T, D) float32, zero-padded, and `lengths` (B,) int64. Output: `logits`
(B, K). The features are read as the model reads them: a classify run's normalisation
(RUN/scaler.json, x' = (x - mean) / std) is applied before, by the caller.
"""

from __future__ import annotations

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.export.graph import Graph
from rnnkit.export.network import LENGTHS, add_network, lengths_input, swap_batch_and_time
from rnnkit.models.classifier import SequenceClassifier


def classifier_graph(model: SequenceClassifier) -> Graph:
    """The graph of `model` (see the module docstring)."""
    config = model.config
    if config.conv or config.downsample > 1 or config.pooling not in ("last", "mean"):
        raise RnnkitError(
            "ONNX export writes a recurrent classifier pooled by its last state or mean; train "
            "it with --conv 0 --downsample 1 and --pooling last or mean to export it"
        )
    graph = Graph("rnnkit_SequenceClassifier")
    network = model.recurrent
    x = graph.input("x", np.float32, ["batch", "steps", network.input_size])
    sequence_lens = lengths_input(graph)
    output, states = add_network(graph, network, swap_batch_and_time(graph, x, True), sequence_lens)
    if model.pooling == "mean":
        pooled = _mean_over_valid_steps(graph, output, LENGTHS)
    else:
        pooled = _last_states(graph, states[0], model.recurrent.output_size // network.hidden_size)
    logits = graph.linear(model.head, pooled, "head")
    graph.output(logits, "logits", np.float32, ["batch", model.head.out_features])
    return graph


def _last_states(graph: Graph, h_n: str, directions: int) -> str:
    """The top layer's final states of h_n (L*dirs, B, H), side by side: (B, dirs*H)."""
    bounds = [graph.constant("starts", [-directions]), graph.constant("ends", [2**62])]
    top = graph.node("Slice", [h_n, *bounds, graph.constant("axes", [0])])  # (dirs, B, H)
    by_sequence = graph.node("Transpose", [top], perm=[1, 0, 2])  # (B, dirs, H)
    return graph.node("Reshape", [by_sequence, graph.constant("flat_shape", [0, -1])])


def _mean_over_valid_steps(graph: Graph, output: str, lengths: str) -> str:
    """output (T, B, F) -> the mean over each sequence's valid steps (B, F); lengths int64 (B,)."""
    steps = graph.node("Shape", [output], start=0, end=1)  # [T]
    zero, one = graph.constant("zero", np.int64(0)), graph.constant("one", np.int64(1))
    t = graph.node("Range", [zero, graph.node("Squeeze", [steps]), one])  # (T,)
    first_axis = graph.constant("first_axis", [0])
    valid = graph.node(
        "Less",
        [
            graph.node("Unsqueeze", [t, graph.constant("axis_1", [1])]),
            graph.node("Unsqueeze", [lengths, first_axis]),
        ],
    )  # (T, B): step t is inside sequence b
    weights = graph.node("Cast", [valid], to=graph.onnx.TensorProto.FLOAT)
    weights = graph.node("Unsqueeze", [weights, graph.constant("axis_2", [2])])  # (T, B, 1)
    total = graph.node("ReduceSum", [graph.node("Mul", [output, weights]), first_axis], keepdims=0)
    count = graph.node("Cast", [lengths], to=graph.onnx.TensorProto.FLOAT)
    return graph.node(
        "Div", [total, graph.node("Unsqueeze", [count, graph.constant("axis_1", [1])])]
    )
