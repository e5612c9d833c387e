"""Long Short-Term Memory (LSTM): a cell, an input gate, a forget gate and an output gate.

    f_t = sigma_g(W_f x_t + U_f h_{t-1} + b_f)                   forget gate
    i_t = sigma_g(W_i x_t + U_i h_{t-1} + b_i)                   input gate
    o_t = sigma_g(W_o x_t + U_o h_{t-1} + b_o)                   output gate
    c_t = f_t * c_{t-1} + i_t * sigma_c(W_c x_t + U_c h_{t-1} + b_c)
    h_t = o_t * sigma_h(c_t)

sigma_g = sigmoid, sigma_c = sigma_h = tanh, * is the element-wise product, c_0 = h_0 = 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.base import Cell, State


class LSTMCell(Cell):
    """The lecture's LSTM cell. State is (h, c).

    Gates are stored in torch.nn.LSTM's order, i | f | c | o (torch calls the candidate g), so
    torch's kernels run on these parameters as they are.
    """

    gate_names = ("i", "f", "c", "o")
    state_size = 2

    def reset_parameters(self, init: str = "torch") -> None:
        super().reset_parameters(init)
        if init == "rnn" and self.bias is not None:
            # Forget bias 1 keeps c_{t-1} flowing early in training (Jozefowicz et al. 2015).
            with torch.no_grad():
                self.gate_blocks(self.bias)[1].fill_(1.0)

    def step(self, Wx_t: Tensor, state: State) -> State:
        h_prev, c_prev = state
        # W x_t + b (precomputed) + U h_{t-1}, for the gates i, f, c, o at once.
        a_i, a_f, a_c, a_o = (Wx_t + h_prev @ self.weight_hh.T).chunk(4, dim=-1)
        f_t = torch.sigmoid(a_f)
        i_t = torch.sigmoid(a_i)
        o_t = torch.sigmoid(a_o)
        c_t = f_t * c_prev + i_t * torch.tanh(a_c)
        h_t = o_t * torch.tanh(c_t)
        return h_t, c_t
