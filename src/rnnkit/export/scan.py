"""A layer whose cell has options ONNX's RNN / LSTM / GRU operators lack, as a Scan over its step.

Layer norm, zoneout and an LSTM's projection change the step itself, so such a layer is written
out of primitives: the input part of every step at once, then ONNX's Scan operator running the
cell's step (its body, one subgraph) over time, the two directions each a Scan of its own, the
backward one reading and writing the steps in reverse. In evaluation (all an export computes) the
step is the cell's with StepNoise.expected: no dropout, zoneout's expectation d = p.

    A   = W x_t + b, or LN(W x_t; γ^x) + b with layer_norm      all steps, (T, B, G*H)
    s_t = step(A_t, s_{t-1})                                   the body: cells/lstm.py, gru.py,
                                                               rnn.py, the same equations
With lengths, m_t = (t < length) per sequence and

    s_t = m_t ? step(A_t, s_{t-1}) : s_{t-1},    y_t = m_t ? h_t : 0

so padding never reaches the states and its outputs are zero; the backward direction keeps its
initial state through the padding and starts at each sequence's last real step, as rnnkit does.
LN is ONNX's LayerNormalization (opset 17) over the last axis with rnnkit's epsilon.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnkit.cells import Cell, GRUCell, LSTMCell, RNNCell
from rnnkit.cells.options import EPS
from rnnkit.export.graph import Graph

# rnnkit's RNN nonlinearity -> ONNX's operator (identity is no operator at all).
NONLINEARITIES = {"tanh": "Tanh", "relu": "Relu", "identity": None}


def add_scan_layer(
    graph: Graph,
    cells: list[Cell],
    k: int,
    x: str,
    lengths: str | None,
    initial: list[str] | None,
) -> list[str]:
    """Layer k from x (T, B, D): outputs Y (T, dirs, B, P) and the final states (dirs, B, P)
    (and (dirs, B, H) for an LSTM's c), as network.py's one-operator layers give them."""
    mask = None if lengths is None else _step_mask(graph, x, lengths)
    directions = []
    for d, cell in enumerate(cells):
        stem = f"l{k}{'_reverse' if d else ''}"
        start = None if initial is None else [_take(graph, state, d) for state in initial]
        directions.append(_add_direction(graph, cell, stem, x, mask, start, reverse=d == 1))
    Y, *finals = [
        _stack(graph, [outputs[n] for outputs in directions], axis=1 if n == 0 else 0)
        for n in range(len(directions[0]))
    ]
    return [Y, *finals]


def _add_direction(
    graph: Graph,
    cell: Cell,
    stem: str,
    x: str,
    mask: str | None,
    initial: list[str] | None,
    reverse: bool,
) -> list[str]:
    """One direction: its outputs (T, B, P) and final states (B, P)[, (B, H)]."""
    A = _input_part(graph, cell, stem, x)
    if initial is None:
        initial = [_zeros(graph, x, features) for features in cell.state_features]
    body = _body(graph, cell, stem, masked=mask is not None)
    scanned = [A] if mask is None else [A, mask]
    direction = [int(reverse)]
    *finals, outputs = graph.node(
        "Scan",
        [*initial, *scanned],
        outputs=cell.state_size + 1,
        body=body,
        num_scan_inputs=len(scanned),
        scan_input_directions=direction * len(scanned),
        scan_output_directions=direction,
    )
    return [outputs, *finals]


def _input_part(graph: Graph, cell: Cell, stem: str, x: str) -> str:
    """A = W x_t + b, or LN(W x_t; γ^x) + b, for every step: (T, B, G*H)."""
    A = graph.node("MatMul", [x, _transposed(graph, f"W_T_{stem}", cell.weight_ih)])
    if cell.layer_norm:
        bias = [] if cell.bias is None else [graph.weight(f"b_{stem}", cell.bias)]
        return _layer_norm(graph, A, graph.weight(f"gamma_x_{stem}", cell.gamma_x), *bias)
    if cell.bias is None:
        return A
    return graph.node("Add", [A, graph.weight(f"b_{stem}", cell.bias)])


def _body(graph: Graph, cell: Cell, stem: str, masked: bool) -> object:
    """The Scan body: (s_{t-1}, A_t[, m_t]) -> (s_t, y_t)."""
    body = Graph(f"step_{stem}", outer=graph)
    previous = [body.input(f"{name}_prev_{stem}", np.float32, None) for name in cell.state_names]
    A_t = body.input(f"A_t_{stem}", np.float32, None)
    new = _step(body, cell, stem, A_t, previous)
    output = body.node("Identity", [new[0]])  # y_t = h_t, a value of its own
    if masked:
        m_t = body.input(f"m_t_{stem}", np.bool_, None)
        new = [body.node("Where", [m_t, s, p]) for s, p in zip(new, previous)]
        output = body.node("Where", [m_t, output, body.constant("zero", np.float32(0.0))])
    for value in [*new, output]:
        body.output(value, value, np.float32, None)
    return body.body()


def _step(body: Graph, cell: Cell, stem: str, A_t: str, previous: list[str]) -> list[str]:
    """The cell's step in evaluation: its new state (h_t,) or (h_t, c_t)."""
    if isinstance(cell, LSTMCell):
        return _lstm_step(body, cell, stem, A_t, *previous)
    if isinstance(cell, GRUCell):
        return [_gru_step(body, cell, stem, A_t, *previous)]
    assert isinstance(cell, RNNCell)
    h_prev = previous[0]
    a = body.node("Add", [A_t, _times_U(body, cell, stem, h_prev)])
    nonlinearity = NONLINEARITIES[cell.nonlinearity]
    h = a if nonlinearity is None else body.node(nonlinearity, [a])
    return [_zone(body, h, h_prev, cell.zoneout)]


def _lstm_step(
    body: Graph, cell: LSTMCell, stem: str, A_t: str, h_prev: str, c_prev: str
) -> list[str]:
    """cells/lstm.py's step:

    [a_i, a_f, a_c, a_o] = A_t + U h_{t-1}              (LN(U h_{t-1}; γ^h) with layer_norm)
    c'_t = sigma(a_f) * c_{t-1} + sigma(a_i) * tanh(a_c)
    h'_t = sigma(a_o) * tanh(c'_t)                      (tanh(LN(c'_t; γ^c, β^c)); W_hr (...))
    c_t, h_t = zoneout of c'_t, h'_t
    """
    a = body.node("Add", [A_t, _times_U(body, cell, stem, h_prev)])
    a_i, a_f, a_c, a_o = body.node("Split", [a], outputs=4, axis=-1, num_outputs=4)
    i, f, o = (body.node("Sigmoid", [gate]) for gate in (a_i, a_f, a_o))
    c_tilde = body.node("Tanh", [a_c])
    c_new = body.node("Add", [body.node("Mul", [f, c_prev]), body.node("Mul", [i, c_tilde])])
    normalised = c_new
    if cell.layer_norm:
        gamma_c = body.weight(f"gamma_c_{stem}", cell.gamma_c)
        beta_c = body.weight(f"beta_c_{stem}", cell.beta_c)
        normalised = _layer_norm(body, c_new, gamma_c, beta_c)
    h_new = body.node("Mul", [o, body.node("Tanh", [normalised])])
    if cell.proj_size:
        h_new = body.node("MatMul", [h_new, _transposed(body, f"W_hr_T_{stem}", cell.weight_hr)])
    return [_zone(body, h_new, h_prev, cell.zoneout), _zone(body, c_new, c_prev, cell.zoneout_c)]


def _gru_step(body: Graph, cell: GRUCell, stem: str, A_t: str, h_prev: str) -> str:
    """cells/gru.py's step:

    [a_r, a_z, A_h] = A_t + [U_r h_{t-1}, U_z h_{t-1}, 0]      each product with U normalised
    h~_t = tanh(A_h + U_h (r_t * h_{t-1}))                      reset="before" (the lecture's)
    h~_t = tanh(A_h + r_t * (U_h h_{t-1} + b_hn))               reset="after"
    h'_t = h_{t-1} + z_t * (h~_t - h_{t-1}) = (1 - z_t) * h_{t-1} + z_t * h~_t
    """
    H = cell.hidden_size
    A_r, A_z, A_h = body.node("Split", [A_t], outputs=3, axis=-1, num_outputs=3)
    if cell.reset == "before":
        G_r, G_z = body.node(
            "Split",
            [_times_U(body, cell, stem, h_prev, slice(0, 2 * H))],
            outputs=2,
            axis=-1,
            num_outputs=2,
        )
    else:
        G_r, G_z, G_h = body.node(
            "Split", [_times_U(body, cell, stem, h_prev)], outputs=3, axis=-1, num_outputs=3
        )
    r = body.node("Sigmoid", [body.node("Add", [A_r, G_r])])
    z = body.node("Sigmoid", [body.node("Add", [A_z, G_z])])
    if cell.reset == "before":
        r_h = body.node("Mul", [r, h_prev])
        candidate = _times_U(body, cell, stem, r_h, slice(2 * H, 3 * H))
    else:
        if cell.has_b_hn:
            G_h = body.node("Add", [G_h, body.weight(f"b_hn_{stem}", cell.b_hn)])
        candidate = body.node("Mul", [r, G_h])
    h_tilde = body.node("Tanh", [body.node("Add", [A_h, candidate])])
    h_new = body.node("Add", [h_prev, body.node("Mul", [z, body.node("Sub", [h_tilde, h_prev])])])
    return _zone(body, h_new, h_prev, cell.zoneout)


def _times_U(body: Graph, cell: Cell, stem: str, v: str, rows: slice = slice(None)) -> str:
    """U_g v for the gates in `rows` of U, or LN(U_g v; γ^h_g) with layer_norm (Cell.times_U)."""
    name = "" if rows == slice(None) else f"_{rows.start}_{rows.stop}"
    U_T = _transposed(body, f"U_T{name}_{stem}", cell.weight_hh[rows])
    Uv = body.node("MatMul", [v, U_T])
    if not cell.layer_norm:
        return Uv
    return _layer_norm(body, Uv, _parameter(body, f"gamma_h{name}_{stem}", cell.gamma_h[rows]))


def _zone(body: Graph, new: str, previous: str, p: float) -> str:
    """Zoneout's expectation: new + p * (previous - new) = p * previous + (1 - p) * new."""
    if not p:
        return new
    difference = body.node("Sub", [previous, new])
    return body.node(
        "Add", [new, body.node("Mul", [body.constant("p", np.float32(p)), difference])]
    )


def _layer_norm(graph: Graph, a: str, gain: str, bias: str | None = None) -> str:
    """LN(a; γ, β) over a's last axis (cells/options.layer_norm)."""
    inputs = [a, gain] if bias is None else [a, gain, bias]
    return graph.node("LayerNormalization", inputs, axis=-1, epsilon=EPS)


def _parameter(graph: Graph, stem: str, tensor: torch.Tensor) -> str:
    return graph.constant(stem, tensor.detach().to("cpu", torch.float32).numpy())


def _transposed(graph: Graph, stem: str, weight: torch.Tensor) -> str:
    """weight^T (in, out) as a constant, so that MatMul(v, it) = v weight^T."""
    return _parameter(graph, stem, weight.T.contiguous())


def _step_mask(graph: Graph, x: str, lengths: str) -> str:
    """m (T, B, 1) bool: m[t, b] = t < lengths[b]."""
    steps = graph.node("Gather", [graph.node("Shape", [x]), graph.constant("axis_0", 0)])
    t = graph.node(
        "Range", [graph.constant("range_start", 0), steps, graph.constant("range_delta", 1)]
    )
    lengths64 = graph.node("Cast", [lengths], to=graph.onnx.TensorProto.INT64)
    return graph.unsqueeze(graph.node("Less", [graph.unsqueeze(t, 1), lengths64]), 2)


def _zeros(graph: Graph, x: str, features: int) -> str:
    """A zero state (B, features), B read from x (T, B, D)."""
    batch = graph.node(
        "Slice",
        [graph.node("Shape", [x]), graph.constant("starts", [1]), graph.constant("ends", [2])],
    )
    shape = graph.node("Concat", [batch, graph.constant("features", [features])], axis=0)
    zero = graph.onnx.helper.make_tensor("value", graph.onnx.TensorProto.FLOAT, [1], [0.0])
    return graph.node("ConstantOfShape", [shape], value=zero)


def _take(graph: Graph, states: str, d: int) -> str:
    """states[d] of (dirs, B, F): (B, F)."""
    bounds = [graph.constant("starts", [d]), graph.constant("ends", [d + 1])]
    part = graph.node("Slice", [states, *bounds, graph.constant("axes", [0])])
    return graph.node("Squeeze", [part, graph.constant("axes", [0])])


def _stack(graph: Graph, values: list[str], axis: int) -> str:
    """The values stacked along a new `axis`."""
    parts = [graph.unsqueeze(value, axis) for value in values]
    return parts[0] if len(parts) == 1 else graph.node("Concat", parts, axis=axis)
