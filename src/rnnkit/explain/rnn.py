"""The vanilla RNN, step by step, in the vanilla slide's two steps.

    Step 1, hidden state:  h_t = tanh(W x_t + U h_{t-1} + b)
    Step 2, output:        y_t = softmax(V h_t + b_y)        (when V and b_y are given)

The slide writes h_t = tanh(W s_{t-1} + U x_t + b_s), with the letters swapped; rnnkit follows
the lecture's later slides: W multiplies the input, U the previous state. Every h_t is what
rnnkit.RNN's own cell computes in float64 (Cell.step_quantities).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.explain.explanation import (
    Explanation,
    Note,
    Quantity,
    Step,
    affine,
    check_against_forward,
    computed,
    gate,
    indexed,
    inputs,
    lecture_cell,
)
from rnnkit.explain.formula import Apply, Product, Sum
from rnnkit.layers import RNN


def explain_rnn(
    params: dict[str, Tensor], xs: Tensor, title: Note, notes: list[Note]
) -> Explanation:
    """Explain a tanh RNN over xs (T, D) from h_0 = 0, with an output layer if V is given."""
    H, D = params["W"].shape
    network = RNN(D, H).double()
    cell, p = lecture_cell(network, params)

    (h,) = cell.initial_state(1, xs)  # (1, H)
    h_prev = indexed("h", 0, h[0])
    xs_named = inputs(xs)
    given = (*xs_named, h_prev, *p.values())
    steps, states, outputs = [], [], []
    for t, x in enumerate(xs_named, start=1):
        q = cell.step_quantities(cell.project_input(x.value[None]), (h,))  # each (1, H)
        (h,) = cell.state_of(q)
        h_new = gate(indexed("h", t, h[0]), "tanh", affine(p, "", x, h_prev), q["a"][0])
        steps.append(Step("rnn.state", (h_new,), t))
        states.append(h_new.symbol)
        if "V" in p:
            y = output(p, h_new.symbol.value, t)
            steps.append(Step("rnn.output", (y,), t))
            outputs.append(y.symbol)
        h_prev = h_new.symbol

    check_against_forward(network, xs, states)
    answer = tuple(outputs or states)
    notes = [*notes, Note("note.rnn.letters")]  # the vanilla slide swaps W and U
    return Explanation("rnn", title, given, tuple(notes), tuple(steps), answer)


def output(p: dict, h: Tensor, t: int) -> Quantity:
    """y_t = softmax(V h_t + b_y), the language model's output layer (models/language.py)."""
    logits = F.linear(h, p["V"].value, p["b_y"].value)
    formula = Apply("softmax", Sum((Product(p["V"], indexed("h", t, h)), p["b_y"])))
    return Quantity(
        indexed("y", t, torch.softmax(logits, -1)), formula, computed("softmax", logits)
    )
