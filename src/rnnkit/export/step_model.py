"""A language model or piano-roll model as a step model: (input, states) -> (logits, new states).

    x_t      = E[w_t]  (embedding; a table of its rows with tied adaptive input or word features),
               or the one-hot vector of w_t, or the piano-roll frame v_t
    h_t      = the recurrent layers (x_t, h_{t-1})
    logits_t = V h_t + b_y          (log-probabilities for an adaptive softmax)

Graph inputs: `tokens` (B, T) int64 (a piano-roll model: `frames` (B, T, 88) float32 of 0/1),
`h_0` (and `c_0` for LSTM) (L, B, H). Outputs: `logits` (B, T, V) and `h_n` (`c_n`) (L, B, H).
A sampling loop feeds the prime once with zero states, then one token at a time (T = 1) with the
states the previous call returned: the work per token does not grow with the text.
Dropout is a training-time operation and is left out.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnkit.export.adaptive import add_adaptive_log_prob
from rnnkit.export.graph import Graph
from rnnkit.export.network import (
    add_network,
    state_inputs,
    state_outputs,
    swap_batch_and_time,
)
from rnnkit.models.language import LanguageModel
from rnnkit.models.pianoroll import KEYS, PianoRollModel


def step_model_graph(model: LanguageModel | PianoRollModel) -> Graph:
    """The step model of `model` (see the module docstring)."""
    graph = Graph(f"rnnkit_{type(model).__name__}_step")
    network = model.rnn
    x = _input_vectors(graph, model)  # (B, T, E)
    initial = state_inputs(graph, network)
    h, states = add_network(graph, network, swap_batch_and_time(graph, x, True), None, initial)
    h = swap_batch_and_time(graph, h, True)  # (B, T, H)
    logits = _logits(graph, model, h)
    outputs = KEYS if isinstance(model, PianoRollModel) else model.config.vocab_size
    graph.output(logits, "logits", np.float32, ["batch", "steps", outputs])
    state_outputs(graph, network, states)
    return graph


def _input_vectors(graph: Graph, model: LanguageModel | PianoRollModel) -> str:
    """x_t for every step: (B, T, E) float32."""
    if isinstance(model, PianoRollModel):
        return graph.input("frames", np.float32, ["batch", "steps", KEYS])
    tokens = graph.input("tokens", np.int64, ["batch", "steps"])
    if model.tied_input or model.word_features is not None:  # vectors computed from weights
        vectors = model.input_vectors().detach().to("cpu", torch.float32)
        table = graph.constant("embedding", vectors.numpy())
        return graph.node("Gather", [table, tokens])
    if model.embedding is not None:
        return graph.node("Gather", [graph.weight("embedding", model.embedding.weight), tokens])
    V = model.config.vocab_size
    depth = graph.constant("vocab_size", [V])
    off_on = graph.constant("one_hot_values", np.array([0.0, 1.0], dtype=np.float32))
    return graph.node("OneHot", [tokens, depth, off_on], axis=-1)


def _logits(graph: Graph, model: LanguageModel | PianoRollModel, h: str) -> str:
    """V h_t + b_y (B, T, V), or the adaptive softmax's log-probabilities."""
    if getattr(model, "adaptive", False):
        return add_adaptive_log_prob(graph, model.output, h)
    return graph.linear(model.output, h, "output")
