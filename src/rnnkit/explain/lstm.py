"""The LSTM, step by step, as the lecture solves exercise 2 (four steps per time step).

    Step 1, forget gate:  f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
    Step 2, input gate:   i_t = σ(W_i x_t + U_i h_{t-1} + b_i)
                          c~_t = tanh(W_c x_t + U_c h_{t-1} + b_c)   (the candidate)
    Step 3, update c:     c_t = f_t ⊙ c_{t-1} + i_t ⊙ c~_t
    Step 4, output:       o_t = σ(W_o x_t + U_o h_{t-1} + b_o)
                          h_t = o_t ⊙ tanh(c_t)

Every number is what rnnkit.LSTM's own cell computes in float64 (Cell.step_quantities).
"""

from __future__ import annotations

from torch import Tensor

from rnnkit.explain.explanation import (
    Explanation,
    Note,
    Quantity,
    Step,
    affine,
    check_against_forward,
    gate,
    indexed,
    inputs,
    lecture_cell,
)
from rnnkit.explain.formula import Apply, Hadamard, Sum, Symbol
from rnnkit.layers import LSTM


def explain_lstm(
    params: dict[str, Tensor], xs: Tensor, title: Note, notes: list[Note]
) -> Explanation:
    """Explain an LSTM over xs (T, D) from h_0 = c_0 = 0."""
    H, D = params["W_f"].shape
    network = LSTM(D, H).double()
    cell, p = lecture_cell(network, params)

    h, c = cell.initial_state(1, xs)  # (1, H) each
    h_prev, c_prev = indexed("h", 0, h[0]), indexed("c", 0, c[0])
    xs_named = inputs(xs)
    given = (*xs_named, h_prev, c_prev, *p.values())
    steps, outputs = [], []
    for t, x in enumerate(xs_named, start=1):
        q = cell.step_quantities(cell.project_input(x.value[None]), (h, c))  # each (1, H)
        h, c = cell.state_of(q)
        f, i, o = (
            gate(indexed(g, t, q[g][0]), "sigmoid", affine(p, f"_{g}", x, h_prev), q[f"a_{g}"][0])
            for g in "fio"
        )
        c_tilde = gate(
            indexed("c~", t, q["c_tilde"][0], latex=r"\tilde{c}"),
            "tanh",
            affine(p, "_c", x, h_prev),
            q["a_c"][0],
        )
        c_new = Quantity(
            indexed("c", t, c[0]),
            Sum((Hadamard(f.symbol, c_prev), Hadamard(i.symbol, c_tilde.symbol))),
        )
        h_new = Quantity(
            indexed("h", t, h[0]),
            Hadamard(o.symbol, Apply("tanh", c_new.symbol)),
            Hadamard(o.symbol, Symbol("", "", q["tanh_c"][0])),
        )
        steps += [
            Step("lstm.forget", (f,), t),
            Step("lstm.input", (i, c_tilde), t),
            Step("lstm.update", (c_new,), t),
            Step("lstm.output", (o, h_new), t),
        ]
        outputs.append(h_new.symbol)
        h_prev, c_prev = h_new.symbol, c_new.symbol

    check_against_forward(network, xs, outputs)
    return Explanation("lstm", title, given, tuple(notes), tuple(steps), tuple(outputs))
