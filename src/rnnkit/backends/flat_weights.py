"""One flat weight buffer for the native backend, as torch.nn.RNNBase.flatten_parameters keeps it.

cuDNN takes a stack's weights as one contiguous buffer; handed separate tensors it copies them into
one on every call (and warns). torch.nn avoids the copy by making its parameters views into such a
buffer, and so does rnnkit: `flatten` copies the kernel's weights, in torch's order

    layer 0 forward [w_ih, w_hh, b_ih, b_hh(, w_hr)], layer 0 backward [...], layer 1 forward, ...

into one buffer and makes every one of them a view of its part. In-place changes (an optimiser's
step, load_state_dict, nn.init) then write into the buffer, so the kernel sees them; `.to()` makes
new tensors, and the network flattens again (layers/flat_parameters.py).

An LSTM's and an RNN's parameters are torch's weights as they are (layout/torch_weights.py);
torch's second bias b_hh, always zero in rnnkit (one bias per gate), is a zero part of the buffer
that nothing trains. A GRU's kernel weights are its parameters with the z rows negated, computed
on every call, so a GRU is never flattened (cuDNN copies them, as before).

The layout: cuDNN's own on CUDA (torch._cudnn_rnn_flatten_weight, what torch.nn calls); elsewhere
the plain concatenation in torch's order. Only cuDNN gains from it: `DEVICES` are the device types
on which networks flatten by themselves (the tests add "cpu" to run all of this without a GPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.cells import Cell

DEVICES = ("cuda",)
# torch.backends.cudnn.rnn's names of the kernels native.py runs
CUDNN_MODES = {"lstm": "LSTM", "rnn_tanh": "RNN_TANH", "rnn_relu": "RNN_RELU"}


@dataclass
class FlatWeights:
    """The buffer, the kernel's weights (every one a view into it) and which of them are the
    cells' parameters."""

    buffer: Tensor
    weights: list[Tensor]
    parameters: list[Tensor]

    def holds(self, cells: Sequence[Cell]) -> bool:
        """True while the cells' parameters are still the views this buffer made (not after
        `.to()` or load_state_dict(assign=True) replaced them)."""
        storage = self.buffer.untyped_storage().data_ptr()
        own = [p for cell in cells for p in _parameters(cell)]
        return len(own) == len(self.parameters) and all(
            a is b and a.untyped_storage().data_ptr() == storage
            for a, b in zip(own, self.parameters)
        )


def _parameters(cell: Cell) -> list[Tensor]:
    """The cell's parameters that torch's kernel takes as they are, in its order."""
    biases = [] if cell.bias is None else [cell.bias]
    return [cell.weight_ih, cell.weight_hh, *biases, *([cell.weight_hr] if cell.proj_size else [])]


def kernel_parameters(cells: Sequence[Cell]) -> list[Tensor]:
    """The weights torch's kernel takes, in its order, as tensors to flatten: each cell's own
    parameters, and after its bias a new zero b_hh."""
    weights = []
    for cell in cells:
        own = _parameters(cell)
        zero = [] if cell.bias is None else [torch.zeros_like(cell.bias, requires_grad=False)]
        weights += [*own[:3], *zero, *own[3:]]
    return weights


def can_flatten(cells: Sequence[Cell], kernel: str | None) -> bool:
    """Whether the cells' parameters can be the weights of torch's `kernel` (native.kernel_name):
    one the cells' own parameters feed as they are, all on one device in one dtype."""
    if kernel not in CUDNN_MODES:
        return False  # no kernel, or GRU's (its z rows are negated on every call)
    tensors = [p for cell in cells for p in _parameters(cell)]
    same = len({(t.device, t.dtype) for t in tensors}) == 1
    distinct = len({t.data_ptr() for t in tensors}) == len(tensors)  # none tied to another
    return same and distinct and tensors[0].device.type != "meta"


def flatten(
    cells: Sequence[Cell], kernel: str, num_layers: int, bidirectional: bool
) -> FlatWeights:
    """Copy the kernel's weights into one buffer and make each a view of its part (see the module
    docstring); `kernel` is native.py's name for torch's kernel ("lstm", "rnn_tanh", ...)."""
    weights = kernel_parameters(cells)
    with torch.no_grad():
        if _cudnn_lays_out(weights[0]):
            buffer = _cudnn_flatten(weights, cells[0], kernel, num_layers, bidirectional)
        else:
            buffer = concatenate(weights)
    return FlatWeights(buffer, weights, [p for cell in cells for p in _parameters(cell)])


def concatenate(weights: list[Tensor]) -> Tensor:
    """One buffer with the weights one after another; each weight becomes a view into it."""
    buffer = weights[0].new_empty(sum(w.numel() for w in weights))
    offset = 0
    for w in weights:
        buffer[offset : offset + w.numel()].copy_(w.reshape(-1))
        w.set_(buffer.untyped_storage(), offset, w.shape)
        offset += w.numel()
    return buffer


def _cudnn_lays_out(weight: Tensor) -> bool:
    return (
        weight.is_cuda
        and torch.backends.cudnn.is_acceptable(weight)
        and torch._use_cudnn_rnn_flatten_weight()
    )


def _cudnn_flatten(
    weights: list[Tensor], cell: Cell, kernel: str, num_layers: int, bidirectional: bool
) -> Tensor:
    """cuDNN's layout, by cuDNN (untested here: no GPU; torch.nn's flatten_parameters makes
    the same call)."""
    from torch.backends.cudnn import rnn

    with torch.cuda.device_of(weights[0]):
        return torch._cudnn_rnn_flatten_weight(
            weights,
            len(weights) // (num_layers * (2 if bidirectional else 1)),
            cell.input_size,
            rnn.get_cudnn_mode(CUDNN_MODES[kernel]),
            cell.hidden_size,
            cell.proj_size,
            num_layers,
            False,  # batch_first: native.py runs time-major
            bidirectional,
        )
