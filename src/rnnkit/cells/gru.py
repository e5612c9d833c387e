"""Gated Recurrent Unit (GRU), Cho et al. 2014, in the lecture's form.

    z_t = sigma_g(W_z x_t + U_z h_{t-1} + b_z)                   update gate
    r_t = sigma_g(W_r x_t + U_r h_{t-1} + b_r)                   reset gate
    h~_t = sigma_h(W_h x_t + U_h (r_t * h_{t-1}) + b_h)          new update information
    h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

reset="before" (the lecture, the default) applies r_t to h_{t-1} before the product with U_h.
reset="after" is the placement of cuDNN and torch.nn.GRU, which needs a second candidate bias b_hn:

    h~_t = sigma_h(W_h x_t + b_h + r_t * (U_h h_{t-1} + b_hn))

Both keep the lecture's z: z_t weights the new candidate h~_t. torch.nn.GRU's z weights the old
state instead (h_t = (1 - z) * n + z * h), so its z is 1 - ours; `from_torch` negates its z
weights and bias to convert exactly.

With options (cells/options.py), v = h_{t-1} (m_h * h_{t-1} with recurrent dropout) being what U
multiplies and h'_t the step's new value before zoneout; with layer_norm, LN normalises each
product with a weight matrix as a whole (cells/options.py):

    [a_r, a_z, A_h] = LN(W x_t; γ^x) + b                        the input part, all gates
    [a_r, a_z] += LN(U_rz v; γ^h_rz)                             "before": two products with U,
    h~_t = tanh(A_h + LN(U_h (r_t * v); γ^h_h))                  each normalised
    [G_r, G_z, G_h] = LN(U v; γ^h)                               "after": one product
    h~_t = tanh(A_h + r_t * (G_h + b_hn)),  a_r += G_r, a_z += G_z
    h_t = d_t * h_{t-1} + (1 - d_t) * h'_t                       zoneout
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells.base import Cell, State
from rnnkit.cells.options import StepNoise

RESETS = ("before", "after")


class GRUCell(Cell):
    """The lecture's GRU cell. State is (h,); one step, from x_t and h_{t-1}:

        z_t = σ(W_z x_t + U_z h_{t-1} + b_z)                 update gate
        r_t = σ(W_r x_t + U_r h_{t-1} + b_r)                 reset gate
        h~_t = tanh(W_h x_t + U_h (r_t * h_{t-1}) + b_h)     new update information
        h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

    reset="after": h~_t = tanh(W_h x_t + b_h + r_t * (U_h h_{t-1} + b_hn)), torch.nn.GRU's
    placement (the options' equations: this module's docstring). Gates are stored r | z | h,
    torch.nn.GRU's order."""

    gate_names = ("r", "z", "h")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        reset: str = "before",
        **options,
    ) -> None:
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        self.reset = reset
        self.has_b_hn = bias and reset == "after"
        super().__init__(input_size, hidden_size, bias, device, dtype, **options)

    def add_parameters(self, factory: dict) -> None:
        if self.has_b_hn:
            self.b_hn = nn.Parameter(torch.empty(self.hidden_size, **factory))

    def reset_parameters(self, init: str = "torch") -> None:
        super().reset_parameters(init)
        if init == "rnn" and self.has_b_hn:
            with torch.no_grad():
                self.b_hn.zero_()

    def params(self) -> dict[str, Tensor]:
        named = super().params()
        if self.has_b_hn:
            named["b_hn"] = self.b_hn
        return named

    def step_quantities(
        self, Wx_t: Tensor, state: State, noise: StepNoise | None = None
    ) -> dict[str, Tensor]:
        noise = self.step_noise(noise)
        (h_prev,) = state
        H = self.hidden_size
        Wx_r, Wx_z, Wx_h = Wx_t.chunk(3, dim=-1)  # W x_t + b for r, z, h
        v = self.recurrent_input(h_prev, noise)  # what U multiplies: h_{t-1}
        if self.reset == "before":  # U_r h_{t-1} and U_z h_{t-1}, one product
            Uh_r, Uh_z = self.times_U(v, noise, slice(0, 2 * H)).chunk(2, dim=-1)
        else:  # and U_h h_{t-1} in the same product
            Uh_r, Uh_z, Uh_h = self.times_U(v, noise).chunk(3, dim=-1)
        # r_t = sigma_g(W_r x_t + U_r h_{t-1} + b_r)                       reset gate
        a_r = Wx_r + Uh_r
        r = torch.sigmoid(a_r)
        # z_t = sigma_g(W_z x_t + U_z h_{t-1} + b_z)                       update gate
        a_z = Wx_z + Uh_z
        z = torch.sigmoid(a_z)
        if self.reset == "before":
            # h~_t = sigma_h(W_h x_t + U_h (r_t * h_{t-1}) + b_h)          new update information
            a_h = Wx_h + self.times_U(r * v, noise, slice(2 * H, 3 * H))
        else:
            # h~_t = sigma_h(W_h x_t + b_h + r_t * (U_h h_{t-1} + b_hn))   cuDNN's placement
            a_h = Wx_h + r * (Uh_h + (self.b_hn if self.has_b_hn else 0.0))
        h_tilde = torch.tanh(a_h)
        # h_t = (1 - z_t) * h_{t-1} + z_t * h~_t                           new state
        h = (1 - z) * h_prev + z * h_tilde
        # zoneout: h_t = d_t * h_{t-1} + (1 - d_t) * h'_t
        h = self.zone(h, h_prev, noise.zone_h)
        return {"a_r": a_r, "r": r, "a_z": a_z, "z": z, "a_h": a_h, "h_tilde": h_tilde, "h": h}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, reset={self.reset!r}"
