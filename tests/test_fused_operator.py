"""The fused kernels as torch custom operators (backends/fused/operator.py): torch's own checks of
each op (schema, fake shapes, autograd registration), exact second derivatives through every cell
kind, direction and layer count, and torch.compile of every kind with its options matching eager.
"""

import warnings

import pytest
import torch

import rnnkit
from rnnkit.backends import onednn
from rnnkit.backends.fused import gru, gru_after, lstm, rnn

T, B, H, P = 3, 2, 3, 2  # tiny sizes for the numerical checks; P: an LSTM's projected h

NETWORKS = {
    "lstm": rnnkit.LSTM,
    "gru": rnnkit.GRU,
    "gru-after": lambda *args, **kwargs: rnnkit.GRU(*args, reset="after", **kwargs),
    "rnn": rnnkit.RNN,
    "rnn-relu": lambda *args, **kwargs: rnnkit.RNN(*args, nonlinearity="relu", **kwargs),
}
OPTIONS = {"layer_norm": True, "recurrent_dropout": 0.3, "zoneout": 0.2}
LSTM_OPTIONS = {**OPTIONS, "zoneout_c": 0.2, "proj_size": 2}


def random(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


def op_arguments(with_options: bool) -> dict:
    """Each op with arguments: without options, or with all of them (recurrent dropout's m,
    zoneout's d, layer norm's gains, padding, an LSTM's projection and b_hn)."""
    torch.manual_seed(0)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)[..., None]
    m = torch.tensor([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]], dtype=torch.float64)
    d = torch.rand(T, B, H, dtype=torch.float64)
    options = [mask, m, d] if with_options else [None, None, None]

    def gains(gates: int) -> torch.Tensor | None:
        return random(gates * H) if with_options else None

    common = [random(B, H), random(3 * H, H), *options, gains(3)]
    lstm_extra = [random(H), random(H), random(P, H)] if with_options else [None] * 3
    features = P if with_options else H
    return {
        "lstm": [random(T, B, 4 * H), random(B, features), random(B, H), random(4 * H, features)]
        + (
            [m[:, :P], d[..., :P], torch.rand(T, B, H, dtype=torch.float64)]
            if with_options
            else [None] * 3
        )
        + [gains(4), gains(4), gains(4), *lstm_extra, True],  # γ^x, β^x, γ^h, ...
        "gru": [random(T, B, 3 * H), *common],
        "gru-after": [random(T, B, 3 * H), *common, random(H)],
        "rnn": [random(T, B, H), random(B, H), random(H, H), *options, gains(1), True],
    }


OPS = {"lstm": lstm.op, "gru": gru.op, "gru-after": gru_after.op, "rnn": rnn.op}


@pytest.mark.parametrize("with_options", [False, True])
@pytest.mark.parametrize("kind", sorted(OPS))
def test_torch_checks_the_op(kind, with_options):
    """Schema, fake (meta) shapes against the real outputs, autograd registration, and tracing
    through torch's ahead-of-time autograd."""
    torch.library.opcheck(OPS[kind], op_arguments(with_options)[kind])


@pytest.mark.parametrize("with_options", [False, True])
def test_torch_checks_the_lstm_op_in_inference(with_options):
    """save=False, as a network passes when nothing needs gradients: one step's buffers."""
    arguments = op_arguments(with_options)["lstm"]
    arguments = [x.detach() if isinstance(x, torch.Tensor) else x for x in arguments[:-1]]
    torch.library.opcheck(lstm.op, [*arguments, False])


def test_torch_checks_the_linear_op():
    x, weight, bias = random(4, 2, 3), random(5, 3), random(5)
    torch.library.opcheck(onednn.linear, (x, weight, bias))
    assert torch.autograd.gradgradcheck(onednn.linear, (x, weight, bias))


def network_function(kind: str, bidirectional: bool, num_layers: int, options: dict, lengths=None):
    """(x, h_0, parameters...) -> outputs and final states of a fused network, in float64, the
    same masks at every call (gradgradcheck calls it many times)."""
    torch.manual_seed(0)
    net = NETWORKS[kind](
        2, H, num_layers=num_layers, bidirectional=bidirectional, backend="fused", **options
    ).double()
    names = [name for name, _ in net.named_parameters()]

    def function(x, *tensors):
        torch.manual_seed(1)
        parameters = dict(zip(names, tensors[len(tensors) - len(names) :]))
        hx = tensors[: len(tensors) - len(names)]
        hx = hx if len(hx) == 2 else hx[0]
        output, state = torch.func.functional_call(net, parameters, (x, hx), {"lengths": lengths})
        return (output, *(state if isinstance(state, tuple) else (state,)))

    states = num_layers * (2 if bidirectional else 1)
    hx = [random(states, B, n) for n in net.cells[0].state_features]
    return function, (random(T, B, 2), *hx, *net.parameters())


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", sorted(NETWORKS))
def test_second_derivatives_are_exact(kind, bidirectional, num_layers):
    function, inputs = network_function(kind, bidirectional, num_layers, {})
    assert torch.autograd.gradgradcheck(function, inputs, fast_mode=True)


@pytest.mark.parametrize("kind", sorted(NETWORKS))
def test_second_derivatives_with_options_and_lengths(kind):
    options = LSTM_OPTIONS if kind == "lstm" else OPTIONS
    function, inputs = network_function(kind, True, 1, options, lengths=torch.tensor([3, 1]))
    assert torch.autograd.gradgradcheck(function, inputs, fast_mode=True)


def compiled_and_eager(net, x, fullgraph: bool):
    """Outputs and parameter gradients of one training step, compiled and eager, from the same
    seed (torch's random numbers in compiled code: Inductor's fallback_random)."""
    results = []
    for model in (torch.compile(net, fullgraph=fullgraph), net):
        torch.manual_seed(3)
        output = model(x)[0]
        gradients = torch.autograd.grad((output * output).sum(), list(net.parameters()))
        results.append((output, *gradients))
    return results


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["lstm", "gru", "gru-after", "rnn"])
def test_compiled_training_step_matches_eager_in_one_graph(kind, dtype):
    """Exact in float64 (1e-10); in float32 within 1e-4 of the largest value (seen: up to 2e-5;
    Inductor's own layer norms and sums round otherwise than eager's kernels)."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    options = LSTM_OPTIONS if kind == "lstm" else OPTIONS
    net = NETWORKS[kind](4, 5, num_layers=2, bidirectional=True, backend="fused", **options)
    net.dropout = 0.25  # between layers, drawn outside the ops like every mask
    x = torch.randn(6, 3, 4, dtype=dtype)
    with warnings.catch_warnings(), torch._inductor.config.patch(fallback_random=True):
        warnings.simplefilter("ignore")
        compiled, eager = compiled_and_eager(net.to(dtype), x, fullgraph=True)
    for got, expected in zip(compiled, eager):
        largest = max(1.0, expected.abs().max().item())
        scale = 1e-10 if dtype == torch.float64 else 1e-4 * largest
        torch.testing.assert_close(got, expected, rtol=0, atol=scale)


def test_native_lstm_runs_eagerly_inside_a_compiled_model():
    """torch cannot trace its own LSTM kernel on CPU: a graph break, as for torch.nn.LSTM."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    net = rnnkit.LSTM(4, 5, num_layers=2, backend="native")
    compiled, eager = compiled_and_eager(net, torch.randn(6, 3, 4), fullgraph=False)
    for got, expected in zip(compiled, eager):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
