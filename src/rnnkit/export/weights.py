"""One cell's parameters in ONNX's layout: the one place rnnkit's and ONNX's conventions meet.

ONNX's RNN, LSTM and GRU operators take, per direction, W (G*H, D), R (G*H, H) and
B = [Wb; Rb] (2*G*H,), with Wb added to W x_t and Rb to R h_{t-1}. rnnkit has one bias b per gate
(the lecture's); it goes into Wb and Rb is zero, except for GRU(reset="after")'s b_hn.

    rnnkit (torch's order)        ONNX
    RNN    W | U | b              W | R | Wb, Rb = 0
    LSTM   i | f | c | o          i | o | f | c                        (torch calls c "g")
    GRU    r | z | h              z | r | h, the z rows and z bias negated

ONNX's GRU writes h_t = (1 - z'_t) * h~_t + z'_t * h_{t-1}, where the lecture (and rnnkit) write
h_t = (1 - z_t) * h_{t-1} + z_t * h~_t: so z' = 1 - z = sigma(-(W_z x_t + U_z h_{t-1} + b_z)),
which is the lecture's z gate with its weights and bias negated (as torch.nn.GRU's, see
rnnkit.layout.torch_weights). The candidate of reset="before" (the lecture's),

    h~_t = tanh(W_h x_t + U_h (r_t * h_{t-1}) + b_h)

is ONNX's GRU with linear_before_reset=0 (Rb_h = 0); that of reset="after",

    h~_t = tanh(W_h x_t + b_h + r_t * (U_h h_{t-1} + b_hn))

is linear_before_reset=1 with Rb_h = b_hn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnkit.cells import Cell, GRUCell, LSTMCell

# Position k of ONNX's gate order is rnnkit's gate ONNX_ORDER[k] (indices into cell.gate_names).
ONNX_ORDER = {"RNN": (0,), "LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2)}


@dataclass
class OnnxWeights:
    """One direction's W (G*H, D), R (G*H, H) and B (2*G*H,) or None, in ONNX's gate order."""

    W: np.ndarray
    R: np.ndarray
    B: np.ndarray | None


def operator(cell: Cell) -> str:
    """The ONNX operator that computes `cell`: RNN, LSTM or GRU."""
    if isinstance(cell, LSTMCell):
        return "LSTM"
    return "GRU" if isinstance(cell, GRUCell) else "RNN"


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu", torch.float64).numpy()


def _reorder(stacked: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """Gate blocks of `stacked` (G*H, ...) taken in `order`."""
    blocks = np.split(stacked, len(order), axis=0)
    return np.concatenate([blocks[k] for k in order], axis=0)


def onnx_weights(cell: Cell) -> OnnxWeights:
    """`cell`'s parameters as ONNX's operator wants them (see the module docstring)."""
    order = ONNX_ORDER[operator(cell)]
    W = _reorder(_numpy(cell.weight_ih), order)
    R = _reorder(_numpy(cell.weight_hh), order)
    Wb = None if cell.bias is None else _reorder(_numpy(cell.bias), order)
    Rb = None if Wb is None else np.zeros_like(Wb)
    if isinstance(cell, GRUCell):
        H = cell.hidden_size
        W[:H], R[:H] = -W[:H], -R[:H]  # ONNX's z' = 1 - z: the z rows, now first, negated
        if Wb is not None:
            Wb[:H] = -Wb[:H]
        if cell.has_b_hn:
            Rb[2 * H :] = _numpy(cell.b_hn)
    B = None if Wb is None else np.concatenate([Wb, Rb])
    return OnnxWeights(W.astype(np.float32), R.astype(np.float32), _float32(B))


def _float32(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None else array.astype(np.float32)
