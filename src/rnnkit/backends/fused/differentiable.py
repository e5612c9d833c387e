"""A fused op's function recomputed differentiably, for second derivatives (operator.py).

The fused ops' hand-written backward is not differentiable itself. When autograd records the
backward (`create_graph=True`: gradient penalties, Hessian-vector products, MAML), the op's
states are recomputed from its own inputs by the cell's step, the one place a cell's math lives
(cells/), one step at a time as the loop backend runs it, and autograd differentiates that:

    S = [h_0, h_1, ..., h_T] (and C = [c_0, ..., c_T]),  h_t = cell.step(A_t, h_{t-1}, noise_t)

The cell is a template of the right kind, options and size on the meta device (no memory, no
random numbers drawn), called with the op's tensors in place of its parameters; a padded step
keeps its state (h_t = h_{t-1}), as the ops do.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor, nn

from rnnkit.cells import Cell, GRUCell, LSTMCell, RNNCell
from rnnkit.cells.options import StepNoise, layer_norm


class _Scan(nn.Module):
    """A cell over the steps of A, from `state`; its forward returns the states, h_0 included."""

    def __init__(self, cell: Cell) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, A, state, m, d, d_c, mask) -> list[Tensor]:
        history = [state]
        for t in range(A.shape[0]):
            noise = StepNoise(h=m, zone_h=_at(d, t), zone_c=_at(d_c, t))
            new = self.cell.step(A[t], state, noise)
            if mask is not None:
                inside = mask[t].bool()
                new = tuple(torch.where(inside, n, old) for n, old in zip(new, state))
            state = new
            history.append(state)
        return [torch.stack(part) for part in zip(*history)]


def _at(d: Tensor | None, t: int) -> Tensor | None:
    return None if d is None else d[t]


@cache
def _template(name: str, hidden: int, proj: int, layer_norm: bool, extra: bool) -> _Scan:
    """A cell of the op's kind on the meta device; extra: relu (RNN), b_hn (GRU after)."""
    with torch.device("meta"):
        if name == "lstm":
            cell = LSTMCell(1, hidden, layer_norm=layer_norm, proj_size=proj)
        elif name == "rnn":
            cell = RNNCell(
                1, hidden, nonlinearity="relu" if extra else "tanh", layer_norm=layer_norm
            )
        else:
            reset = name.removeprefix("gru_")
            cell = GRUCell(1, hidden, bias=extra, reset=reset, layer_norm=layer_norm)
    return _Scan(cell)


def states(name: str, inputs: list) -> list[Tensor]:
    """The op `rnnkit::name`'s states (S, and C for the LSTM), differentiable in its inputs."""
    if name == "lstm":
        A, h0, c0, U, m, d, d_c, gamma_x, bias, gamma_h, gamma_c, beta_c, W_hr = inputs[:13]
        if gamma_x is not None:  # the op takes W x_t, normalises it and adds b
            A = layer_norm(A, gamma_x, bias)
        elif bias is not None:
            A = A + bias
        scan = _template(
            name, c0.shape[-1], 0 if W_hr is None else W_hr.shape[0], gamma_h is not None, False
        )
        parameters = {"gamma_h": gamma_h, "gamma_c": gamma_c, "beta_c": beta_c, "weight_hr": W_hr}
        state, mask = (h0, c0), None
    else:
        A, h0, U, mask, m, d, gamma_h, extra = [*inputs, None][:8]
        b_hn = extra if name == "gru_after" else None
        flag = bool(extra) if name == "rnn" else b_hn is not None
        scan = _template(name, h0.shape[-1], 0, gamma_h is not None, flag)
        parameters = {"gamma_h": gamma_h, "b_hn": b_hn}
        state, d_c = (h0,), None
    parameters = {f"cell.{k}": v for k, v in parameters.items() if v is not None}
    parameters["cell.weight_hh"] = U
    return torch.func.functional_call(scan, parameters, (A, state, m, d, d_c, mask), strict=False)
