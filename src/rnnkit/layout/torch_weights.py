"""One cell's parameters in torch.nn's layout, and back: the one place the two conventions meet.

torch.nn keeps two biases per gate, b_ih and b_hh; the lecture has one, b = b_ih + b_hh. Exporting
puts b in b_ih and zeros in b_hh. For GRU, torch's z_t weights the old state
(h_t = (1 - z) * n + z * h), the lecture's weights the new candidate, so torch's z is 1 - ours:
its z weights and bias are ours negated. Its reset-after candidate bias b_hn is kept as b_hn.

An LSTM with proj_size keeps torch's name and layout for its projection, weight_hr (P, H), last
in torch's list. The native backend runs torch's kernels on `torch_weights(cell)` (differentiable,
no copy for LSTM and RNN); torch.nn's state dicts and names (layers/torch_state.py) use the same
two functions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells import Cell, GRUCell
from rnnkit.errors import RnnkitError


def _z_sign(cell: GRUCell, like: Tensor) -> Tensor:
    """(3H, 1) column: +1 for r and h, -1 for z, which flips torch's z convention to ours."""
    H = cell.hidden_size
    sign = like.new_ones(3 * H)
    sign[H : 2 * H] = -1
    return sign


def torch_weights(cell: Cell, weight_hh: Tensor | None = None) -> list[Tensor]:
    """[w_ih, w_hh, b_ih, b_hh] (or [w_ih, w_hh] without bias) as torch.nn would hold them, and
    an LSTM's w_hr last when it projects; `weight_hh` in place of the cell's U (weight dropout's
    M * U)."""
    return [*_gate_weights(cell, weight_hh), *_projection(cell)]


def _projection(cell: Cell) -> list[Tensor]:
    return [cell.weight_hr] if cell.proj_size else []


def _gate_weights(cell: Cell, weight_hh: Tensor | None = None) -> list[Tensor]:
    w_ih, w_hh, b = cell.weight_ih, cell.weight_hh if weight_hh is None else weight_hh, cell.bias
    if isinstance(cell, GRUCell):
        if cell.reset != "after":
            raise RnnkitError(
                "torch.nn.GRU applies the reset gate after U_h; only GRU(reset='after') "
                "converts exactly (the lecture's reset='before' has no torch equivalent)"
            )
        sign = _z_sign(cell, w_ih)
        w_ih, w_hh = w_ih * sign[:, None], w_hh * sign[:, None]
        if b is not None:
            b = b * sign
    if b is None:
        return [w_ih, w_hh]
    if isinstance(cell, GRUCell):
        b_hh = torch.cat([b.new_zeros(2 * cell.hidden_size), cell.b_hn])
    else:
        b_hh = b.new_zeros(b.shape)
    return [w_ih, w_hh, b, b_hh]


def from_torch_weights(cell: Cell, weights: list[Tensor]) -> dict[str, Tensor]:
    """The cell's parameters, by name (weight_ih, weight_hh, bias, b_hn, weight_hr), from torch.nn's
    [w_ih, w_hh, b_ih, b_hh(, w_hr)]: the exact inverse of `torch_weights`."""
    if not cell.proj_size:
        return _from_gate_weights(cell, weights)
    *weights, w_hr = weights
    if tuple(w_hr.shape) != tuple(cell.weight_hr.shape):
        raise RnnkitError(
            f"torch's weight_hr of shape {tuple(w_hr.shape)} does not fit this cell's "
            f"{tuple(cell.weight_hr.shape)}: check proj_size"
        )
    return {**_from_gate_weights(cell, weights), "weight_hr": w_hr}


def _from_gate_weights(cell: Cell, weights: list[Tensor]) -> dict[str, Tensor]:
    w_ih, w_hh, *biases = weights
    expected = [tuple(cell.weight_ih.shape), tuple(cell.weight_hh.shape)]
    if [tuple(w_ih.shape), tuple(w_hh.shape)] != expected:
        raise RnnkitError(
            f"torch weights of shapes {tuple(w_ih.shape)}, {tuple(w_hh.shape)} "
            f"do not fit this cell ({expected[0]}, {expected[1]}): check input_size and hidden_size"
        )
    if bool(biases) != (cell.bias is not None):
        raise RnnkitError(
            "bias mismatch: the torch module and this cell must both have biases or not"
        )
    if not isinstance(cell, GRUCell):
        named = {"weight_ih": w_ih, "weight_hh": w_hh}
        return {**named, "bias": biases[0] + biases[1]} if biases else named
    if cell.reset != "after":
        raise RnnkitError(
            "torch.nn.GRU applies the reset gate after U_h: only GRU(reset='after') loads its "
            "weights exactly (the lecture's reset='before' is another function)"
        )
    sign = _z_sign(cell, w_ih)
    named = {"weight_ih": w_ih * sign[:, None], "weight_hh": w_hh * sign[:, None]}
    if not biases:
        return named
    b_ih, b_hh = biases
    H = cell.hidden_size
    # b_hn stays inside r_t * (...) in torch, so only the r and z parts of b_hh merge.
    merged = torch.cat([b_ih[: 2 * H] + b_hh[: 2 * H], b_ih[2 * H :]])
    return {**named, "bias": merged * sign, "b_hn": b_hh[2 * H :]}
