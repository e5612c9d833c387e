"""The adaptive softmax's log-probabilities over all V tokens (Grave et al. 2017), as ONNX nodes.

torch.nn.AdaptiveLogSoftmaxWithLoss.log_prob, for each step's h (H,):

    head   = log_softmax(W_head h [+ b_head])          shortlist tokens, then one entry per cluster
    log p(w) = head[w]                                  for w in the shortlist
    log p(w) = head[shortlist + i] + log_softmax(W2_i W1_i h)[w - start_i]   for w in cluster i

The result is log-probabilities: their softmax is the model's distribution, as for logits.
"""

from __future__ import annotations

from torch import nn

from rnnkit.export.graph import Graph


def add_adaptive_log_prob(graph: Graph, adaptive: nn.AdaptiveLogSoftmaxWithLoss, h: str) -> str:
    """h (B, T, H) -> log p (B, T, V) of every token."""
    last_axis = graph.constant("last_axis", [-1])

    def columns(value: str, start: int, stop: int) -> str:  # value[..., start:stop]
        bounds = [graph.constant("starts", [start]), graph.constant("ends", [stop])]
        return graph.node("Slice", [value, *bounds, last_axis])

    head = graph.node("LogSoftmax", [graph.linear(adaptive.head, h, "head")], axis=-1)
    shortlist = adaptive.shortlist_size
    parts = [columns(head, 0, shortlist)]
    for i, cluster in enumerate(adaptive.tail):
        projected = graph.linear(cluster[0], h, f"tail{i}_projection")
        within = graph.node(
            "LogSoftmax", [graph.linear(cluster[1], projected, f"tail{i}")], axis=-1
        )
        parts.append(graph.node("Add", [within, columns(head, shortlist + i, shortlist + i + 1)]))
    return graph.node("Concat", parts, axis=-1)
