"""The fused backend: hand-written backpropagation through time, one cell type per torch
custom operator (fused/operator.py).

Each op computes the recurrence of a whole direction of a layer, exactly the cell's
function with its options, from the input part of every step, A = W x_t + b (the cell's own
`project_input`, one GEMM for all steps, differentiated by autograd), with:
- per step only the products with U (oneDNN's on CPU float32, see backends/onednn.py) and a few
  element-wise kernels, forward and backward;
- dU as one GEMM after the loop (fused/common.py);
- only what backward needs saved (the gates and the states).

    lstm.py        the LSTM, with layer norm, recurrent dropout, zoneout and projection
    gru.py         GRU(reset="before"), the lecture's, which no torch or cuDNN kernel computes
    gru_after.py   GRU(reset="after"), cuDNN's placement
    rnn.py         the vanilla RNN (tanh or relu)

Options outside the recurrence need nothing of the ops: input dropout is in A, DropConnect
hands them the dropped U, output dropout multiplies their outputs. The input's layer norm is in
A too, but for the LSTM op, which takes W x_t and normalises each row in its loop (γ^x) and
adds the bias b there.
`scan` has the signature of `loop.scan`, so layers run it per direction; under autocast the whole
scan runs in the autocast dtype, as autocast runs torch's own RNN kernels.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.backends import onednn
from rnnkit.backends.fused import gru, gru_after, lstm, rnn
from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.cells.base import Cell, State
from rnnkit.cells.options import Noise
from rnnkit.layout.lengths import step_mask


def supports(cell: Cell) -> bool:
    """True for the cells a fused op computes exactly, with any of their options (the
    classes themselves: a subclass may change the step; the RNN op knows tanh and relu, not the
    identity)."""
    if type(cell) is RNNCell:
        return cell.nonlinearity in ("tanh", "relu")
    return type(cell) in (GRUCell, LSTMCell)


def scan(
    cell: Cell,
    x: Tensor,
    state: State,
    lengths: Tensor | None = None,
    noise: Noise | None = None,
) -> tuple[Tensor, State]:
    """Run `cell` over x (T, B, D) from `state`: as `loop.scan`, faster."""
    if not supports(cell):
        raise ValueError(f"the fused backend runs LSTMCell, GRUCell and RNNCell, not {cell!r}")
    T, B = x.shape[:2]
    if noise is None:
        noise = cell.draw(T, B, x)
    inside = None if lengths is None else step_mask(lengths.to(x.device), T)  # (T, B, 1)
    device = x.device.type
    # (T, B, G*H) for every step: W x_t + b, or W x_t alone for the LSTM op (which adds b, after
    # normalising W x_t with layer norm)
    project = cell.input_product if isinstance(cell, LSTMCell) else cell.project_input
    if not torch.is_autocast_enabled(device):
        A = project(x, noise, onednn.linear)
        return _apply(cell, A, state, noise, inside, A.dtype)
    A = project(x, noise)  # autocast's own product, in its dtype
    with torch.autocast(device, enabled=False):
        return _apply(cell, A, state, noise, inside, torch.get_autocast_dtype(device))


def _apply(
    cell: Cell, A: Tensor, state: State, noise: Noise, inside: Tensor | None, dtype: torch.dtype
) -> tuple[Tensor, State]:
    T = A.shape[0]
    U = cell.weight_hh if noise.U is None else noise.U
    gamma_h = cell.gamma_h if cell.layer_norm else None
    zone_h = _zone(noise.zone_h, T, A)
    if isinstance(cell, LSTMCell):
        zone_c = _zone(noise.zone_c, T, A)
        if inside is not None:  # a padded step keeps its state: d_t = d^c_t = 1 there
            zone_h, zone_c = _padded(zone_h, inside, A), _padded(zone_c, inside, A)
        norm_x = (cell.gamma_x if cell.layer_norm else None, cell.bias)
        norm_c = (cell.gamma_c, cell.beta_c) if cell.layer_norm else (None, None)
        W_hr = cell.weight_hr if cell.proj_size else None
        tensors = (A, *state, U, noise.h, zone_h, zone_c, *norm_x, gamma_h, *norm_c, W_hr)
        tensors = _cast(tensors, dtype)
        S, C = lstm.op(*tensors, _recorded(tensors))[:2]
        return (S[1:] if inside is None else S[1:] * inside), (S[-1], C[-1])
    mask = None if inside is None else inside.to(A.dtype)
    tensors = (A, *state, U, mask, noise.h, zone_h, gamma_h)
    if isinstance(cell, RNNCell):
        S = rnn.op(*_cast(tensors, dtype), cell.nonlinearity == "relu")[0]
    elif cell.reset == "before":
        S = gru.op(*_cast(tensors, dtype))[0]
    else:
        b_hn = cell.b_hn if cell.has_b_hn else None
        S = gru_after.op(*_cast((*tensors, b_hn), dtype))[0]
    return (S[1:] if mask is None else S[1:] * mask), (S[-1],)


def _zone(d: Tensor | float | None, steps: int, like: Tensor) -> Tensor | None:
    """Zoneout's d for every step: the drawn masks, or p in evaluation as a (T, 1, 1) view."""
    if d is None or isinstance(d, Tensor):
        return d
    return like.new_full((), d).expand(steps, 1, 1)


def _padded(d: Tensor | None, inside: Tensor, like: Tensor) -> Tensor:
    """d with 1 on padded steps (outside a sequence's length)."""
    if d is None:
        return (~inside).to(like.dtype)
    return torch.where(inside, d, 1.0)


def _recorded(tensors: list[Tensor | None]) -> bool:
    """True when autograd will record the op: its backward needs every step's buffers."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _cast(tensors: tuple[Tensor | None, ...], dtype: torch.dtype) -> list[Tensor | None]:
    return [None if t is None else t.to(dtype) for t in tensors]
