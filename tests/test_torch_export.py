"""torch.export of rnnkit's networks, where it works today (docs/DEPLOY.md, "torch.export").

native and loop: the exported program computes the network's function, for any batch size; the
number of steps is fixed at export (torch decomposes its own RNN kernels into a loop over the
steps, as for torch.nn.LSTM). fused: its kernels are torch custom operators, kept whole in the
exported program; any batch size (oneDNN's products or not is decided inside the op, at run time).
"""

import warnings

import pytest
import torch
from torch.export import Dim

import rnnkit

NETWORKS = {
    "lstm": lambda backend: rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, backend=backend),
    "gru": lambda backend: rnnkit.GRU(3, 4, num_layers=2, batch_first=True, backend=backend),
    "gru-after": lambda backend: rnnkit.GRU(3, 4, reset="after", backend=backend),
    "rnn": lambda backend: rnnkit.RNN(3, 4, num_layers=2, bidirectional=True, backend=backend),
    # the LSTM op normalising W x_t itself (γ^x, β^x among its inputs)
    "lstm-layer-norm": lambda backend: rnnkit.LSTM(3, 4, layer_norm=True, backend=backend),
}
WORKING = [
    ("lstm", "native"),
    ("lstm", "loop"),
    ("gru", "loop"),
    ("gru-after", "native"),
    ("gru-after", "loop"),
    ("rnn", "native"),
    ("rnn", "loop"),
    ("lstm", "fused"),
    ("gru", "fused"),
    ("gru-after", "fused"),
    ("rnn", "fused"),
    ("lstm-layer-norm", "fused"),
]


def flatten(result) -> list[torch.Tensor]:
    output, state = result
    return [output, *(state if isinstance(state, tuple) else (state,))]


def inputs(network, batch: int, steps: int = 5):
    shape = (batch, steps, 3) if network.batch_first else (steps, batch, 3)
    state_shape = (network.num_layers * network.num_directions, batch, 4)
    states = tuple(torch.randn(state_shape) for _ in range(network.cell_class.state_size))
    return torch.randn(shape), (states if len(states) == 2 else states[0])


def export(network, example, dynamic_shapes=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notes on its own decompositions
        return torch.export.export(network, example, dynamic_shapes=dynamic_shapes)


@pytest.mark.parametrize(("kind", "backend"), WORKING)
def test_exported_network_computes_the_same_for_any_batch(kind, backend):
    torch.manual_seed(0)
    network = NETWORKS[kind](backend).eval()
    x, hx = inputs(network, batch=2)
    batch = Dim("batch")
    hx_dims = tuple({1: batch} for _ in hx) if isinstance(hx, tuple) else {1: batch}
    program = export(
        network, (x, hx), {"input": {int(not network.batch_first): batch}, "hx": hx_dims}
    )
    x, hx = inputs(network, batch=3)  # another batch size than at export
    for got, want in zip(flatten(program.module()(x, hx)), flatten(network(x, hx))):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
