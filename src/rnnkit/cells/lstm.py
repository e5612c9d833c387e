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
    state_names = ("h", "c")
    state_size = len(state_names)

    def reset_parameters(self, init: str = "torch") -> None:
        super().reset_parameters(init)
        if init == "rnn" and self.bias is not None:
            # Forget bias 1 keeps c_{t-1} flowing early in training (Jozefowicz et al. 2015).
            with torch.no_grad():
                self.gate_blocks(self.bias)[1].fill_(1.0)

    def step_quantities(self, Wx_t: Tensor, state: State) -> dict[str, Tensor]:
        h_prev, c_prev = state
        # a_g = W_g x_t + U_g h_{t-1} + b_g for the gates i, f, c, o at once (W x_t + b is Wx_t)
        a_i, a_f, a_c, a_o = (Wx_t + h_prev @ self.weight_hh.T).chunk(4, dim=-1)
        # f_t = sigma_g(W_f x_t + U_f h_{t-1} + b_f)    forget gate
        f = torch.sigmoid(a_f)
        # i_t = sigma_g(W_i x_t + U_i h_{t-1} + b_i)    input gate
        i = torch.sigmoid(a_i)
        # o_t = sigma_g(W_o x_t + U_o h_{t-1} + b_o)    output gate
        o = torch.sigmoid(a_o)
        # c~_t = sigma_c(W_c x_t + U_c h_{t-1} + b_c)   candidate (inside c_t's)
        c_tilde = torch.tanh(a_c)
        # c_t = f_t * c_{t-1} + i_t * c~_t              cell state
        c = f * c_prev + i * c_tilde
        # h_t = o_t * sigma_h(c_t)                      hidden state
        tanh_c = torch.tanh(c)
        h = o * tanh_c
        return {
            "a_i": a_i,
            "a_f": a_f,
            "a_c": a_c,
            "a_o": a_o,
            "f": f,
            "i": i,
            "o": o,
            "c_tilde": c_tilde,
            "c": c,
            "tanh_c": tanh_c,
            "h": h,
        }
