"""What every cell has in common: parameters stacked per gate, and a step split in two.

A cell computes one time step. Its G gates each have an input weight W (H x D), a recurrent weight
U (H x H) and one bias b (H), as in the lecture. They are stored stacked, in the layout torch's own
kernels use, so the fast backends can pass them through without copying:

    weight_ih = [W_1; W_2; ...; W_G]     (G*H, D)
    weight_hh = [U_1; U_2; ...; U_G]     (G*H, H)
    bias      = [b_1; b_2; ...; b_G]     (G*H,)

`params()` returns the lecture's names (W_f, U_f, b_f, ...) as views on these tensors.

The step is split so that a whole sequence can be projected in one matrix product:

    project_input(x_t) = W x_t + b                     (for every gate, for all t at once)
    step_quantities(Wx_t, state) = the gate equations, adding U h_{t-1}: every named quantity
                         of the step (a_f, f, c~, c, h, ...), the one place a cell's math lives
    step(Wx_t, state)  = the new state, read from step_quantities

`cell(x_t, hx)` does both for one step, taking and returning what torch.nn's cells do.
Shapes: B batch, D input, H hidden, G gates.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError

# A cell's state: (h,) for RNN and GRU, (h, c) for LSTM.
State = tuple[Tensor, ...]

INITS = ("torch", "rnn")


class Cell(nn.Module):
    """Base class of RNNCell, LSTMCell and GRUCell.

    Subclasses set `gate_names` (the lecture's letters, in storage order), `state_names` and
    `state_size` (("h",) and 1, or ("h", "c") and 2), and implement `step_quantities`.
    """

    gate_names: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ("h",)  # the state, as step_quantities names it
    state_size: int = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(
                f"input_size and hidden_size must be positive, got {input_size} and {hidden_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        gates = len(self.gate_names)
        self.weight_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.empty(gates * hidden_size)) if bias else None
        self.reset_parameters()

    # ----- initialisation -------------------------------------------------------------------
    def reset_parameters(self, init: str = "torch") -> None:
        """Initialise the weights.

        "torch": every weight and bias uniform in (-1/sqrt(H), 1/sqrt(H)), torch.nn's default.
        "rnn":   the common practice for recurrent nets: each gate's U orthogonal, each W
                 Xavier-uniform, biases 0 (LSTMCell then sets its forget-gate bias to 1).
        """
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if init == "torch":
            bound = 1.0 / math.sqrt(self.hidden_size)
            for parameter in self.parameters(recurse=False):
                nn.init.uniform_(parameter, -bound, bound)
            return
        with torch.no_grad():
            for W, U in zip(self.gate_blocks(self.weight_ih), self.gate_blocks(self.weight_hh)):
                nn.init.xavier_uniform_(W)
                nn.init.orthogonal_(U)
            if self.bias is not None:
                self.bias.zero_()

    # ----- the lecture's names ---------------------------------------------------------------
    def gate_blocks(self, stacked: Tensor) -> tuple[Tensor, ...]:
        """Split a stacked tensor into one view per gate, in `gate_names` order."""
        return stacked.chunk(len(self.gate_names), dim=0)

    def params(self) -> dict[str, Tensor]:
        """The lecture's named tensors (W_f, U_f, b_f, ...): views on the real parameters."""
        named = {}
        W = self.gate_blocks(self.weight_ih)
        U = self.gate_blocks(self.weight_hh)
        b = self.gate_blocks(self.bias) if self.bias is not None else None
        for k, gate in enumerate(self.gate_names):
            named[f"W_{gate}"] = W[k]
            named[f"U_{gate}"] = U[k]
            if b is not None:
                named[f"b_{gate}"] = b[k]
        return named

    def __getattr__(self, name: str):
        # `cell.W_f` reads like the lecture: a view on weight_ih, looked up only after
        # nn.Module's own attributes (parameters, buffers, submodules) are not found.
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.rstrip("_").rpartition("_")[2] not in self.gate_names and name not in (
                "W",
                "U",
                "b",
            ):
                raise
        params = self.params()
        if name not in params:
            raise AttributeError(f"{type(self).__name__} has no parameter {name!r}")
        return params[name]

    # ----- the computation -------------------------------------------------------------------
    def initial_state(self, batch_size: int, like: Tensor) -> State:
        """h_0 = 0 (and c_0 = 0), as in the lecture."""
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return (zeros,) * self.state_size

    def project_input(self, x: Tensor) -> Tensor:
        """W x + b for every gate at once; x is (..., D), the result (..., G*H)."""
        return nn.functional.linear(x, self.weight_ih, self.bias)

    def step_quantities(self, Wx_t: Tensor, state: State) -> dict[str, Tensor]:
        """Every named quantity of one time step, from the projected input W x_t + b (B, G*H)
        and the previous state: each gate's pre-activation a_g = W_g x_t + U_g h_{t-1} + b_g and
        value g_t, the candidates and the new state, under the lecture's letters (LSTM: a_f, f,
        c_tilde, c, h, ...; GRU: a_r, r, z, h_tilde, h, ...; RNN: a, h), each (B, H), in the
        order they are computed. `step`, explain and visualize all read this one computation.
        """
        raise NotImplementedError

    def state_of(self, quantities: dict[str, Tensor]) -> State:
        """The new state among a step's quantities: (h,), or (h, c) for LSTM."""
        return tuple([quantities[name] for name in self.state_names])

    def step(self, Wx_t: Tensor, state: State) -> State:
        """One time step from the projected input W x_t + b and the previous state."""
        return self.state_of(self.step_quantities(Wx_t, state))

    def forward(self, input: Tensor, hx: Tensor | State | None = None) -> Tensor | State:
        """One time step, as torch.nn.LSTMCell / GRUCell / RNNCell take and return it.

        input: x_t, (B, D) or (D,) unbatched. hx: the previous state, h_{t-1} (B, H) or for LSTM
        the pair (h_{t-1}, c_{t-1}); zeros if None. Returns the new state in the form of hx:
        h_t, or (h_t, c_t) for LSTM.
        """
        if input.dim() not in (1, 2):
            raise RnnkitError(
                f"{type(self).__name__} takes one step, (batch, {self.input_size}) or "
                f"({self.input_size},), got shape {tuple(input.shape)}; networks take sequences"
            )
        batched = input.dim() == 2
        x_t = input if batched else input.unsqueeze(0)
        if hx is None:
            state = self.initial_state(x_t.shape[0], x_t)
        else:
            state = tuple(hx) if self.state_size > 1 else (hx,)
            state = state if batched else tuple(part.unsqueeze(0) for part in state)
        state = self.step(self.project_input(x_t), state)
        state = state if batched else tuple(part.squeeze(0) for part in state)
        return state if self.state_size > 1 else state[0]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias is not None}"
