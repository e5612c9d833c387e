"""The fused backend against the loop backend (the reference), and the oneDNN products it uses.

The fused ops (LSTM, GRU reset="before" and "after", vanilla RNN tanh/relu, each with the
cells' options) have their own hand-written backward, so every gradient is compared with autograd
through the loop backend's cell-by-cell graph, in float64 to 1e-10, in training (the same masks:
both backends draw them from the same seed) and in evaluation.
"""

import gc
from functools import partial
from unittest import mock

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import rnnkit
from rnnkit.backends import fused, onednn
from rnnkit.backends.fused import common as fused_common
from rnnkit.backends.fused import cpp as fused_cpp
from rnnkit.backends.fused import gru, gru_after, rnn
from rnnkit.backends.fused import lstm as fused_lstm
from rnnkit.cells import GRUCell
from rnnkit.layout.lengths import step_mask
from strategies import cell_options, network_configurations, network_options, random_input

NETWORKS = {
    "lstm": rnnkit.LSTM,
    "gru": lambda *args, **kwargs: rnnkit.GRU(*args, reset="before", **kwargs),
    "gru-after": lambda *args, **kwargs: rnnkit.GRU(*args, reset="after", **kwargs),
    "rnn": lambda *args, **kwargs: rnnkit.RNN(*args, nonlinearity="tanh", **kwargs),
    "rnn-relu": lambda *args, **kwargs: rnnkit.RNN(*args, nonlinearity="relu", **kwargs),
}

cells_with_options = st.sampled_from(sorted(NETWORKS)).flatmap(
    lambda cell: st.fixed_dictionaries({"cell": st.just(cell), "options": cell_options(cell)})
)
configurations = st.tuples(
    network_configurations(max_size=5, training=st.booleans(), packed=st.booleans()),
    cells_with_options,
).map(lambda parts: {**parts[0], **parts[1]})


def run_both(config, dtype=torch.float64, backends=("fused", "loop")):
    """Outputs, final states and gradients (input, h_0, every parameter) for two backends (fused
    and loop unless told)."""
    torch.manual_seed(config["seed"])
    options = config.get("options", {})
    hidden = max(config["hidden_size"], options.get("proj_size", 0) + 1)  # torch's rule
    net = NETWORKS[config["cell"]](
        config["input_size"], hidden, **network_options(config), **options
    ).to(dtype)
    net.train(config.get("training", True))
    x, lengths = random_input(config, dtype)
    states = net.num_layers * net.num_directions
    hx = tuple(
        torch.randn(states, config["batch"], features, dtype=dtype, requires_grad=True)
        for features in net.cells[0].state_features
    )
    results = {}
    for backend in backends:
        net.backend = backend
        torch.manual_seed(config["seed"] + 1)  # the same masks for both backends
        output, state = run(net, x, hx if config["with_hx"] else None, lengths, config)
        state = state if isinstance(state, tuple) else (state,)
        loss = sum((t * probe(t, k)).sum() for k, t in enumerate((output, *state)))
        inputs = [x, *net.parameters()] + (list(hx) if config["with_hx"] else [])
        results[backend] = (output, *state, *torch.autograd.grad(loss, inputs))
    return tuple(results[backend] for backend in backends)


def run(net, x, hx, lengths, config):
    """The network on x, with lengths= or, for a packed configuration, as a PackedSequence (the
    output is then its packed data)."""
    hx = None if hx is None else (hx if len(hx) == 2 else hx[0])
    if lengths is None or not config.get("packed"):
        return net(x, hx, lengths=lengths)
    packed = pack_padded_sequence(
        x, lengths, batch_first=config["batch_first"], enforce_sorted=False
    )
    output, state = net(packed, hx)
    assert isinstance(output, PackedSequence)
    return output.data, state


def probe(tensor, k):
    """A fixed random weighting of `tensor` for the loss (the same for both backends)."""
    generator = torch.Generator().manual_seed(k)
    return torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)


@settings(max_examples=80, deadline=None)
@given(configurations)
def test_fused_equals_loop_in_float64(config):
    fast, reference = run_both(config)
    assert len(fast) == len(reference)
    for got, expected in zip(fast, reference):
        # 1e-10 absolute, or relative where a value is large: through layer norm over one unit
        # (1/std = 1/sqrt(eps)) gradients reach 4e7, where float64 keeps 1e-14 of them
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


# The stacks torch's kernels compute with weight dropout: U masked once per call (and the LSTM's
# projection), in training.
native_with_weight_dropout = st.tuples(
    network_configurations(max_size=5, training=st.just(True), packed=st.booleans()),
    st.sampled_from(["lstm", "gru-after", "rnn", "rnn-relu"]).flatmap(
        lambda cell: st.fixed_dictionaries(
            {
                "cell": st.just(cell),
                "options": st.fixed_dictionaries(
                    {"weight_dropout": st.sampled_from([0.2, 0.5])},
                    optional={"proj_size": st.integers(1, 3)} if cell == "lstm" else {},
                ),
            }
        )
    ),
).map(lambda parts: {**parts[0], **parts[1]})


@settings(max_examples=40, deadline=None)
@given(native_with_weight_dropout)
def test_torchs_kernel_on_the_masked_U_equals_loop_in_float64(config):
    fast, reference = run_both(config, backends=("native", "loop"))
    for got, expected in zip(fast, reference, strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_weight_dropout_trains_on_torchs_kernel_unless_dropout_comes_between_layers():
    assert rnnkit.LSTM(2, 3, weight_dropout=0.5).backend == "native"
    assert rnnkit.LSTM(2, 3, num_layers=2, weight_dropout=0.5).backend == "native"
    # torch's kernel would draw its dropout after every layer's M: another order than the others
    stacked = rnnkit.LSTM(2, 3, num_layers=2, dropout=0.1, weight_dropout=0.5)
    assert stacked.available_backends() == ["fused", "loop"]
    assert stacked.eval().backend == "native"


@pytest.mark.parametrize("cell", sorted(NETWORKS))
@pytest.mark.parametrize("options", [{}, {"layer_norm": True, "zoneout": 0.3}])
def test_fused_equals_loop_in_float32_with_either_product(cell, options):
    config = dict(
        cell=cell,
        options=options,
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
        with (
            mock.patch.object(onednn, "prepare", prepare),
            mock.patch.object(onednn, "MIN_ROWS", 0),
        ):
            fast, reference = run_both(config, torch.float32)
        for got, expected in zip(fast, reference):
            # float32 sums in another order: errors scale with the tensor (a relu network's
            # gradients reach tens), so a near-cancelled element is judged against its peers
            scale = max(1.0, expected.abs().max().item())
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * scale)


def test_padding_keeps_state_and_zeroes_outputs():
    torch.manual_seed(0)
    net = rnnkit.GRU(3, 4).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    output, h_n = net(x, lengths=torch.tensor([2, 5]))
    alone, h_alone = net(x[:2, :1])  # the first sequence on its own, without its padding
    assert output[2:, 0].abs().max() == 0
    torch.testing.assert_close(output[:2, :1], alone, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_n[:, :1], h_alone, rtol=0, atol=1e-12)


T, B, H, P = 3, 2, 3, 2  # gradcheck's small sizes; P: an LSTM's projected h


def random(*shape: int, grad: bool = True) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, requires_grad=grad)


def recurrent_options(with_options: bool, gates: int, features: int = H) -> list:
    """An op's m (recurrent dropout mask), d (zoneout, any weight in [0, 1] as in evaluation)
    and γ^h (layer norm gains): None each, or fixed values."""
    if not with_options:
        return [None, None, None]
    m = torch.tensor([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]], dtype=torch.float64)[:, :features]
    d = torch.rand(T, B, features, dtype=torch.float64)
    return [m, d, random(gates * H)]


def states_of(op, states: int = 1):
    """The op as gradcheck takes it: its states (S, and C for the LSTM) as a tuple."""
    return lambda *arguments: tuple(op(*arguments)[:states])


def padding(with_mask: bool) -> torch.Tensor | None:
    return step_mask(torch.tensor([3, 1]), T).double() if with_mask else None


@pytest.mark.parametrize("with_options", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
def test_gradcheck_lstm(with_mask, with_options):
    torch.manual_seed(1)
    features = P if with_options else H
    m, d, gamma_h = recurrent_options(with_options, 4, features)
    d_c = torch.rand(T, B, H, dtype=torch.float64) if with_options else None
    if with_mask:  # the scan gives the op d = 1 on padded steps
        inside = padding(True)
        d = 1 - inside if d is None else torch.where(inside.bool(), d, 1.0)
        d_c = 1 - inside if d_c is None else torch.where(inside.bool(), d_c, 1.0)
    norm_x = [random(4 * H), random(4 * H)] if with_options else [None] * 2  # γ^x, β^x
    extra = [random(H), random(H), random(P, H)] if with_options else [None] * 3
    arguments = [random(T, B, 4 * H), random(B, features), random(B, H), random(4 * H, features)]
    arguments += [m, d, d_c, *norm_x, gamma_h, *extra, True]
    assert torch.autograd.gradcheck(states_of(fused_lstm.op, 2), arguments)


@pytest.mark.parametrize("with_options", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
def test_gradcheck_gru(with_mask, with_options):
    torch.manual_seed(1)
    arguments = [random(T, B, 3 * H), random(B, H), random(3 * H, H), padding(with_mask)]
    arguments += recurrent_options(with_options, 3)
    assert torch.autograd.gradcheck(states_of(gru.op), arguments)


@pytest.mark.parametrize("with_options", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
def test_gradcheck_gru_after(with_mask, with_options):
    torch.manual_seed(1)
    arguments = [random(T, B, 3 * H), random(B, H), random(3 * H, H), padding(with_mask)]
    arguments += [*recurrent_options(with_options, 3), random(H)]
    assert torch.autograd.gradcheck(states_of(gru_after.op), arguments)


@pytest.mark.parametrize("with_options", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("relu", [False, True])
def test_gradcheck_rnn(with_mask, relu, with_options):
    torch.manual_seed(1)
    arguments = [random(T, B, H), random(B, H), random(H, H), padding(with_mask)]
    arguments += [*recurrent_options(with_options, 1), relu]
    assert torch.autograd.gradcheck(states_of(rnn.op), arguments)


@pytest.mark.parametrize(
    "make",
    [
        lambda: rnnkit.GRU(4, 8, num_layers=2),
        # the LSTM op normalises W x_t itself: under autocast, in bf16 too
        lambda: rnnkit.LSTM(4, 8, num_layers=2, layer_norm=True, backend="fused"),
    ],
)
def test_autocast_runs_in_the_low_precision_dtype(make):
    torch.manual_seed(2)
    net = make()
    x = torch.randn(6, 3, 4)
    expected, _ = net(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, state = net(x)
    h_n = state[0] if isinstance(state, tuple) else state
    assert output.dtype == h_n.dtype == torch.bfloat16
    torch.testing.assert_close(output.float(), expected, rtol=0, atol=0.05)
    output.float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in net.parameters())


def test_available_backends():
    assert rnnkit.GRU(2, 3).available_backends() == ["fused", "loop"]
    assert rnnkit.GRU(2, 3).backend == "fused"
    assert "fused" in rnnkit.RNN(2, 3, nonlinearity="relu").available_backends()
    assert "fused" in rnnkit.GRU(2, 3, reset="after").available_backends()
    assert rnnkit.LSTM(2, 3).available_backends() == ["native", "fused", "loop"]
    assert rnnkit.LSTM(2, 3, layer_norm=True).available_backends() == ["fused", "loop"]

    class Custom(GRUCell):  # a subclass may change the step: only the loop is exact for it
        pass

    assert not fused.supports(Custom(2, 3))
    identity = rnnkit.RNNCell(2, 3, nonlinearity="identity")
    with pytest.raises(ValueError, match="fused backend"):
        fused.scan(identity, torch.zeros(1, 1, 2), (torch.zeros(1, 3),))


def test_padded_steps_keep_the_state_with_zoneout_in_evaluation():
    """d = p in evaluation would mix a padded step's garbage into the state; it must not."""
    torch.manual_seed(7)
    for network in (rnnkit.LSTM(3, 4, zoneout=0.3, zoneout_c=0.2), rnnkit.RNN(3, 4, zoneout=0.3)):
        network.double().eval()
        x = torch.randn(5, 2, 3, dtype=torch.float64)
        _, state = network(x, lengths=torch.tensor([2, 5]))
        _, alone = network(x[:2, :1])
        for got, want in zip(*(s if isinstance(s, tuple) else (s,) for s in (state, alone))):
            torch.testing.assert_close(got[:, :1], want, rtol=0, atol=1e-12)


# ----- the oneDNN products -----------------------------------------------------------------------


def test_onednn_product_matches_matmul():
    if not onednn.onednn_works():
        pytest.skip("oneDNN's linear does not run on this build of torch")
    torch.manual_seed(4)
    for B, K, N in [(1, 1, 1), (3, 7, 5), (64, 48, 96)]:
        x, weight, add = torch.randn(B, K), torch.randn(N, K), torch.randn(B, N)
        product = onednn.onednn_product(weight, B, min_macs=0)
        torch.testing.assert_close(product(x), x @ weight.T, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(product(x, add), x @ weight.T + add, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_is_a_differentiable_product(with_bias):
    """The input projection through `prepare`'s products, against torch's linear."""
    torch.manual_seed(8)
    x = torch.randn(4, 3, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(5, dtype=torch.float64, requires_grad=True) if with_bias else None
    assert torch.autograd.gradcheck(onednn.linear, (x, weight, bias))
    if not onednn.onednn_works():
        return
    x32, weight32 = x.detach().float().requires_grad_(), weight.detach().float().requires_grad_()
    every_size = partial(onednn.onednn_product, min_macs=0)
    with mock.patch.object(onednn, "prepare", every_size), mock.patch.object(onednn, "MIN_ROWS", 0):
        got = onednn.linear(x32, weight32, None if bias is None else bias.detach().float())
        got.sum().backward()
    expected = torch.nn.functional.linear(x.detach(), weight.detach(), bias)
    torch.testing.assert_close(got.double(), expected.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x32.grad.double(), weight.detach().sum(0).expand(4, 3, 6))


@pytest.mark.skipif(fused_cpp.ops() is None, reason="rnnkit's C++ kernels did not build here")
@pytest.mark.parametrize("with_bias", [True, False])
def test_a_large_input_product_reuses_its_buffer_once_free(with_bias):
    """linear's product on matmul's path (fused/cpp/linear.cpp): an output over buffers.h's 1 MB
    floor (4,096 x 520 floats) comes back at a later call once no tensor holds it, never while
    one does (a view included), each time with the right values and gradients."""
    torch.manual_seed(9)
    x = torch.randn(64, 64, 16, requires_grad=True)
    weight = torch.randn(520, 16, requires_grad=True)
    bias = torch.randn(520, requires_grad=True) if with_bias else None
    expected = torch.nn.functional.linear(x, weight, bias)
    with mock.patch.object(onednn, "MIN_ROWS", 1 << 30):  # matmul's path on any CPU
        first = onednn.linear(x, weight, bias)
        view = first[1:]
        address = first.data_ptr()
        del first
        held = onednn.linear(x, weight, bias)  # while `view` holds the first buffer
        assert held.data_ptr() != address
        torch.testing.assert_close(view, expected[1:], rtol=0, atol=0)
        del view, held
        again = onednn.linear(x, weight, bias)
        assert again.data_ptr() == address
        again.backward(torch.ones_like(again))
    torch.testing.assert_close(again, expected, rtol=0, atol=0)
    torch.testing.assert_close(x.grad, weight.detach().sum(0).expand(64, 64, 16))
    torch.testing.assert_close(
        weight.grad, x.detach().sum((0, 1)).expand(520, 16), rtol=1e-4, atol=0
    )
    if with_bias:
        torch.testing.assert_close(bias.grad, torch.full((520,), 64.0 * 64))


def test_small_products_go_to_matmul():
    weight = torch.randn(8, 4)
    assert onednn.onednn_product(weight, 2).func is onednn.matmul_linear
    if onednn.onednn_works():
        assert onednn.onednn_product(weight, 2, min_macs=0).func is onednn.onednn_linear


@pytest.mark.parametrize("vendor", ["AuthenticAMD", ""])
def test_one_product_goes_to_onednn_from_min_rows(vendor):
    """The input projection pays oneDNN's weight reorder at every call: matmul below MIN_ROWS."""
    weight = torch.randn(8, 4)
    spy = mock.Mock(wraps=onednn.matmul_product)
    rows = onednn.min_rows(vendor)
    with mock.patch.object(onednn, "prepare", spy), mock.patch.object(onednn, "MIN_ROWS", rows):
        onednn.linear(torch.randn(rows - 1, 4), weight)
        assert spy.call_count == 0
        result = onednn.linear(torch.randn(2, rows // 2, 4), weight)
    assert spy.call_count == 1 and spy.call_args.args[1] == rows
    assert result.shape == (2, rows // 2, 8)


def test_on_intel_one_product_stays_on_matmul():
    """MKL, Intel's own GEMM, beat oneDNN at every size measured on an Intel CPU."""
    spy = mock.Mock(wraps=onednn.matmul_product)
    rows = onednn.min_rows("GenuineIntel")
    with mock.patch.object(onednn, "prepare", spy), mock.patch.object(onednn, "MIN_ROWS", rows):
        onednn.linear(torch.randn(64 * 1024, 4), torch.randn(8, 4))
    assert spy.call_count == 0


def test_onednn_product_hands_other_dtypes_to_matmul():
    torch.manual_seed(5)
    x, weight = torch.randn(3, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    result = onednn.onednn_product(weight, 3)(x)
    assert result.dtype == torch.float64
    torch.testing.assert_close(result, x @ weight.T, rtol=0, atol=1e-12)


def test_matmul_fallback_and_the_choice():
    torch.manual_seed(6)
    x, weight, add = torch.randn(3, 4), torch.randn(6, 4), torch.randn(3, 6)
    torch.testing.assert_close(onednn.matmul_product(weight, 3)(x), x @ weight.T)
    torch.testing.assert_close(onednn.matmul_product(weight, 3)(x, add), x @ weight.T + add)
    assert onednn.choose(False) is onednn.matmul_product
    assert onednn.choose(True) is onednn.onednn_product
    assert onednn.prepare is onednn.choose(onednn.onednn_works())


def test_onednn_check_fails_cleanly_without_the_op():
    missing = mock.Mock(side_effect=RuntimeError("no such op"))
    with mock.patch.object(torch.ops.mkldnn, "_reorder_linear_weight", missing, create=True):
        assert onednn.onednn_works() is False
    with mock.patch.object(torch.backends.mkldnn, "is_available", return_value=False):
        assert onednn.onednn_works() is False


def test_the_garbage_collector_is_paused_only_inside_the_loops():
    seen = []
    real = fused_common.per_step

    def watching(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    # the Python loop, forward and backward (where the C++ ones are built, bf16 and CUDA's)
    net = rnnkit.GRU(2, 3, backend="fused")
    with (
        mock.patch.object(fused_cpp, "runs", return_value=False),
        mock.patch.object(gru, "per_step", watching),
    ):
        net(torch.randn(4, 1, 2))[0].sum().backward()
        assert seen == [False, False] and gc.isenabled()  # off in forward and backward, then on
        gc.disable()
        try:
            net(torch.randn(4, 1, 2))[0].sum().backward()
            assert not gc.isenabled()  # the caller's choice stands
        finally:
            gc.enable()
