"""A sequence classifier, or a committee of them, as one ONNX graph: (x, lengths) -> logits.

    h_1..h_T = the recurrent layers (x_1..x_T'), each sequence stopped at its own length
               (with downsample S, x' is the means of S neighbouring steps: export/padding.py)
    r        = pool(h_1..h_T)               last, mean, max or attention (models/pooling.py)
    c        = FCN(x_1..x_T)                the convolutional branch, if any (export/convolution.py)
    logits   = V [r; c] + b_y

A committee of M models (models/committee.py) writes its members side by side and returns the
log of their mean probability, log (1/M) sum_m softmax(logits_m): softmax of it is the
committee's probability, its argmax the committee's class.

Graph inputs: `x` (B, T, D) float32, padded (any padding value: steps past a sequence's end are
zeroed first), and `lengths` (B,) int64. Output: `logits` (B, K). The features are read as the
model reads them: a classify run's resampling (config.json's "resample") and normalisation
(RUN/scaler.json, x' = (x - mean) / std) are applied before, by the caller (docs/DEPLOY.md).
"""

from __future__ import annotations

import math

import numpy as np

from rnnkit.export.convolution import add_convolutional
from rnnkit.export.graph import Graph
from rnnkit.export.network import add_network, sequence_lens, swap_batch_and_time
from rnnkit.export.padding import mean_over_steps, padded_with, shorten
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.committee import Committee
from rnnkit.models.pooling import AttentionPooling


def classifier_graph(model: SequenceClassifier | Committee) -> Graph:
    """The graph of `model` (see the module docstring)."""
    members = list(model.members) if isinstance(model, Committee) else [model]
    config = members[0].config
    graph = Graph(f"rnnkit_{type(model).__name__}")
    x = graph.input("x", np.float32, ["batch", "steps", config.input_size])
    lengths = graph.input("lengths", np.int64, ["batch"])
    x = padded_with(graph, x, lengths, 0.0)  # rnnkit's tasks pad with 0: the model expects it
    logits = [_logits(graph, member, x, lengths, f"m{m}") for m, member in enumerate(members)]
    if len(logits) > 1:
        logits = [_log_mean_probability(graph, logits)]
    graph.output(logits[0], "logits", np.float32, ["batch", config.num_classes])
    return graph


def _logits(graph: Graph, model: SequenceClassifier, x: str, lengths: str, stem: str) -> str:
    """One classifier's logits (B, K): its branches side by side, then the head."""
    config = model.config
    parts = [_recurrent(graph, model, x, lengths, stem)]
    if model.convolutional is not None:
        x_c, lengths_c = x, lengths
        if config.conv_downsample > 1:
            x_c, lengths_c = shorten(graph, x, lengths, config.conv_downsample, config.input_size)
        parts.append(add_convolutional(graph, model.convolutional, x_c, lengths_c, f"{stem}_fcn"))
    features = parts[0] if len(parts) == 1 else graph.node("Concat", parts, axis=1)
    return graph.linear(model.head, features, f"{stem}_head")


def _recurrent(graph: Graph, model: SequenceClassifier, x: str, lengths: str, stem: str) -> str:
    """The pooled states of the recurrent branch (B, dirs*H)."""
    config, network = model.config, model.recurrent
    if config.downsample > 1:
        x, lengths = shorten(graph, x, lengths, config.downsample, config.input_size)
    time_major = swap_batch_and_time(graph, x, True)
    output, states = add_network(graph, network, time_major, sequence_lens(graph, lengths))
    if model.pooling == "last":
        return _last_states(graph, states[0], network.output_size // network.cell().output_size)
    output = swap_batch_and_time(graph, output, True)  # (B, T, F)
    if model.pooling == "max":
        masked = padded_with(graph, output, lengths, -np.inf)
        return graph.node("ReduceMax", [masked, graph.constant("axis_1", [1])], keepdims=0)
    # 0 past each end: onnxruntime writes 0 there, but the standard leaves it open
    output = padded_with(graph, output, lengths, 0.0)
    if model.pooling == "mean":
        return mean_over_steps(graph, output, lengths, axis=1)
    return _attention(graph, model.attention, output, lengths, stem)


def _last_states(graph: Graph, h_n: str, directions: int) -> str:
    """The top layer's final states of h_n (L*dirs, B, H), side by side: (B, dirs*H)."""
    bounds = [graph.constant("starts", [-directions]), graph.constant("ends", [2**62])]
    top = graph.node("Slice", [h_n, *bounds, graph.constant("axes", [0])])  # (dirs, B, H)
    by_sequence = graph.node("Transpose", [top], perm=[1, 0, 2])  # (B, dirs, H)
    return graph.node("Reshape", [by_sequence, graph.constant("flat_shape", [0, -1])])


def _attention(
    graph: Graph, attention: AttentionPooling, output: str, lengths: str, stem: str
) -> str:
    """s = sum_t a_t h_t, a_t = softmax over the valid steps of v^T tanh(W h_t + b)."""
    hidden = graph.node("Tanh", [graph.linear(attention.W, output, f"{stem}_attention_W")])
    scores = graph.linear(attention.v, hidden, f"{stem}_attention_v")  # (B, T, 1)
    scores = padded_with(graph, scores, lengths, -np.inf)  # softmax gives them weight 0
    a = graph.node("Softmax", [scores], axis=1)
    return graph.node(
        "ReduceSum", [graph.node("Mul", [a, output]), graph.constant("axis_1", [1])], keepdims=0
    )


def _log_mean_probability(graph: Graph, logits: list[str]) -> str:
    """log (1/M) sum_m softmax(logits_m), (B, K), from M logits (B, K)."""
    log_p = [graph.unsqueeze(graph.node("LogSoftmax", [z], axis=1), 0) for z in logits]
    stacked = graph.node("Concat", log_p, axis=0)  # (M, B, K)
    total = graph.node("ReduceLogSumExp", [stacked, graph.constant("axis_0", [0])], keepdims=0)
    return graph.node("Sub", [total, graph.constant("log_M", np.float32(math.log(len(logits))))])
