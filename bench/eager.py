"""The layer-norm LSTM as a user writes it in eager PyTorch: the baseline rnnkit's must beat.

Written the way pytorch/benchmarks/fastrnns writes its LayerNormLSTMCell (custom_lstms.py): one
nn.LayerNorm over all four gates of W x_t and one of U h_{t-1}, one on c_t, a Python loop over
time and autograd for the backward. Like a careful user (and unlike fastrnns), it projects and
normalises the input of every step at once before the loop and reads the steps with `unbind`, and
it keeps Ba et al.'s state (h_t = o_t * tanh(LN(c_t)), c_t carried un-normalised), so it does the
same work per step as rnnkit.LSTM(layer_norm=True); only its normalisation spans the four gates
together where rnnkit's spans each gate.

    a_t = LN_x(W x_t) + LN_h(U h_{t-1}) + b,   i, f, o = sigma(.), c~ = tanh(.)
    c_t = f * c_{t-1} + i * c~,   h_t = o * tanh(LN_c(c_t))
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LayerNormLSTMLayer(nn.Module):
    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        G = 4 * hidden_size
        bound = hidden_size**-0.5
        self.weight_ih = nn.Parameter(torch.empty(G, input_size).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(G, hidden_size).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(G))
        self.norm_x, self.norm_h = nn.LayerNorm(G, bias=False), nn.LayerNorm(G, bias=False)
        self.norm_c = nn.LayerNorm(hidden_size)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x (T, B, D) -> outputs (T, B, H) and the final (h, c)."""
        H = self.weight_hh.shape[1]
        h = c = x.new_zeros(x.shape[1], H)
        outputs = []
        for Wx_t in (self.norm_x(x @ self.weight_ih.T) + self.bias).unbind(0):
            gates = Wx_t + self.norm_h(h @ self.weight_hh.T)
            i, f, g, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(self.norm_c(c))
            outputs.append(h)
        return torch.stack(outputs), (h, c)


class LayerNormLSTM(nn.Module):
    """Stacked layers, time-major, returning (output, (h_n, c_n)) like torch.nn.LSTM."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(LayerNormLSTMLayer(d, hidden_size) for d in sizes)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        finals = []
        for layer in self.layers:
            x, final = layer(x)
            finals.append(final)
        h_n, c_n = (torch.stack(parts) for parts in zip(*finals))
        return x, (h_n, c_n)
