"""The native backend: torch's own fused RNN kernels (oneDNN on CPU, cuDNN on GPU).

The whole stack (all layers, both directions) runs in one call of the same kernel torch.nn uses,
on the cells' own parameters (see layers/torch_layout.py): nothing is copied for LSTM and RNN;
GRU's z block is negated on the way in, because torch's z is 1 - the lecture's.
Available for LSTM, GRU(reset="after") and tanh/relu RNN with concatenated directions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.layers.torch_layout import torch_weights

if TYPE_CHECKING:
    from rnnkit.layers.network import RecurrentNetwork


def supports(network: RecurrentNetwork) -> bool:
    """True when torch has a kernel for exactly this network's function."""
    cell = network.cells[0]
    if network.merge != "concat":
        return False
    if isinstance(cell, GRUCell):
        return cell.reset == "after"
    if isinstance(cell, RNNCell):
        return cell.nonlinearity in ("tanh", "relu")
    return isinstance(cell, LSTMCell)


def _kernel(network: RecurrentNetwork):
    cell = network.cells[0]
    if isinstance(cell, LSTMCell):
        return torch._VF.lstm
    if isinstance(cell, GRUCell):
        return torch._VF.gru
    return torch._VF.rnn_tanh if cell.nonlinearity == "tanh" else torch._VF.rnn_relu


def _flat_weights(network: RecurrentNetwork) -> list[Tensor]:
    return [w for cell in network.cells for w in torch_weights(cell)]


def _settings(network: RecurrentNetwork) -> tuple:
    return (
        network.bias,
        network.num_layers,
        float(network.dropout),
        network.training,
        network.bidirectional,
    )


def run_packed(
    network: RecurrentNetwork, packed: PackedSequence, hx: tuple[Tensor, ...]
) -> tuple[PackedSequence, tuple[Tensor, ...]]:
    """Run on a PackedSequence; hx and the returned states are (L*dirs, B, H) in batch order."""
    if packed.sorted_indices is not None:
        hx = tuple(h.index_select(1, packed.sorted_indices) for h in hx)
    hidden = hx if len(hx) == 2 else hx[0]
    result = _kernel(network)(
        packed.data, packed.batch_sizes, hidden, _flat_weights(network), *_settings(network)
    )
    output, states = result[0], tuple(result[1:])
    if packed.unsorted_indices is not None:
        states = tuple(s.index_select(1, packed.unsorted_indices) for s in states)
    out = PackedSequence(output, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    return out, states


def run(
    network: RecurrentNetwork, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run on a time-major padded x (T, B, D); outputs (T, B, dirs*H), zero past each length."""
    if lengths is not None:
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        out, states = run_packed(network, packed, hx)
        output, _ = pad_packed_sequence(out, total_length=x.shape[0])
        return output, states
    hidden = hx if len(hx) == 2 else hx[0]
    result = _kernel(network)(x, hidden, _flat_weights(network), *_settings(network), False)
    return result[0], tuple(result[1:])
