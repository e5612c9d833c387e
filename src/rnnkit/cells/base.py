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
    output(h)          = what the layer outputs, y_t = h_t (or m_y * h_t with output dropout)

`cell(x_t, hx)` does the first three for one step, taking and returning what torch.nn's cells
do. A cell's options (layer norm, dropouts, zoneout, an LSTM's projection; cells/options.py) are
keyword arguments of its constructor and part of these same functions; their masks for one
forward call come from `draw`, and each step reads its share (a StepNoise; None means
evaluation: no dropout, zoneout's expectation).
Shapes: B batch, D input, H hidden, G gates, P the state h's features (H, or an LSTM's proj_size).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict

import torch
from torch import Tensor, nn

from rnnkit.cells.options import OPTION_NAMES, Noise, Options, StepNoise, draw, layer_norm
from rnnkit.errors import RnnkitError

# A cell's state: (h,) for RNN and GRU, (h, c) for LSTM.
State = tuple[Tensor, ...]
# (x (..., D), weight (N, D), bias (N,) or None) -> x W^T + b (..., N)
Linear = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]

INITS = ("torch", "rnn")


def orthogonal_(U: Tensor) -> None:
    """nn.init.orthogonal_, computed in float32 where torch's QR lacks U's dtype (bfloat16)."""
    if U.dtype in (torch.float32, torch.float64):
        nn.init.orthogonal_(U)
    else:
        U.copy_(nn.init.orthogonal_(torch.empty(U.shape, device=U.device)))


class Cell(nn.Module):
    """Base class of RNNCell, LSTMCell and GRUCell.

    Subclasses set `gate_names` (the lecture's letters, in storage order), `state_names` and
    `state_size` (("h",) and 1, or ("h", "c") and 2), and implement `step_quantities`.
    `option_names` are the options (cells/options.py) the cell takes.
    """

    gate_names: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ("h",)  # the state, as step_quantities names it
    state_size: int = 1
    option_names: tuple[str, ...] = (
        "layer_norm",
        "input_dropout",
        "recurrent_dropout",
        "output_dropout",
        "weight_dropout",
        "zoneout",
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **options,
    ) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(
                f"input_size and hidden_size must be positive, got {input_size} and {hidden_size}"
            )
        # Kept as plain attributes (cell.layer_norm, cell.zoneout, ...), as every setting of
        # rnnkit's modules is: torch.load's safe unpickler rebuilds them (layers/safe_loading.py).
        vars(self).update(asdict(Options.of(type(self).__name__, self.option_names, options)))
        self.input_size = input_size
        self.hidden_size = hidden_size
        # torch.nn's factory arguments: every parameter is made on `device` in `dtype`.
        factory = {"device": device, "dtype": dtype}
        GH = len(self.gate_names) * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(GH, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(GH, self.output_size, **factory))
        self.bias = nn.Parameter(torch.empty(GH, **factory)) if bias else None
        if self.layer_norm:
            self.gamma_x = nn.Parameter(torch.empty(GH, **factory))  # LN's gains on W x_t
            self.gamma_h = nn.Parameter(torch.empty(GH, **factory))  # and on U h_{t-1}
        self.add_parameters(factory)
        self.reset_parameters()

    def add_parameters(self, factory: dict) -> None:
        """Where a subclass adds the parameters its own options need, each made with
        `torch.empty(..., **factory)` (the constructor's device and dtype)."""

    @property
    def options(self) -> Options:
        """The cell's options (cells/options.py), all of them, at their values."""
        return Options(**{name: getattr(self, name) for name in OPTION_NAMES})

    @property
    def output_size(self) -> int:
        """P, the features of h_t (and of the layer's output): H unless an LSTM projects."""
        return self.hidden_size

    # ----- initialisation -------------------------------------------------------------------
    def reset_parameters(self, init: str = "torch") -> None:
        """Initialise the weights.

        "torch": every weight and bias uniform in (-1/sqrt(H), 1/sqrt(H)), torch.nn's default.
        "rnn":   the common practice for recurrent nets: each gate's U orthogonal, each W
                 Xavier-uniform, biases 0 (LSTMCell then sets its forget-gate bias to 1).
        Either way layer norm starts as plain normalisation: gains γ 1, biases β 0.
        """
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        with torch.no_grad():
            for name, parameter in self.named_parameters(recurse=False):
                if name.startswith(("gamma", "beta")):
                    parameter.fill_(1.0 if name.startswith("gamma") else 0.0)
                elif init == "torch":
                    bound = 1.0 / math.sqrt(self.hidden_size)
                    nn.init.uniform_(parameter, -bound, bound)
            if init == "torch":
                return
            for W, U in zip(self.gate_blocks(self.weight_ih), self.gate_blocks(self.weight_hh)):
                nn.init.xavier_uniform_(W)
                orthogonal_(U)
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
    @property
    def state_features(self) -> tuple[int, ...]:
        """The features of each part of the state: (P,), or (P, H) for an LSTM's (h, c)."""
        return (self.output_size, *[self.hidden_size] * (self.state_size - 1))

    def initial_state(self, batch_size: int, like: Tensor) -> State:
        """h_0 = 0 (and c_0 = 0), as in the lecture."""
        return tuple(like.new_zeros(batch_size, n) for n in self.state_features)

    def draw(self, steps: int, batch_size: int, like: Tensor) -> Noise:
        """The masks of one forward call over `steps` steps of `batch_size` sequences: random in
        training, their expectations in evaluation (cells/options.py)."""
        sizes = (self.input_size, self.output_size, self.hidden_size)
        return draw(self.options, self.training, steps, batch_size, sizes, self.weight_hh, like)

    def project_input(
        self, x: Tensor, noise: Noise | None = None, linear: Linear = nn.functional.linear
    ) -> Tensor:
        """W x_t + b for every gate at once; x is (..., D), the result (..., G*H).

        input_dropout:  W (m_x * x_t) + b       (m_x from `noise`, none in evaluation)
        layer_norm:     LN(W x_t; γ^x) + b

        linear: how to compute x W^T + b (a backend may bring a faster one).
        """
        if self.layer_norm:
            return layer_norm(self.input_product(x, noise, linear), self.gamma_x, self.bias)
        return self.input_product(x, noise, linear, self.bias)

    def input_product(
        self,
        x: Tensor,
        noise: Noise | None = None,
        linear: Linear = nn.functional.linear,
        bias: Tensor | None = None,
    ) -> Tensor:
        """project_input before layer norm and bias: W (m_x * x_t) (+ `bias`, in the same
        product). The fused LSTM normalises it and adds b inside its own loop."""
        if noise is not None and noise.x is not None:
            x = x * noise.x
        return linear(x, self.weight_ih, bias)

    def times_U(self, v: Tensor, noise: StepNoise, rows: slice = slice(None)) -> Tensor:
        """U_g v for the gates g stored in `rows` of U (one product), v being what U multiplies
        (h_{t-1}, ...):

        weight_dropout:  (M * U_g) v            (M from `noise`)
        layer_norm:      LN(U_g v; γ^h_g), the product normalised as a whole
        """
        U = self.weight_hh if noise.U is None else noise.U
        Uv = v @ U[rows].T
        if not self.layer_norm:
            return Uv
        return layer_norm(Uv, self.gamma_h[rows])

    def step_noise(self, noise: StepNoise | None) -> StepNoise:
        """A step's masks as given, or, for None, those of evaluation."""
        return StepNoise.expected(self.options) if noise is None else noise

    @staticmethod
    def recurrent_input(h_prev: Tensor, noise: StepNoise) -> Tensor:
        """What U multiplies: h_{t-1}, or m_h * h_{t-1} with recurrent dropout."""
        return h_prev if noise.h is None else h_prev * noise.h

    @staticmethod
    def zone(new: Tensor, previous: Tensor, d: Tensor | float | None) -> Tensor:
        """Zoneout: d * previous + (1 - d) * new, each unit keeping its previous value where d
        is 1 (d = p in evaluation); `new` itself without zoneout."""
        return new if d is None else torch.lerp(new, previous, d)

    def step_quantities(
        self, Wx_t: Tensor, state: State, noise: StepNoise | None = None
    ) -> dict[str, Tensor]:
        """Every named quantity of one time step, from the projected input W x_t + b (B, G*H)
        and the previous state: each gate's pre-activation a_g = W_g x_t + U_g h_{t-1} + b_g and
        value g_t, the candidates and the new state, under the lecture's letters (LSTM: a_f, f,
        c_tilde, c, h, ...; GRU: a_r, r, z, h_tilde, h, ...; RNN: a, h), each (B, H), in the
        order they are computed. `step`, explain and visualize all read this one computation.
        noise: this step's masks (None: evaluation).
        """
        raise NotImplementedError

    def state_of(self, quantities: dict[str, Tensor]) -> State:
        """The new state among a step's quantities: (h,), or (h, c) for LSTM."""
        return tuple([quantities[name] for name in self.state_names])

    def step(self, Wx_t: Tensor, state: State, noise: StepNoise | None = None) -> State:
        """One time step from the projected input W x_t + b and the previous state."""
        return self.state_of(self.step_quantities(Wx_t, state, noise))

    def output(self, h: Tensor, noise: Noise | None = None) -> Tensor:
        """What the layer outputs from its states h_t (..., B, P): y_t = h_t, or m_y * h_t with
        output dropout (the state itself keeps h_t)."""
        return h if noise is None or noise.y is None else h * noise.y

    def forward(self, input: Tensor, hx: Tensor | State | None = None) -> Tensor | State:
        """One time step, as torch.nn.LSTMCell / GRUCell / RNNCell take and return it.

        input: x_t, (B, D) or (D,) unbatched. hx: the previous state, h_{t-1} (B, P) or for LSTM
        the pair (h_{t-1}, c_{t-1}); zeros if None. Returns the new state in the form of hx:
        h_t, or (h_t, c_t) for LSTM. In training, the step is a sequence of its own: its masks
        are drawn for this call.
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
        noise = self.draw(1, x_t.shape[0], x_t)
        state = self.step(self.project_input(x_t, noise), state, noise.steps(1)[0])
        state = state if batched else tuple(part.squeeze(0) for part in state)
        return state if self.state_size > 1 else state[0]

    def extra_repr(self) -> str:
        options = f", {self.options}" if self.options.active(True) else ""
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias is not None}{options}"
