"""Deep-stacked (optionally bidirectional) recurrent networks with torch.nn's interface.

Layer i reads the outputs of layer i-1 (the lecture's deep-stacked RNN):

    h->^i_t = f(W->^i x^i_t + U->^i h->^i_{t-1}),    x^1_t = x_t,   x^i_t = y^{i-1}_t
    h<-^i_t = f(W<-^i x^i_t + U<-^i h<-^i_{t+1})

with dropout on x^i_t for i > 1 while training. `LSTM`, `GRU` and `RNN` take torch.nn's
constructor arguments and return what torch.nn returns, so they drop into existing code.
Shapes: T steps, B batch, D input, H hidden, L layers; dirs = 2 if bidirectional else 1.
"""

from __future__ import annotations

import inspect
from dataclasses import fields
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.backends import StackSettings, native
from rnnkit.backends.fused import cpp as fused_cpp
from rnnkit.cells import Cell, GRUCell, LSTMCell, RNNCell, State
from rnnkit.cells.base import INITS
from rnnkit.cells.options import Options
from rnnkit.errors import RnnkitError
from rnnkit.layers import backend_choice
from rnnkit.layers.bidirectional import Bidirectional, check_merge
from rnnkit.layers.dropout import dropout
from rnnkit.layers.flat_parameters import FlatParameters
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.torch_state import TORCH_ARGUMENTS, TorchLayout
from rnnkit.layout.lengths import check_lengths


class RecurrentNetwork(TorchLayout, FlatParameters):
    """A stack of `num_layers` recurrent layers of one cell type. Subclasses set `cell_class`.

    TorchLayout gives it torch.nn's names: `weight_ih_l0`, ... as its real parameters (where the
    layouts agree), and torch.nn state dicts load as they are (layers/torch_state.py);
    FlatParameters its flatten_parameters, for cuDNN (layers/flat_parameters.py).
    """

    cell_class: ClassVar[type[Cell]]
    torch_class: ClassVar[type[nn.Module]]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        merge: str = "concat",
        backend: str | None = None,
        init: str = "torch",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **cell_options,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be between 0 and 1, got {dropout}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.merge = check_merge(merge)
        self.cell_options = cell_options
        self.layers = nn.ModuleList()
        layer_input = input_size
        for _ in range(num_layers):
            layer = self._make_layer(layer_input, {"device": device, "dtype": dtype})
            self.layers.append(layer)
            layer_input = layer.output_size
        self.reset_parameters(init)
        self.backend = backend
        self.flatten_parameters()

    def _make_layer(self, input_size: int, factory: dict) -> nn.Module:
        """One layer's cells, their parameters made on factory's device in its dtype."""

        def direction(reverse: bool) -> Recurrent:
            cell = self.cell_class(
                input_size, self.hidden_size, self.bias, **factory, **self.cell_options
            )
            return Recurrent(cell, reverse)

        if not self.bidirectional:
            return direction(False)
        return Bidirectional(direction(False), direction(True), self.merge)

    # ----- structure ---------------------------------------------------------------------------
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def cells(self) -> list[Cell]:
        """All cells in torch's order: layer 0 forward, layer 0 backward, layer 1 forward, ..."""
        found = []
        for layer in self.layers:
            if isinstance(layer, Bidirectional):
                found += [layer.forward_layer.cell, layer.backward_layer.cell]
            else:
                found.append(layer.cell)
        return found

    @property
    def cell_name(self) -> str:
        """The cell as the command line spells it: rnn, rnn-relu, lstm, gru or gru-after."""
        cell = self.cells[0]
        if isinstance(cell, GRUCell):
            return "gru" if cell.reset == "before" else "gru-after"
        if isinstance(cell, RNNCell):
            return "rnn" if cell.nonlinearity == "tanh" else "rnn-relu"
        return "lstm"

    @property
    def output_size(self) -> int:
        """Features of each output step: H, or 2H for concatenated directions."""
        return self.layers[-1].output_size

    def cell(self, layer: int = 0, direction: int = 0) -> Cell:
        if not 0 <= layer < self.num_layers:
            raise IndexError(f"layer must be in 0..{self.num_layers - 1}, got {layer}")
        if not 0 <= direction < self.num_directions:
            raise IndexError(f"direction must be in 0..{self.num_directions - 1}, got {direction}")
        return self.cells[layer * self.num_directions + direction]

    def params(self, layer: int = 0, direction: int = 0) -> dict[str, Tensor]:
        """The lecture's named tensors of one layer and direction, as views on the parameters."""
        return self.cell(layer, direction).params()

    def reset_parameters(self, init: str = "torch") -> None:
        """init="torch" (torch.nn's default) or "rnn" (orthogonal U, forget-gate bias 1)."""
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        for cell in self.cells:
            cell.reset_parameters(init)

    # ----- backend -----------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """Which implementation runs now: "native", "fused" or "loop".

        Unless one was forced with `backend=`, it is the fastest for the current mode: a network
        being trained may run on another backend than the same network in eval mode (see
        `automatic_backend`). Every backend computes the same function.
        """
        if self._requested is not None:
            return self._requested
        return self.automatic_backend(training=self.training and torch.is_grad_enabled())

    @backend.setter
    def backend(self, requested: str | None) -> None:
        available = self.available_backends()
        if requested is not None and requested not in available:
            raise ValueError(
                f"backend {requested!r} cannot run this network; available: {available}"
            )
        self._requested = requested

    def available_backends(self) -> list[str]:
        """The backends that compute exactly this network's function, fastest first."""
        return backend_choice.available(self.cells, self.stack_settings())

    def automatic_backend(self, training: bool) -> str:
        """The backend this network picks by itself to train (True) or to infer (False)."""
        return backend_choice.automatic(self.cells, self.stack_settings(), training)

    def stack_settings(self) -> StackSettings:
        """What a whole-stack backend needs to know besides the cells, in the current mode."""
        return StackSettings(
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            merge=self.merge,
            bias=self.bias,
            dropout=self.dropout,
            training=self.training,
        )

    # ----- forward -----------------------------------------------------------------------------
    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | tuple[Tensor, Tensor] | None = None,
        lengths: Tensor | None = None,
    ):
        """Run the stack, as torch.nn.LSTM / GRU / RNN do.

        input: (T, B, D), or (B, T, D) with batch_first, or (T, D) unbatched, or a PackedSequence.
        hx: initial state, (L*dirs, B, H) (for LSTM a pair (h_0, c_0)); zeros if None.
        lengths: (B,) true lengths of a padded batch; padding never reaches the states and its
            outputs are zero.
        Returns (output, h_n), or (output, (h_n, c_n)) for LSTM, in the layout of the input.
        """
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise RnnkitError("give lengths= or a PackedSequence, not both")
            return self._forward_packed(input, hx)
        if input.dim() not in (2, 3):
            raise RnnkitError(
                f"input must be 3-D (steps, batch, {self.input_size}) "
                f"({'batch, steps' if self.batch_first else 'steps, batch'} order here) "
                f"or 2-D unbatched, got shape {tuple(input.shape)}"
            )
        unbatched = input.dim() == 2
        x = (
            input.unsqueeze(1)
            if unbatched
            else (input.transpose(0, 1) if self.batch_first else input)
        )
        self._check_features(x)
        if unbatched and hx is not None:
            hx = tuple(h.unsqueeze(1) for h in hx) if isinstance(hx, tuple) else hx.unsqueeze(1)
        if lengths is not None:
            lengths = check_lengths(lengths, x.shape[1], x.shape[0])
        output, states = self._run(x, self._initial_states(hx, x), lengths, self.backend)
        if unbatched:
            output, states = output.squeeze(1), tuple(s.squeeze(1) for s in states)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, self._pack_states(states)

    def _forward_packed(self, packed: PackedSequence, hx):
        self._check_features(packed.data.unsqueeze(0))
        batch = int(packed.batch_sizes[0])
        hx = self._initial_states(hx, packed.data.new_empty(0, batch, self.input_size))
        backend = self.backend
        if backend == "native":
            weights = self._native_weights(packed.data)
            output, states = native.run_packed(
                self.cells, self.stack_settings(), packed, hx, weights
            )
            return output, self._pack_states(states)
        x, lengths = pad_packed_sequence(packed)  # (T, B, D) in batch order
        output, states = self._run(x, hx, lengths.to(x.device), backend)
        if packed.sorted_indices is not None:
            output, lengths = output[:, packed.sorted_indices], lengths[packed.sorted_indices.cpu()]
        data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
        out = PackedSequence(
            data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        )
        return out, self._pack_states(states)

    def _run(
        self, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None, backend: str
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """x (T, B, D) time-major; hx and the result states in torch's (L*dirs, B, H) layout."""
        if backend == "native":
            weights = self._native_weights(x)
            return native.run(self.cells, self.stack_settings(), x, hx, lengths, weights)
        scan = backend_choice.SCANS[backend]
        dirs = self.num_directions
        finals: list[State] = []
        for k, layer in enumerate(self.layers):
            if k > 0 and self.dropout > 0 and self.training:
                x = self._dropout_between_layers(x, lengths)
            initial = [tuple(h[k * dirs + d] for h in hx) for d in range(dirs)]
            if isinstance(layer, Bidirectional):
                x, layer_finals = layer(x, tuple(initial), lengths, scan)
                finals += layer_finals
            else:
                x, final = layer(x, initial[0], lengths, scan)
                finals.append(final)
        states = tuple(torch.stack(parts) for parts in zip(*finals))
        return x, states

    def _dropout_between_layers(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        """Dropout on what passes from one layer to the next (x (T, B, D), training).

        Where torch's kernel could compute this network, torch's own dropout, drawn as the
        kernel draws it on a CPU: over every step, or with lengths over the packed steps alone
        (the kernel runs packed sequences); so on every backend a seed gives what torch.nn
        gives (cuDNN draws its own). Elsewhere rnnkit's faster mask (layers/dropout.py)."""
        if not native.supports(self.cells, self.stack_settings()):
            return dropout(x, self.dropout)
        if lengths is None:
            return nn.functional.dropout(x, self.dropout)
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        dropped = packed._replace(data=nn.functional.dropout(packed.data, self.dropout))
        return pad_packed_sequence(dropped, total_length=x.shape[0])[0]

    def _native_weights(self, x: Tensor) -> list[Tensor] | None:
        """The native kernel's weights: with weight dropout in training, this call's masked U
        (drawn here); else the flat buffer's views on CUDA, or None (the cells' own)."""
        if self.training and any(cell.options.weight_dropout for cell in self.cells):
            return native.masked_weights(self.cells, x)
        return self.kernel_weights()

    # ----- states ------------------------------------------------------------------------------
    def _check_features(self, x: Tensor) -> None:
        if x.shape[-1] != self.input_size:
            raise RnnkitError(
                f"input has {x.shape[-1]} features per step but this layer was built with "
                f"input_size={self.input_size}"
            )

    def _initial_states(self, hx, x: Tensor) -> tuple[Tensor, ...]:
        """hx as a tuple of (L*dirs, B, P) tensors (zeros if None), checked against x (T, B, D);
        an LSTM's c_0 is (L*dirs, B, H)."""
        cell = self.cells[0]
        expected = [
            (self.num_layers * self.num_directions, x.shape[1], n) for n in cell.state_features
        ]
        if hx is None:
            return tuple(x.new_zeros(shape) for shape in expected)
        parts = tuple(hx) if isinstance(hx, (tuple, list)) else (hx,)
        if len(parts) != cell.state_size:
            what = "a pair (h_0, c_0)" if cell.state_size == 2 else "one tensor h_0"
            raise RnnkitError(f"hx must be {what} for {type(self).__name__}, got {len(parts)}")
        for part, shape, name in zip(parts, expected, cell.state_names):
            if tuple(part.shape) != shape:
                raise RnnkitError(
                    f"initial state {name}_0 must have shape {shape} "
                    f"(num_layers*num_directions, batch, features), got {tuple(part.shape)}"
                )
        return parts

    def _pack_states(self, states: tuple[Tensor, ...]):
        return states if len(states) == 2 else states[0]

    # ----- torch.nn interoperability -----------------------------------------------------------
    def _torch_arguments(self) -> dict:
        return {name: getattr(self, name) for name in TORCH_ARGUMENTS}

    @classmethod
    def from_torch(cls, module: nn.Module, **options) -> RecurrentNetwork:
        """An exact copy of a torch.nn.LSTM / GRU / RNN (weights, biases, settings)."""
        if not isinstance(module, cls.torch_class):
            raise TypeError(f"{cls.__name__}.from_torch needs a {cls.torch_class.__name__}")
        arguments = {name: getattr(module, name) for name in TORCH_ARGUMENTS}
        network = cls(**arguments, **cls._options_from_torch(module), **options)
        weight = module.weight_ih_l0
        network.to(dtype=weight.dtype, device=weight.device)
        network.load_state_dict(module.state_dict())
        return network

    @classmethod
    def _options_from_torch(cls, module: nn.Module) -> dict:
        return {}

    def to_torch(self) -> nn.Module:
        """An exact torch.nn copy of this network (for torch.nn.GRU, reset must be "after")."""
        module = self.torch_class(**self._torch_arguments(), **self._torch_options())
        weight = self.cells[0].weight_ih
        module.to(dtype=weight.dtype, device=weight.device)
        module.load_state_dict(self.torch_state_dict())
        return module

    def _torch_options(self) -> dict:
        return {}

    def extra_repr(self) -> str:
        """As torch.nn's: the sizes, what differs from the defaults, then rnnkit's own."""
        parts = [str(self.input_size), str(self.hidden_size)]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if not self.bias:
            parts.append("bias=False")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout:g}")
        if self.bidirectional:
            parts.append(f"bidirectional=True, merge={self.merge!r}")
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(self.cell_class).parameters.items()
        } | {f.name: f.default for f in fields(Options)}
        parts += [
            f"{name}={value!r}"
            for name, value in self.cell_options.items()
            if value != defaults.get(name, object())
        ]
        return ", ".join([*parts, f"backend={self.backend!r}"])


class LSTM(RecurrentNetwork):
    """LSTM layers: the lecture's LSTM cell (rnnkit.LSTMCell) over time, stacked.

    At each step t, in each layer and direction (c_0 = h_0 = 0; * element by element):

        f_t = σ(W_f x_t + U_f h_{t-1} + b_f)                 forget gate
        i_t = σ(W_i x_t + U_i h_{t-1} + b_i)                 input gate
        o_t = σ(W_o x_t + U_o h_{t-1} + b_o)                 output gate
        c_t = f_t * c_{t-1} + i_t * tanh(W_c x_t + U_c h_{t-1} + b_c)
        h_t = o_t * tanh(c_t)

    Arguments as torch.nn's: input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0 (between layers), bidirectional=False, proj_size=0 (k > 0:
    h_t = W_hr (o_t * tanh(c_t)), k features); and rnnkit's: merge= ("concat" [h→_t, h←_t],
    "sum", "mean", ...: how the two directions' outputs meet), backend= (None: the fastest exact
    one, docs/PERFORMANCE.md), init= ("torch", or "rnn": orthogonal U, zero biases, forget-gate
    bias 1), and the cell's options (layer_norm, recurrent_dropout, input_dropout,
    output_dropout, weight_dropout, zoneout, zoneout_c: docs/LAYERS.md).
    Call: network(input, hx=None, lengths=None) -> (output, (h_n, c_n)), as torch.nn's.
    """

    cell_class = LSTMCell
    torch_class = nn.LSTM

    @property
    def proj_size(self) -> int:
        return self.cell_options.get("proj_size", 0)

    @classmethod
    def _options_from_torch(cls, module: nn.Module) -> dict:
        return {"proj_size": module.proj_size} if module.proj_size else {}

    def _torch_options(self) -> dict:
        return {"proj_size": self.proj_size}


class GRU(RecurrentNetwork):
    """GRU layers: the lecture's GRU cell (rnnkit.GRUCell, Cho et al. 2014) over time, stacked.

    At each step t, in each layer and direction (h_0 = 0; * element by element):

        z_t = σ(W_z x_t + U_z h_{t-1} + b_z)                 update gate
        r_t = σ(W_r x_t + U_r h_{t-1} + b_r)                 reset gate
        h~_t = tanh(W_h x_t + U_h (r_t * h_{t-1}) + b_h)     new update information
        h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

    reset="before" (the default) is that, the lecture's; reset="after" is cuDNN's and
    torch.nn.GRU's placement, h~_t = tanh(W_h x_t + b_h + r_t * (U_h h_{t-1} + b_hn)).

    Arguments as torch.nn's: input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0 (between layers), bidirectional=False; and rnnkit's:
    merge= ("concat" [h→_t, h←_t], "sum", "mean", ...: how the two directions' outputs meet),
    backend= (None: the fastest exact one, docs/PERFORMANCE.md), init= ("torch", or "rnn":
    orthogonal U, zero biases), and the cell's options (layer_norm, recurrent_dropout,
    input_dropout, output_dropout, weight_dropout, zoneout: docs/LAYERS.md).
    Call: network(input, hx=None, lengths=None) -> (output, h_n), as torch.nn's.
    """

    cell_class = GRUCell
    torch_class = nn.GRU

    def __init__(
        self, input_size: int, hidden_size: int, *args, reset: str = "before", **kwargs
    ) -> None:
        super().__init__(input_size, hidden_size, *args, reset=reset, **kwargs)

    @classmethod
    def _options_from_torch(cls, module: nn.Module) -> dict:
        return {"reset": "after"}

    @property
    def reset(self) -> str:
        """ "before" (the lecture's GRU) or "after" (torch.nn.GRU's)."""
        return self.cell_options["reset"]


class RNN(RecurrentNetwork):
    """Vanilla RNN layers: the lecture's RNN cell (rnnkit.RNNCell) over time, stacked.

    At each step t, in each layer and direction (h_0 = 0):

        h_t = f(W x_t + U h_{t-1} + b)

    f = nonlinearity: "tanh" (the lecture, the default), "relu" (torch.nn.RNN's other), or
    "identity" (no activation, as the lecture's exercise 4 asks). The output layer
    y_t = softmax(V h_t + b_y) belongs to the model on top (rnnkit.models).

    Arguments as torch.nn's: input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0 (between layers), bidirectional=False; and rnnkit's:
    merge= ("concat" [h→_t, h←_t], "sum", "mean", ...: how the two directions' outputs meet),
    backend= (None: the fastest exact one, docs/PERFORMANCE.md), init= ("torch", or "rnn":
    orthogonal U, zero biases), and the cell's options (layer_norm, recurrent_dropout,
    input_dropout, output_dropout, weight_dropout, zoneout: docs/LAYERS.md).
    Call: network(input, hx=None, lengths=None) -> (output, h_n), as torch.nn's.
    """

    cell_class = RNNCell
    torch_class = nn.RNN

    def __init__(
        self, input_size: int, hidden_size: int, *args, nonlinearity: str = "tanh", **kwargs
    ) -> None:
        super().__init__(input_size, hidden_size, *args, nonlinearity=nonlinearity, **kwargs)

    @classmethod
    def _options_from_torch(cls, module: nn.Module) -> dict:
        return {"nonlinearity": module.nonlinearity}

    def _torch_options(self) -> dict:
        return {"nonlinearity": self.nonlinearity}

    @property
    def nonlinearity(self) -> str:
        """ "tanh" or "relu" (or "identity"), as torch.nn.RNN's attribute of that name."""
        return self.cell_options["nonlinearity"]


def build_fused_kernels(model: nn.Module) -> None:
    """Build (or load) the fused kernels' C++ loops now if `model` trains on them (the fused
    backend, on CPU, in float32 or float64), so that a first build, 20-40 s, is not taken out
    of a training run's time budget."""
    for module in model.modules():
        fused = isinstance(module, RecurrentNetwork) and module.backend == "fused"
        if fused and fused_cpp.runs(module.cells[0].weight_hh):  # runs() builds it
            return
