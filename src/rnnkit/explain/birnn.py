"""The bidirectional RNN of exercise 4, with every activation function ignored, as it asks.

    Step 1, forward RNN A:    h→_t = W_A x_t + U_A h→_{t-1}        t = 1, ..., T
    Step 2, backward RNN A':  h←_t = W_A' x_t + U_A' h←_{t+1}      t = T, ..., 1
    Step 3, output:           y_t = V_A h→_t + V_A' h←_t

That is the lecture's reading (its later slides: W multiplies the input, U the state). The
vanilla slide's letters swap W and U (h→_t = U_A x_t + W_A h→_{t-1}); reading="vanilla" uses
those, and the explanation always says what the other reading gives. The states come from
rnnkit.Bidirectional running two rnnkit.Recurrent layers.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells import RNNCell
from rnnkit.explain.explanation import (
    Explanation,
    Note,
    Quantity,
    Step,
    indexed,
    inputs,
    load_params,
    named,
)
from rnnkit.explain.formula import Product, Sum, Symbol, format_tensor
from rnnkit.explain.inputs import birnn_layout
from rnnkit.layers import Bidirectional, Recurrent

READINGS = ("lecture", "vanilla")


def run_birnn(params: dict[str, Tensor], xs: Tensor, reading: str) -> tuple[Tensor, ...]:
    """Forward states h→ (T, H), backward states h← (T, H) and outputs y (T,) or (T, K)."""
    layout = birnn_layout(reading)
    H, D = params[layout.inputs[0]].shape
    # Exercise 4 ignores every activation function: h_t = W x_t + U h_{t-1}.
    directions = [
        Recurrent(RNNCell(D, H, bias=False, nonlinearity="identity"), reverse)
        for reverse in (False, True)
    ]
    layer = Bidirectional(*directions, merge="concat").double()
    for direction, W, U in zip(directions, layout.inputs, layout.recurrent):
        load_params(direction.cell.params(), {"W": params[W], "U": params[U]})
    with torch.no_grad():
        merged, _ = layer(xs[:, None, :])  # (T, 1, 2H): [h→_t, h←_t]
    merged = merged[:, 0]
    V = torch.cat([params["V_A"], params["V_A'"]], dim=-1)  # (2H,) or (K, 2H)
    forward, backward = merged.split(H, dim=-1)
    return forward, backward, F.linear(merged, V)


def explain_birnn(
    params: dict[str, Tensor],
    xs: Tensor,
    title: Note,
    notes: list[Note],
    reading: str,
    other: dict[str, Tensor] | None,
) -> Explanation:
    """Explain exercise 4 in `reading`; `other` is the parameters checked for the other reading."""
    layout = birnn_layout(reading)
    forward, backward, y = run_birnn(params, xs, reading)
    p = {name: named(name, params[name], latex=_latex(name)) for name in params}
    T, H = forward.shape
    x = inputs(xs)
    h_fwd = [indexed("h→", t, h, r"\overrightarrow{h}") for t, h in enumerate(forward, start=1)]
    h_bwd = [indexed("h←", t, h, r"\overleftarrow{h}") for t, h in enumerate(backward, start=1)]
    start_fwd = indexed("h→", 0, forward.new_zeros(H), r"\overrightarrow{h}")
    start_bwd = indexed("h←", T + 1, forward.new_zeros(H), r"\overleftarrow{h}")

    W, W_back = (p[name] for name in layout.inputs)
    U, U_back = (p[name] for name in layout.recurrent)
    forward_steps = tuple(
        Quantity(h_fwd[t], Sum((Product(W, x[t]), Product(U, ([start_fwd, *h_fwd])[t]))))
        for t in range(T)
    )
    backward_steps = tuple(
        Quantity(
            h_bwd[t], Sum((Product(W_back, x[t]), Product(U_back, ([*h_bwd, start_bwd])[t + 1])))
        )
        for t in reversed(range(T))
    )
    outputs = tuple(
        Quantity(
            indexed("y", t + 1, y[t]),
            Sum((Product(p["V_A"], h_fwd[t]), Product(p["V_A'"], h_bwd[t]))),
        )
        for t in range(T)
    )
    steps = (
        Step("birnn.forward", forward_steps),
        Step("birnn.backward", backward_steps),
        Step("birnn.output", outputs),
    )
    other_y = None
    if other is not None:
        _, _, other_y = run_birnn(other, xs, READINGS[1 - READINGS.index(reading)])
    notes = [*notes, Note("note.no_activation"), _reading_note(reading, other_y)]
    given = (*x, start_fwd, start_bwd, *p.values())
    answer = (Symbol("y", "y", y),)
    return Explanation("birnn", title, given, tuple(notes), steps, answer, reading, other_y)


def _reading_note(reading: str, other_y: Tensor | None) -> Note:
    """Which reading was used, and the other reading's answer (or that its shapes do not fit)."""
    if other_y is None:
        return Note(f"note.reading.{reading}.unfit")
    return Note(f"note.reading.{reading}", {"other": format_tensor(other_y)})


def _latex(name: str) -> str:
    """W_A' -> W_{A'}."""
    letter, _, direction = name.partition("_")
    return f"{letter}_{{{direction}}}"
