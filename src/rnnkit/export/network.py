"""A stacked, optionally bidirectional rnnkit network as ONNX RNN / LSTM / GRU nodes, one per layer.

Each layer is one ONNX operator over the whole sequence, both directions in the same node
(direction="bidirectional"); a layer whose cell has options those operators lack (layer norm,
zoneout, a projection) is a Scan over its own step instead (export/scan.py). Layer k + 1 reads
layer k's merged output, as in rnnkit:

    Y^k   = OP(x^k, W^k, R^k, B^k, sequence_lens, h^k_0[, c^k_0])    (T, dirs, B, H)
    x^k+1 = merge(Y^k)                                                (T, B, dirs*H or H)

merge "concat" is [h->_t, h<-_t] (a transpose and a reshape); "sum", "mean" and "mul" are
ReduceSum, ReduceMean and ReduceProd over the direction axis. With sequence_lens, onnxruntime
stops each sequence at its length, runs the backward direction from its last real step and writes
zeros past the end, as rnnkit does. Dropout, between layers or in a cell, is a training-time
operation and is left out. ONNX's layout=1 (batch first) is not run by onnxruntime, so a
batch-first network gets transposes around the recurrent nodes instead.

Shapes: T steps, B batch, D input, H hidden, L layers, dirs = 2 if bidirectional else 1.
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells import Cell, GRUCell, RNNCell
from rnnkit.export.graph import Graph
from rnnkit.export.scan import add_scan_layer
from rnnkit.export.weights import onnx_weights, operator
from rnnkit.layers.network import RecurrentNetwork

# rnnkit's RNN nonlinearity -> ONNX's activation (with its alpha and beta, where it takes them).
ACTIVATIONS = {"tanh": ("Tanh", None), "relu": ("Relu", None), "identity": ("Affine", (1.0, 0.0))}
MERGE_REDUCTIONS = {"sum": "ReduceSum", "mean": "ReduceMean", "mul": "ReduceProd"}


def add_network(
    graph: Graph,
    network: RecurrentNetwork,
    x: str,
    lengths: str | None = None,
    initial: tuple[str, ...] | None = None,
) -> tuple[str, tuple[str, ...]]:
    """Add `network` reading x (T, B, D), time-major whatever network.batch_first says.

    lengths: (B,) int32 sequence lengths or None; initial: the (L*dirs, B, P) initial states
    (h_0, or h_0 and c_0 (L*dirs, B, H) for LSTM; P = H, or an LSTM's proj_size) or None for
    zeros. Returns the output (T, B, dirs*P or P) and the final states, shaped as the initial
    ones, like rnnkit's h_n (and c_n).
    """
    dirs = network.num_directions
    finals: list[list[str]] = []
    for k in range(network.num_layers):
        cells = [network.cell(k, d) for d in range(dirs)]
        layer_initial = None
        if initial is not None:
            layer_initial = [_slice(graph, state, k * dirs, (k + 1) * dirs) for state in initial]
        # A cell with options ONNX's operators lack (layer norm, zoneout, a projection) runs as
        # a Scan over its own step; dropout options are the plain cell in evaluation.
        add_layer = add_scan_layer if cells[0].options.active(training=False) else _add_layer
        Y, *layer_finals = add_layer(graph, cells, k, x, lengths, layer_initial)
        x = _merge(graph, Y, dirs, network.merge)
        finals.append(layer_finals)
    states = tuple(
        parts[0] if len(parts) == 1 else graph.node("Concat", list(parts), axis=0)
        for parts in zip(*finals)
    )
    return x, states


def _add_layer(
    graph: Graph,
    cells: list[Cell],
    k: int,
    x: str,
    lengths: str | None,
    initial: list[str] | None,
) -> list[str]:
    """One ONNX recurrent node for layer k: outputs Y (T, dirs, B, H), Y_h[, Y_c] (dirs, B, H)."""
    cell = cells[0]
    op = operator(cell)
    weights = [onnx_weights(c) for c in cells]
    W = graph.constant(f"W_l{k}", np.stack([w.W for w in weights]))  # (dirs, G*H, D)
    R = graph.constant(f"R_l{k}", np.stack([w.R for w in weights]))  # (dirs, G*H, H)
    B = "" if weights[0].B is None else graph.constant(f"B_l{k}", np.stack([w.B for w in weights]))
    inputs = [x, W, R, B, lengths or "", *(initial or [])]
    attributes = dict(
        hidden_size=cell.hidden_size,
        direction="bidirectional" if len(cells) == 2 else "forward",
        **_cell_attributes(cell, len(cells)),
    )
    outputs = 3 if op == "LSTM" else 2
    return graph.node(op, _drop_trailing_empty(inputs), outputs=outputs, **attributes)


def _cell_attributes(cell: Cell, dirs: int) -> dict:
    """The attributes that say which variant of the operator a cell is."""
    if isinstance(cell, GRUCell):
        return {"linear_before_reset": int(cell.reset == "after")}
    if isinstance(cell, RNNCell):
        activation, alpha_beta = ACTIVATIONS[cell.nonlinearity]
        attributes = {"activations": [activation] * dirs}
        if alpha_beta is not None:
            attributes["activation_alpha"] = [alpha_beta[0]] * dirs
            attributes["activation_beta"] = [alpha_beta[1]] * dirs
        return attributes
    return {}


def _drop_trailing_empty(inputs: list[str]) -> list[str]:
    while inputs and not inputs[-1]:
        inputs = inputs[:-1]
    return inputs


def _slice(graph: Graph, value: str, start: int, end: int) -> str:
    """value[start:end] along axis 0."""
    bounds = [graph.constant("starts", [start]), graph.constant("ends", [end])]
    return graph.node("Slice", [value, *bounds, graph.constant("axes", [0])])


def _merge(graph: Graph, Y: str, dirs: int, merge: str) -> str:
    """Y (T, dirs, B, H) -> the layer's output (T, B, dirs*H) for concat, else (T, B, H)."""
    if merge == "concat" and dirs == 2:
        by_step = graph.node("Transpose", [Y], perm=[0, 2, 1, 3])  # (T, B, dirs, H)
        return graph.node("Reshape", [by_step, graph.constant("concat_shape", [0, 0, -1])])
    direction_axis = graph.constant("direction_axis", [1])
    if dirs == 1:
        return graph.node("Squeeze", [Y, direction_axis])
    return graph.node(MERGE_REDUCTIONS[merge], [Y, direction_axis], keepdims=0)


# ----- a bare network as a file -------------------------------------------------------------------
STATE_NAMES = (("h_0", "h_n"), ("c_0", "c_n"))
LENGTHS = "lengths"  # the graph input of the sequence lengths, (B,) int64


def network_graph(network: RecurrentNetwork, lengths: bool, initial_state: bool) -> Graph:
    """The graph of `network` alone, with rnnkit's inputs and outputs:

    input (T, B, D), or (B, T, D) when batch_first; lengths (B,) int64 if `lengths`;
    h_0 (and c_0) (L*dirs, B, H) if `initial_state` -> output (as input, with dirs*H or H
    features), h_n (and c_n) (L*dirs, B, H).
    """
    graph = Graph(f"rnnkit_{type(network).__name__}")
    order = ["batch", "steps"] if network.batch_first else ["steps", "batch"]
    x = graph.input("input", np.float32, [*order, network.input_size])
    sequence_lens = lengths_input(graph) if lengths else None
    initial = state_inputs(graph, network) if initial_state else None
    output, states = add_network(
        graph, network, swap_batch_and_time(graph, x, network.batch_first), sequence_lens, initial
    )
    output = swap_batch_and_time(graph, output, network.batch_first)
    graph.output(output, "output", np.float32, [*order, network.output_size])
    state_outputs(graph, network, states)
    return graph


def swap_batch_and_time(graph: Graph, x: str, swap: bool) -> str:
    """(B, T, ...) <-> (T, B, ...) when `swap`, else x unchanged."""
    return graph.node("Transpose", [x], perm=[1, 0, 2]) if swap else x


def lengths_input(graph: Graph) -> str:
    """Declare the graph input `lengths` (B,) int64; returns it as ONNX's int32 sequence_lens."""
    return sequence_lens(graph, graph.input(LENGTHS, np.int64, ["batch"]))


def sequence_lens(graph: Graph, lengths: str) -> str:
    """int64 lengths (B,) as the int32 sequence_lens of ONNX's recurrent operators."""
    return graph.node("Cast", [lengths], to=graph.onnx.TensorProto.INT32)


def _state_shapes(network: RecurrentNetwork) -> list[list[int | str]]:
    """(L*dirs, B, P) for h (P = H, or an LSTM's proj_size) and (L*dirs, B, H) for c."""
    layers = network.num_layers * network.num_directions
    return [[layers, "batch", features] for features in network.cell().state_features]


def state_inputs(graph: Graph, network: RecurrentNetwork) -> tuple[str, ...]:
    """The graph inputs h_0 (and c_0 for LSTM), each (L*dirs, B, P) (c_0: H)."""
    return tuple(
        graph.input(name, np.float32, shape)
        for (name, _), shape in zip(STATE_NAMES, _state_shapes(network))
    )


def state_outputs(graph: Graph, network: RecurrentNetwork, states: tuple[str, ...]) -> None:
    """Publish the final states as h_n (and c_n), each (L*dirs, B, P) (c_n: H)."""
    for value, (_, name), shape in zip(states, STATE_NAMES, _state_shapes(network)):
        graph.output(value, name, np.float32, shape)
