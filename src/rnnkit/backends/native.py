"""The native backend: torch's own fused RNN kernels (oneDNN on CPU, cuDNN on GPU).

The whole stack (all layers, both directions) runs in one call of the same kernel torch.nn uses,
on the cells' own parameters (see layout/torch_weights.py): nothing is copied for LSTM and RNN
(on CUDA they are views into one flat buffer, as cuDNN wants: flat_weights.py); GRU's z block is
negated on the way in, because torch's z is 1 - the lecture's.
Available for LSTM (with its projection too), GRU(reset="after") and tanh/relu RNN with
concatenated directions; with weight dropout (the kernel runs on the masked U); for cells with
other options only where, in the network's mode, they change nothing (dropout in evaluation).
`cells` are in torch's order: layer 0 forward, layer 0 backward, layer 1 forward, ...

Under torch.compile this backend runs eagerly, a graph break, as torch.nn's RNN modules do:
torch's compiler cannot trace its own LSTM kernel on CPU (aten.mkldnn_rnn_layer fails in
tracing, for torch.nn.LSTM with allow_rnn too), and its autograd lives inside torch (the kernel's
workspace), so a custom operator around it would have to run the forward again in backward.
Eagerly it runs torch's kernel, forward and backward. torch.export, which decomposes the kernels
itself, is unaffected.
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
    kernels = {kernel_name(cell) for cell in cells}
    # layer norm, zoneout, or dropout on units while training: torch's kernels have none of them
    takes = {"proj_size", "weight_dropout"} if _weights_masked_in_order(stack) else {"proj_size"}
    plain = all(set(cell.options.active(stack.training)) <= takes for cell in cells)
    return plain and stack.merge == "concat" and len(kernels) == 1 and None not in kernels


def _weights_masked_in_order(stack: StackSettings) -> bool:
    """Weight dropout is a mask on U drawn once per call, so the kernel runs on M * U
    (`masked_weights`, as Merity et al.'s AWD-LSTM runs cuDNN's). The masks are drawn before the
    kernel; the other backends draw each layer's between the layers' dropout, so with dropout
    between layers the random numbers would come in another order and the backends disagree."""
    return stack.num_layers == 1 or not stack.dropout


def masked_weights(cells: Sequence[Cell], like: Tensor) -> list[Tensor]:
    """The kernel's weights for one training call with weight dropout: each cell's U replaced by
    M * U, drawn in torch's cell order (the order the other backends draw them). M is the only
    mask drawn: this backend takes no option with masks on units."""
    return [w for cell in cells for w in torch_weights(cell, cell.draw(1, 1, like).U)]


def kernel_name(cell: Cell) -> str | None:
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
    kernel = getattr(torch._VF, kernel_name(cells[0]))
    if not cells[0].proj_size:
        return kernel
    return partial(_quietly, kernel)


def _quietly(kernel, *arguments):
    """torch warns that oneDNN has no projection and it uses its own loop; rnnkit runs that loop
    where it is the faster (inference, and on GPU cuDNN's) or where asked to (docs/PERFORMANCE.md),
    so the warning would only puzzle a user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN")
        return kernel(*arguments)


def kernel_weights(cells: Sequence[Cell]) -> list[Tensor]:
    """The kernel's weights made for one call (a network whose parameters are views into one
    buffer passes that buffer's views instead: backends/flat_weights.py)."""
    return [w for cell in cells for w in torch_weights(cell)]


def _settings(stack: StackSettings) -> tuple:
    """The kernel's positional arguments after the weights, in torch's order."""
    return (stack.bias, stack.num_layers, float(stack.dropout), stack.training, stack.bidirectional)


@torch.compiler.disable
def run_packed(
    cells: Sequence[Cell],
    stack: StackSettings,
    packed: PackedSequence,
    hx: tuple[Tensor, ...],
    weights: list[Tensor] | None = None,
) -> tuple[PackedSequence, tuple[Tensor, ...]]:
    """Run on a PackedSequence; hx and the returned states are (L*dirs, B, H) in batch order.
    weights: the kernel's, in its order (kernel_weights(cells) when None)."""
    if packed.sorted_indices is not None:
        hx = tuple(h.index_select(1, packed.sorted_indices) for h in hx)
    hidden = hx if len(hx) == 2 else hx[0]
    result = _kernel(cells)(
        packed.data, packed.batch_sizes, hidden, weights or kernel_weights(cells), *_settings(stack)
    )
    output, states = result[0], tuple(result[1:])
    if packed.unsorted_indices is not None:
        states = tuple(s.index_select(1, packed.unsorted_indices) for s in states)
    out = PackedSequence(output, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    return out, states


@torch.compiler.disable
def run(
    cells: Sequence[Cell],
    stack: StackSettings,
    x: Tensor,
    hx: tuple[Tensor, ...],
    lengths: Tensor | None,
    weights: list[Tensor] | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run on a time-major padded x (T, B, D); outputs (T, B, dirs*H), zero past each length."""
    if lengths is not None:
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        out, states = run_packed(cells, stack, packed, hx, weights)
        output, _ = pad_packed_sequence(out, total_length=x.shape[0])
        return output, states
    hidden = hx if len(hx) == 2 else hx[0]
    weights = weights or kernel_weights(cells)
    result = _kernel(cells)(x, hidden, weights, *_settings(stack), False)
    return result[0], tuple(result[1:])
