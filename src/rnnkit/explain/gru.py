"""The GRU, step by step, as in the lecture's exercise 3 (the reset gate before U_h).

    update gate:             z_t = σ(W_z x_t + U_z h_{t-1} + b_z)
    reset gate:              r_t = σ(W_r x_t + U_r h_{t-1} + b_r)
    new update information:  h~_t = tanh(W_h x_t + U_h (r_t ⊙ h_{t-1}) + b_h)
    new state:               h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t

No output layer is given, so the exercise's y^_t is h_t. Every number is what rnnkit.GRU's own
cell (reset="before") computes in float64 (Cell.step_quantities).
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
from rnnkit.explain.formula import Hadamard, OneMinus, Product, Sum
from rnnkit.layers import GRU


def explain_gru(
    params: dict[str, Tensor], xs: Tensor, title: Note, notes: list[Note]
) -> Explanation:
    """Explain the lecture's GRU over xs (T, D) from h_0 = 0."""
    H, D = params["W_z"].shape
    network = GRU(D, H, reset="before").double()
    cell, p = lecture_cell(network, params)

    (h,) = cell.initial_state(1, xs)  # (1, H)
    h_prev = indexed("h", 0, h[0])
    xs_named = inputs(xs)
    given = (*xs_named, h_prev, *p.values())
    steps, outputs = [], []
    for t, x in enumerate(xs_named, start=1):
        q = cell.step_quantities(cell.project_input(x.value[None]), (h,))  # each (1, H)
        (h,) = cell.state_of(q)
        z, r = (
            gate(indexed(g, t, q[g][0]), "sigmoid", affine(p, f"_{g}", x, h_prev), q[f"a_{g}"][0])
            for g in "zr"
        )
        candidate = Sum(
            (Product(p["W_h"], x), Product(p["U_h"], Hadamard(r.symbol, h_prev)), p["b_h"])
        )
        h_tilde = gate(
            indexed("h~", t, q["h_tilde"][0], latex=r"\tilde{h}"), "tanh", candidate, q["a_h"][0]
        )
        h_new = Quantity(
            indexed("h", t, h[0]),
            Sum((Hadamard(OneMinus(z.symbol), h_prev), Hadamard(z.symbol, h_tilde.symbol))),
        )
        steps += [
            Step("gru.update", (z,), t),
            Step("gru.reset", (r,), t),
            Step("gru.candidate", (h_tilde,), t),
            Step("gru.state", (h_new,), t),
        ]
        outputs.append(indexed("y^", t, h[0], latex=r"\hat{y}"))
        h_prev = h_new.symbol

    check_against_forward(network, xs, outputs)
    notes = [*notes, Note("note.no_output_layer")]
    return Explanation("gru", title, given, tuple(notes), tuple(steps), tuple(outputs))
