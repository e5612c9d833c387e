"""The fused backend: hand-written backpropagation through time, one cell type per Function.

Each Function computes a whole direction of a layer, exactly the cell's function, with:
- the input part W x_t + b of every step in one GEMM before the loop;
- per step only the products with U (oneDNN's on CPU float32, see backends/onednn.py) and a few
  element-wise kernels, forward and backward;
- the weight gradients as one GEMM each after the loop (fused/common.py);
- only what backward needs saved (the gates and the states).

    gru.py         GRU(reset="before"), the lecture's, which no torch or cuDNN kernel computes
    gru_after.py   GRU(reset="after"), cuDNN's placement
    rnn.py         the vanilla RNN (tanh or relu)

`scan` has the signature of `loop.scan`, so layers run it per direction; under autocast the whole
scan runs in the autocast dtype, as autocast runs torch's own RNN kernels.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.backends.fused.gru import GRUBeforeFunction
from rnnkit.backends.fused.gru_after import GRUAfterFunction
from rnnkit.backends.fused.rnn import RNNFunction
from rnnkit.cells import GRUCell, RNNCell
from rnnkit.cells.base import Cell, State
from rnnkit.layout.lengths import step_mask


def supports(cell: Cell) -> bool:
    """True for the cells a fused Function computes exactly (the classes themselves: a subclass
    may change the step; RNNFunction knows tanh and relu, not the identity)."""
    if type(cell) is RNNCell:
        return cell.nonlinearity in ("tanh", "relu")
    return type(cell) is GRUCell


def scan(
    cell: Cell, x: Tensor, state: State, lengths: Tensor | None = None
) -> tuple[Tensor, State]:
    """Run `cell` over x (T, B, D) from state (h_0,): as `loop.scan`, faster."""
    if not supports(cell):
        raise ValueError(f"the fused backend runs GRUCell and RNNCell, not {cell!r}")
    mask = step_mask(lengths.to(x.device), x.shape[0]) if lengths is not None else None
    (h0,) = state
    tensors = (x, h0, cell.weight_ih, cell.weight_hh, cell.bias, mask, *_extra_parameters(cell))
    device = x.device.type
    if not torch.is_autocast_enabled(device):
        return _apply(cell, _cast(tensors, x.dtype))
    with torch.autocast(device, enabled=False):
        return _apply(cell, _cast(tensors, torch.get_autocast_dtype(device)))


def _extra_parameters(cell: Cell) -> tuple[Tensor | None, ...]:
    if isinstance(cell, GRUCell) and cell.reset == "after":
        return (cell.b_hn if cell.has_b_hn else None,)
    return ()


def _cast(tensors: tuple[Tensor | None, ...], dtype: torch.dtype) -> list[Tensor | None]:
    return [None if t is None else t.to(dtype) for t in tensors]


def _apply(cell: Cell, tensors: list[Tensor | None]) -> tuple[Tensor, State]:
    if isinstance(cell, RNNCell):
        outputs, h_T = RNNFunction.apply(*tensors, cell.nonlinearity == "relu")
    elif cell.reset == "before":
        outputs, h_T = GRUBeforeFunction.apply(*tensors)
    else:
        outputs, h_T = GRUAfterFunction.apply(*tensors)
    return outputs, (h_T,)
