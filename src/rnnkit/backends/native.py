"""The native backend: torch's own fused RNN kernels (oneDNN on CPU, cuDNN on GPU).

The whole stack (all layers, both directions) runs in one call of the same kernel torch.nn uses,
on the cells' own parameters (see layout/torch_weights.py): nothing is copied for LSTM and RNN;
GRU's z block is negated on the way in, because torch's z is 1 - the lecture's.
Available for LSTM (with its projection too), GRU(reset="after") and tanh/relu RNN with
concatenated directions; for cells with other options only where, in the network's mode, they
change nothing (dropout in evaluation).
`cells` are in torch's order: layer 0 forward, layer 0 backward, layer 1 forward, ...
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.backends import StackSettings
from rnnkit.cells import Cell, GRUCell, LSTMCell, RNNCell
from rnnkit.layout.torch_weights import torch_weights


def supports(cells: Sequence[Cell], stack: StackSettings) -> bool:
    """True when torch has a kernel for exactly this stack's function."""
    kernels = {_kernel_name(cell) for cell in cells}
    # layer norm, zoneout, or dropout while training: torch's kernels have none of them
    plain = all(set(cell.options.active(stack.training)) <= {"proj_size"} for cell in cells)
    return plain and stack.merge == "concat" and len(kernels) == 1 and None not in kernels


def _kernel_name(cell: Cell) -> str | None:
    """The torch._VF kernel that computes exactly this cell's function, or None. Only the cell
    classes themselves: a subclass may change the step."""
    if type(cell) is LSTMCell:
        return "lstm"
    if type(cell) is GRUCell and cell.reset == "after":
        return "gru"
    if type(cell) is RNNCell and cell.nonlinearity in ("tanh", "relu"):
        return f"rnn_{cell.nonlinearity}"
    return None


def _kernel(cells: Sequence[Cell]):
    kernel = getattr(torch._VF, _kernel_name(cells[0]))
    if not cells[0].proj_size:
        return kernel
    return partial(_quietly, kernel)


def _quietly(kernel, *arguments):
    """torch warns that oneDNN has no projection and it uses its own loop; that is the kernel
    rnnkit chose (docs/PERFORMANCE.md), so the warning would only puzzle a user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN")
        return kernel(*arguments)


def _flat_weights(cells: Sequence[Cell]) -> list[Tensor]:
    return [w for cell in cells for w in torch_weights(cell)]


def _settings(stack: StackSettings) -> tuple:
    """The kernel's positional arguments after the weights, in torch's order."""
    return (stack.bias, stack.num_layers, float(stack.dropout), stack.training, stack.bidirectional)


def run_packed(
    cells: Sequence[Cell], stack: StackSettings, packed: PackedSequence, hx: tuple[Tensor, ...]
) -> tuple[PackedSequence, tuple[Tensor, ...]]:
    """Run on a PackedSequence; hx and the returned states are (L*dirs, B, H) in batch order."""
    if packed.sorted_indices is not None:
        hx = tuple(h.index_select(1, packed.sorted_indices) for h in hx)
    hidden = hx if len(hx) == 2 else hx[0]
    result = _kernel(cells)(
        packed.data, packed.batch_sizes, hidden, _flat_weights(cells), *_settings(stack)
    )
    output, states = result[0], tuple(result[1:])
    if packed.unsorted_indices is not None:
        states = tuple(s.index_select(1, packed.unsorted_indices) for s in states)
    out = PackedSequence(output, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    return out, states


def run(
    cells: Sequence[Cell],
    stack: StackSettings,
    x: Tensor,
    hx: tuple[Tensor, ...],
    lengths: Tensor | None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run on a time-major padded x (T, B, D); outputs (T, B, dirs*H), zero past each length."""
    if lengths is not None:
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        out, states = run_packed(cells, stack, packed, hx)
        output, _ = pad_packed_sequence(out, total_length=x.shape[0])
        return output, states
    hidden = hx if len(hx) == 2 else hx[0]
    result = _kernel(cells)(x, hidden, _flat_weights(cells), *_settings(stack), False)
    return result[0], tuple(result[1:])
