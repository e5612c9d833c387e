"""The convolutional branch of LSTM-FCN (rnnkit.models.convolution) as ONNX Conv nodes.

In evaluation, batch normalisation is a fixed affine map per channel, so it is folded into the
convolution before it (as inference compilers do):

    BN(conv(h)) = gamma (W * h + b - mu) / sqrt(var + eps) + beta = W' * h + b'
    W' = s W,   b' = s (b - mu) + beta,   s = gamma / sqrt(var + eps)      (per output channel)

then each block is  h^k = ReLU(W'_k * h^k-1 + b'_k) . valid  ("same" padding, (w - 1) // 2
zeros before and w // 2 after; `valid` zeroes the steps past each sequence's end, as the model
does), squeeze-and-excite where the model has it, and the mean over each sequence's own steps.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnkit.export.graph import Graph
from rnnkit.export.padding import mean_over_steps, valid_mask
from rnnkit.models.convolution import FullyConvolutional, MaskedBatchNorm, SqueezeExcite


def add_convolutional(
    graph: Graph, branch: FullyConvolutional, x: str, lengths: str, stem: str
) -> str:
    """x (B, T, D) with zero padding, lengths (B,) int64 -> the branch's vector (B, N)."""
    valid = graph.unsqueeze(graph.as_float(valid_mask(graph, x, lengths)), 1)  # (B, 1, T)
    h = graph.node("Transpose", [x], perm=[0, 2, 1])  # (B, D, T)
    for k, (conv, norm) in enumerate(zip(branch.convs, branch.norms, strict=True)):
        W, b = _folded(conv, norm)
        width = conv.kernel_size[0]
        h = graph.node(
            "Conv",
            [h, graph.constant(f"{stem}_conv{k}_W", W), graph.constant(f"{stem}_conv{k}_b", b)],
            kernel_shape=[width],
            pads=[(width - 1) // 2, width // 2],
        )
        h = graph.node("Mul", [graph.node("Relu", [h]), valid])
        if k < len(branch.excite):
            h = _squeeze_excite(graph, branch.excite[k], h, lengths, f"{stem}_excite{k}")
    return mean_over_steps(graph, h, lengths, axis=2)


def _folded(conv: torch.nn.Conv1d, norm: MaskedBatchNorm) -> tuple[np.ndarray, np.ndarray]:
    """The weights (C_out, C_in, w) and bias (C_out,) of conv followed by norm in evaluation."""
    with torch.no_grad():
        scale = norm.weight.double() * torch.rsqrt(norm.running_var.double() + norm.eps)
        W = conv.weight.double() * scale[:, None, None]
        b = (conv.bias.double() - norm.running_mean.double()) * scale + norm.bias.double()
    return W.numpy(), b.numpy()


def _squeeze_excite(graph: Graph, excite: SqueezeExcite, h: str, lengths: str, stem: str) -> str:
    """h (B, C, T) -> e * h, e = sigmoid(W_2 ReLU(W_1 z)), z the mean over valid steps."""
    z = mean_over_steps(graph, h, lengths, axis=2)  # (B, C)
    squeezed = graph.node("Relu", [graph.linear(excite.W_1, z, f"{stem}_W_1")])
    e = graph.node("Sigmoid", [graph.linear(excite.W_2, squeezed, f"{stem}_W_2")])
    return graph.node("Mul", [h, graph.unsqueeze(e, 2)])
