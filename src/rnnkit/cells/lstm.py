"""Long Short-Term Memory (LSTM): a cell, an input gate, a forget gate and an output gate.

    f_t = sigma_g(W_f x_t + U_f h_{t-1} + b_f)                   forget gate
    i_t = sigma_g(W_i x_t + U_i h_{t-1} + b_i)                   input gate
    o_t = sigma_g(W_o x_t + U_o h_{t-1} + b_o)                   output gate
    c_t = f_t * c_{t-1} + i_t * sigma_c(W_c x_t + U_c h_{t-1} + b_c)
    h_t = o_t * sigma_h(c_t)

sigma_g = sigmoid, sigma_c = sigma_h = tanh, * is the element-wise product, c_0 = h_0 = 0.

With options (cells/options.py), c'_t and h'_t being the step's new values before zoneout:

    a    = LN(W x_t; γ^x) + LN(U h_{t-1}; γ^h) + b            layer_norm, all four gates' a_g
                                                                 at once (Ba et al. 2016)
    h'_t = o_t * tanh(LN(c'_t; γ^c, β^c))                          layer_norm: c'_t carried as it is
    h'_t = W_hr (o_t * tanh(c'_t))                                 proj_size: P = k features
    c_t  = d^c_t * c_{t-1} + (1 - d^c_t) * c'_t                    zoneout_c
    h_t  = d_t * h_{t-1} + (1 - d_t) * h'_t                        zoneout
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells.base import Cell, State
from rnnkit.cells.options import EPS, StepNoise


class LSTMCell(Cell):
    """The lecture's LSTM cell. State is (h, c); one step, from x_t and (h_{t-1}, c_{t-1}):

        f_t = σ(W_f x_t + U_f h_{t-1} + b_f)                 forget gate
        i_t = σ(W_i x_t + U_i h_{t-1} + b_i)                 input gate
        o_t = σ(W_o x_t + U_o h_{t-1} + b_o)                 output gate
        c_t = f_t * c_{t-1} + i_t * tanh(W_c x_t + U_c h_{t-1} + b_c)
        h_t = o_t * tanh(c_t)

    (the options' equations: this module's docstring). Gates are stored in torch.nn.LSTM's
    order, i | f | c | o (torch calls the candidate g), so torch's kernels run on these
    parameters as they are. With proj_size=k, h is k features wide (weight_hr (k, H),
    torch.nn.LSTM's) and U multiplies it: weight_hh is (4H, k).
    """

    gate_names = ("i", "f", "c", "o")
    state_names = ("h", "c")
    state_size = len(state_names)
    option_names = (*Cell.option_names, "zoneout_c", "proj_size")

    def add_parameters(self, factory: dict) -> None:
        H = self.hidden_size
        if self.proj_size >= H:
            raise ValueError(
                f"proj_size must be smaller than hidden_size (as in torch.nn.LSTM), "
                f"got {self.proj_size} >= {H}"
            )
        if self.layer_norm:
            self.gamma_c = nn.Parameter(torch.empty(H, **factory))  # LN(c_t)'s gain and bias
            self.beta_c = nn.Parameter(torch.empty(H, **factory))
        if self.proj_size:
            self.weight_hr = nn.Parameter(torch.empty(self.proj_size, H, **factory))

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    def reset_parameters(self, init: str = "torch") -> None:
        super().reset_parameters(init)
        if init == "rnn" and self.proj_size:
            nn.init.xavier_uniform_(self.weight_hr)
        if init == "rnn" and self.bias is not None:
            # Forget bias 1 keeps c_{t-1} flowing early in training (Jozefowicz et al. 2015).
            with torch.no_grad():
                self.gate_blocks(self.bias)[1].fill_(1.0)

    def step_quantities(
        self, Wx_t: Tensor, state: State, noise: StepNoise | None = None
    ) -> dict[str, Tensor]:
        noise = self.step_noise(noise)
        h_prev, c_prev = state
        # a_g = W_g x_t + U_g h_{t-1} + b_g for the gates i, f, c, o at once (W x_t + b is Wx_t)
        Uh = self.times_U(self.recurrent_input(h_prev, noise), noise)
        a_i, a_f, a_c, a_o = (Wx_t + Uh).chunk(4, dim=-1)
        # f_t = sigma_g(W_f x_t + U_f h_{t-1} + b_f)    forget gate
        f = torch.sigmoid(a_f)
        # i_t = sigma_g(W_i x_t + U_i h_{t-1} + b_i)    input gate
        i = torch.sigmoid(a_i)
        # o_t = sigma_g(W_o x_t + U_o h_{t-1} + b_o)    output gate
        o = torch.sigmoid(a_o)
        # c~_t = sigma_c(W_c x_t + U_c h_{t-1} + b_c)   candidate (inside c_t's)
        c_tilde = torch.tanh(a_c)
        # c_t = f_t * c_{t-1} + i_t * c~_t              cell state
        c_new = f * c_prev + i * c_tilde
        # h_t = o_t * sigma_h(c_t)                      hidden state (LN(c_t) with layer_norm)
        tanh_c = torch.tanh(self.normalise_c(c_new))
        h_new = o * tanh_c
        if self.proj_size:
            h_new = h_new @ self.weight_hr.T  # h_t = W_hr (o_t * tanh(c_t))
        # zoneout: c_t = d^c_t * c_{t-1} + (1 - d^c_t) * c'_t, h_t likewise with d_t
        return {
            "a_i": a_i,
            "a_f": a_f,
            "a_c": a_c,
            "a_o": a_o,
            "f": f,
            "i": i,
            "o": o,
            "c_tilde": c_tilde,
            "c": self.zone(c_new, c_prev, noise.zone_c),
            "tanh_c": tanh_c,
            "h": self.zone(h_new, h_prev, noise.zone_h),
        }

    def normalise_c(self, c: Tensor) -> Tensor:
        """LN(c_t; γ^c, β^c) with layer_norm, else c_t."""
        if not self.layer_norm:
            return c
        return nn.functional.layer_norm(c, c.shape[-1:], self.gamma_c, self.beta_c, EPS)
