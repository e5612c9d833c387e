"""The adaptive softmax's own weights read as the embedding: tied adaptive input (Baevski & Auli
2019), for `--tie` with `--output adaptive`.

The adaptive softmax (language.py) scores a word w of its head by the row W_head[w], and a word
of cluster i (the words from c_i to c_{i+1} - 1 in frequency rank) through a projection P_i of
h_t to d_i = H / 4^(i+1) features:

    score(w) = W_head[w] . h_t                  w in the head
    score(w) = T_i[w - c_i] . (P_i h_t)         w in cluster i

Tied, the same weights give the input vector of w:

    x = W_head[w]                               w in the head
    x = P_i^T T_i[w - c_i]                      w in cluster i

so a rare word's vector learns from both its uses (as Press & Wolf 2017 tie the plain softmax),
and the model keeps no V x H embedding of its own (the word recipe's 25,000 words x 400: 10M
parameters less).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def adaptive_input(output: nn.AdaptiveLogSoftmaxWithLoss, tokens: Tensor) -> Tensor:
    """tokens (...) int64 -> x (..., H), each token's vector from the output's weights."""
    flat = tokens.reshape(-1)
    head = output.head.weight  # (shortlist + clusters, H): its first rows are the head's words
    x = F.embedding(flat.clamp(max=output.shortlist_size - 1), head)  # cluster words replaced below
    for i, cluster in enumerate(output.tail):
        start, stop = output.cutoffs[i], output.cutoffs[i + 1]
        where = ((flat >= start) & (flat < stop)).nonzero().squeeze(1)
        if where.numel():
            P_i, T_i = cluster[0].weight, cluster[1].weight  # (d_i, H), (words, d_i)
            rows = F.embedding(flat[where] - start, T_i) @ P_i
            x = x.index_copy(0, where, rows.to(x.dtype))
    return x.view(*tokens.shape, -1)


def adaptive_input_table(output: nn.AdaptiveLogSoftmaxWithLoss) -> Tensor:
    """Every token's vector (V, H), in token order: what an embedding's weight would hold."""
    tokens = torch.arange(output.n_classes, device=output.head.weight.device)
    return adaptive_input(output, tokens)
