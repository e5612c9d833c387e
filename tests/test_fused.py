"""The fused backend against the loop backend (the reference), and the oneDNN products it uses.

The fused Functions (GRU reset="before", vanilla RNN tanh/relu) have their own hand-written
backward, so every gradient is compared with autograd through the loop backend's cell-by-cell
graph, in float64 to 1e-10.
"""

from functools import partial
from unittest import mock

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit.backends import fused, onednn
from rnnkit.backends.fused.gru import GRUBeforeFunction
from rnnkit.backends.fused.gru_after import GRUAfterFunction
from rnnkit.backends.fused.rnn import RNNFunction
from rnnkit.cells import GRUCell
from rnnkit.layout.lengths import step_mask
from strategies import network_configurations, network_options, random_input

NETWORKS = {
    "gru": lambda *args, **kwargs: rnnkit.GRU(*args, reset="before", **kwargs),
    "gru-after": lambda *args, **kwargs: rnnkit.GRU(*args, reset="after", **kwargs),
    "rnn": lambda *args, **kwargs: rnnkit.RNN(*args, nonlinearity="tanh", **kwargs),
    "rnn-relu": lambda *args, **kwargs: rnnkit.RNN(*args, nonlinearity="relu", **kwargs),
}


configurations = network_configurations(max_size=5, cell=st.sampled_from(sorted(NETWORKS)))


def run_both(config, dtype=torch.float64):
    """Outputs, final states and gradients (input, h_0, every parameter) for fused and loop."""
    torch.manual_seed(config["seed"])
    net = NETWORKS[config["cell"]](
        config["input_size"], config["hidden_size"], **network_options(config)
    ).to(dtype)
    x, lengths = random_input(config, dtype)
    states, B = net.num_layers * net.num_directions, config["batch"]
    hx = torch.randn(states, B, config["hidden_size"], dtype=dtype, requires_grad=True)
    probe_out = torch.randn(*x.shape[:2], net.output_size, dtype=dtype)
    probe_h = torch.randn(states, B, config["hidden_size"], dtype=dtype)
    results = {}
    for backend in ("fused", "loop"):
        net.backend = backend
        output, h_n = net(x, hx if config["with_hx"] else None, lengths=lengths)
        loss = (output * probe_out).sum() + (h_n * probe_h).sum()
        inputs = [x, *net.parameters()] + ([hx] if config["with_hx"] else [])
        results[backend] = (output, h_n, *torch.autograd.grad(loss, inputs))
    return results["fused"], results["loop"]


@settings(max_examples=40, deadline=None)
@given(configurations)
def test_fused_equals_loop_in_float64(config):
    fast, reference = run_both(config)
    assert len(fast) == len(reference)
    for got, expected in zip(fast, reference):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("cell", sorted(NETWORKS))
def test_fused_equals_loop_in_float32_with_either_product(cell):
    config = dict(
        cell=cell,
        num_layers=2,
        bidirectional=True,
        batch_first=False,
        bias=True,
        with_hx=True,
        with_lengths=True,
        steps=7,
        batch=5,
        input_size=6,
        hidden_size=8,
        seed=3,
    )
    every_size_to_onednn = partial(onednn.onednn_product, min_macs=0)
    for prepare in (every_size_to_onednn, onednn.matmul_product):
        with mock.patch.object(onednn, "prepare", prepare):
            fast, reference = run_both(config, torch.float32)
        for got, expected in zip(fast, reference):
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_padding_keeps_state_and_zeroes_outputs():
    torch.manual_seed(0)
    net = rnnkit.GRU(3, 4).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    output, h_n = net(x, lengths=torch.tensor([2, 5]))
    alone, h_alone = net(x[:2, :1])  # the first sequence on its own, without its padding
    assert output[2:, 0].abs().max() == 0
    torch.testing.assert_close(output[:2, :1], alone, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_n[:, :1], h_alone, rtol=0, atol=1e-12)


def gradcheck_arguments(gates: int, with_mask: bool) -> list:
    torch.manual_seed(1)
    T, B, D, H = 3, 2, 2, 3
    return [
        torch.randn(T, B, D, dtype=torch.float64, requires_grad=True),
        torch.randn(B, H, dtype=torch.float64, requires_grad=True),
        torch.randn(gates * H, D, dtype=torch.float64, requires_grad=True),
        torch.randn(gates * H, H, dtype=torch.float64, requires_grad=True),
        torch.randn(gates * H, dtype=torch.float64, requires_grad=True),
        step_mask(torch.tensor([3, 1]), T).double() if with_mask else None,
    ]


@pytest.mark.parametrize("with_mask", [False, True])
def test_gradcheck_gru(with_mask):
    assert torch.autograd.gradcheck(GRUBeforeFunction.apply, gradcheck_arguments(3, with_mask))


@pytest.mark.parametrize("with_mask", [False, True])
def test_gradcheck_gru_after(with_mask):
    b_hn = torch.randn(3, dtype=torch.float64, requires_grad=True)
    arguments = [*gradcheck_arguments(3, with_mask), b_hn]
    assert torch.autograd.gradcheck(GRUAfterFunction.apply, arguments)


@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("relu", [False, True])
def test_gradcheck_rnn(with_mask, relu):
    arguments = [*gradcheck_arguments(1, with_mask), relu]
    assert torch.autograd.gradcheck(RNNFunction.apply, arguments)


def test_autocast_runs_in_the_low_precision_dtype():
    torch.manual_seed(2)
    net = rnnkit.GRU(4, 8, num_layers=2)
    x = torch.randn(6, 3, 4)
    expected, _ = net(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, h_n = net(x)
    assert output.dtype == h_n.dtype == torch.bfloat16
    torch.testing.assert_close(output.float(), expected, rtol=0, atol=0.05)
    output.float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in net.parameters())


def test_available_backends():
    assert rnnkit.GRU(2, 3).available_backends() == ["fused", "loop"]
    assert rnnkit.GRU(2, 3).backend == "fused"
    assert "fused" in rnnkit.RNN(2, 3, nonlinearity="relu").available_backends()
    assert "fused" in rnnkit.GRU(2, 3, reset="after").available_backends()
    assert "fused" not in rnnkit.LSTM(2, 3).available_backends()

    class Custom(GRUCell):  # a subclass may change the step: only the loop is exact for it
        pass

    assert not fused.supports(Custom(2, 3))
    with pytest.raises(ValueError, match="fused backend"):
        fused.scan(rnnkit.LSTMCell(2, 3), torch.zeros(1, 1, 2), (torch.zeros(1, 3),) * 2)


# ----- the oneDNN products -----------------------------------------------------------------------


def test_onednn_product_matches_matmul():
    if not onednn.onednn_works():
        pytest.skip("oneDNN's linear does not run on this build of torch")
    torch.manual_seed(4)
    for B, K, N in [(1, 1, 1), (3, 7, 5), (64, 48, 96)]:
        x, weight = torch.randn(B, K), torch.randn(N, K)
        product = onednn.onednn_product(weight, B, min_macs=0)
        torch.testing.assert_close(product(x), x @ weight.T, rtol=1e-5, atol=1e-5)


def test_small_products_go_to_matmul():
    weight = torch.randn(8, 4)
    assert onednn.onednn_product(weight, 2).func is onednn.matmul_linear
    if onednn.onednn_works():
        assert onednn.onednn_product(weight, 2, min_macs=0).func is onednn.onednn_linear


def test_onednn_product_hands_other_dtypes_to_matmul():
    torch.manual_seed(5)
    x, weight = torch.randn(3, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    result = onednn.onednn_product(weight, 3)(x)
    assert result.dtype == torch.float64
    torch.testing.assert_close(result, x @ weight.T, rtol=0, atol=1e-12)


def test_matmul_fallback_and_the_choice():
    torch.manual_seed(6)
    x, weight = torch.randn(3, 4), torch.randn(6, 4)
    torch.testing.assert_close(onednn.matmul_product(weight, 3)(x), x @ weight.T)
    assert onednn.choose(False) is onednn.matmul_product
    assert onednn.choose(True) is onednn.onednn_product
    assert onednn.prepare is onednn.choose(onednn.onednn_works())


def test_onednn_check_fails_cleanly_without_the_op():
    missing = mock.Mock(side_effect=RuntimeError("no such op"))
    with mock.patch.object(torch.ops.mkldnn, "_reorder_linear_weight", missing, create=True):
        assert onednn.onednn_works() is False
    with mock.patch.object(torch.backends.mkldnn, "is_available", return_value=False):
        assert onednn.onednn_works() is False
