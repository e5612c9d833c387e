"""The layers' choice of backend: what each backend says it computes, and the pick per mode."""

import pytest
import torch

import rnnkit
from rnnkit.backends import StackSettings, native
from rnnkit.backends.fused import cpp as fused_cpp
from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.layers import backend_choice


def settings(**changes) -> StackSettings:
    one_layer = dict(
        num_layers=1, bidirectional=False, merge="concat", bias=True, dropout=0.0, training=True
    )
    return StackSettings(**{**one_layer, **changes})


# GRU(reset="after") and the RNN infer on fused where its C++ loops run, else on torch's kernel
CPP_OR_NATIVE = "native" if fused_cpp.ops() is None else "fused"


@pytest.mark.parametrize(
    ("network", "train", "infer"),
    [
        (rnnkit.LSTM(2, 3), "native", "native"),
        (rnnkit.GRU(2, 3), "fused", "fused"),  # the lecture's GRU: no torch kernel
        (rnnkit.GRU(2, 3, reset="after"), "fused", CPP_OR_NATIVE),
        (rnnkit.RNN(2, 3, nonlinearity="relu"), "fused", CPP_OR_NATIVE),
        (rnnkit.GRU(2, 3, bidirectional=True, merge="sum"), "fused", "fused"),
        (rnnkit.LSTM(2, 3, layer_norm=True), "fused", "fused"),  # no torch kernel has LN
        (rnnkit.LSTM(2, 3, zoneout=0.1), "fused", "fused"),
        (rnnkit.LSTM(2, 3, weight_dropout=0.2), "native", "native"),  # on M * U
        (rnnkit.GRU(2, 3, reset="after", layer_norm=True), "fused", "fused"),
    ],
)
def test_automatic_picks_per_mode(network, train, infer):
    assert network.automatic_backend(training=True) == train
    assert network.automatic_backend(training=False) == infer
    network.eval()
    assert network.backend == infer
    network.train()
    with torch.no_grad():
        assert network.backend == infer  # no gradients: nothing is trained
    assert network.backend == train


@pytest.mark.skipif(fused_cpp.ops() is None, reason="the C++ loop did not build here")
@pytest.mark.parametrize("options", [{}, {"weight_dropout": 0.2}])
def test_a_projection_runs_fused_with_the_cpp_loop(options):
    # torch.nn.LSTM's projection runs outside oneDNN: slower than fused's C++ loop on CPU
    network = rnnkit.LSTM(2, 3, proj_size=2, **options)
    assert network.automatic_backend(training=True) == "fused"
    assert network.automatic_backend(training=False) == "fused"
    assert rnnkit.LSTM(2, 3, proj_size=2, dtype=torch.bfloat16).automatic_backend(False) == "native"


@pytest.mark.skipif(fused_cpp.ops() is None, reason="the C++ loop did not build here")
@pytest.mark.parametrize("options", [{}, {"weight_dropout": 0.2}])
def test_a_wide_plain_lstm_trains_on_fused_and_infers_on_torchs_kernel(options):
    units = backend_choice.FUSED_LSTM_UNITS
    network = rnnkit.LSTM(2, units, num_layers=2, **options)
    assert network.automatic_backend(training=True) == "fused"
    assert network.automatic_backend(training=False) == "native"
    assert network.backend == "fused"
    with torch.no_grad():
        assert network.backend == "native"
    assert network.eval().backend == "native"
    network.train()
    narrower = rnnkit.LSTM(2, units - 1, **options)
    assert narrower.automatic_backend(training=True) == "native"
    with torch.autocast("cpu", dtype=torch.bfloat16):  # fused would run its Python loop in bf16
        assert network.automatic_backend(training=True) == "native"
    assert network.double().automatic_backend(training=True) == "fused"
    assert network.bfloat16().automatic_backend(training=True) == "native"


def test_a_wide_plain_lstm_trains_on_torchs_kernel_without_cpp(monkeypatch):
    monkeypatch.setattr(fused_cpp, "ops", lambda: None)  # the C++ loops did not build
    network = rnnkit.LSTM(2, backend_choice.FUSED_LSTM_UNITS)
    assert network.automatic_backend(training=True) == "native"


@pytest.mark.parametrize(
    "network",
    [rnnkit.LSTM(2, 3, proj_size=2), rnnkit.GRU(2, 3, reset="after"), rnnkit.RNN(2, 3)],
)
def test_torchs_kernels_infer_without_cpp(network, monkeypatch):
    monkeypatch.setattr(fused_cpp, "ops", lambda: None)  # the C++ loops did not build
    assert network.automatic_backend(training=True) == "fused"
    assert network.automatic_backend(training=False) == "native"


@pytest.mark.skipif(fused_cpp.ops() is None, reason="the C++ loops did not build here")
def test_a_gru_after_and_an_rnn_infer_on_fused_with_the_cpp_loops():
    for network in (rnnkit.GRU(2, 3, reset="after"), rnnkit.RNN(2, 3)):
        assert network.automatic_backend(training=False) == "fused"
        half = type(network)(2, 3, dtype=torch.bfloat16, **network.cell_options)
        assert half.automatic_backend(training=False) == "native"  # the Python loop's dtype


def test_native_runs_only_what_torch_computes():
    assert native.supports([LSTMCell(2, 3)], settings())
    assert native.supports([GRUCell(2, 3, reset="after")], settings())
    assert not native.supports([GRUCell(2, 3)], settings())  # reset before U_h
    assert not native.supports([RNNCell(2, 3, nonlinearity="identity")], settings())
    assert not native.supports([LSTMCell(2, 3)] * 2, settings(bidirectional=True, merge="sum"))
    assert not native.supports([LSTMCell(2, 3), RNNCell(3, 3)], settings(num_layers=2))


def test_cell_subclasses_run_on_the_loop_only():
    class Custom(LSTMCell):  # may change the step: only the loop runs a changed step exactly
        pass

    class CustomLSTM(rnnkit.LSTM):
        cell_class = Custom

    network = CustomLSTM(2, 3)
    assert network.available_backends() == ["loop"]
    assert backend_choice.available(network.cells, network.stack_settings()) == ["loop"]
    with pytest.raises(ValueError, match="available: \\['loop'\\]"):
        network.backend = "native"


def test_stack_settings_follow_the_network():
    network = rnnkit.GRU(2, 3, num_layers=2, dropout=0.5, bidirectional=True, bias=False)
    assert network.stack_settings() == settings(
        num_layers=2, bidirectional=True, bias=False, dropout=0.5, training=True
    )
    assert network.eval().stack_settings().training is False


def test_an_identity_rnn_never_runs_on_a_kernel_that_computes_tanh():
    network = rnnkit.RNN(3, 4, nonlinearity="identity")
    assert network.available_backends() == ["loop"]
    x = torch.randn(5, 2, 3)
    expected = torch.stack([h for h in _identity_states(network, x)])
    torch.testing.assert_close(network(x)[0], expected)


def _identity_states(network, x):
    """h_t = W x_t + U h_{t-1} + b, by hand."""
    cell = network.cell(0)
    h = torch.zeros(x.shape[1], 4)
    for x_t in x:
        h = x_t @ cell.weight_ih.T + h @ cell.weight_hh.T + cell.bias
        yield h


def test_dropout_options_leave_torchs_kernels_only_while_training():
    network = rnnkit.LSTM(2, 3, recurrent_dropout=0.2, weight_dropout=0.3)
    assert network.available_backends() == ["fused", "loop"]
    assert network.backend == "fused"
    with torch.no_grad():  # still in training mode: the masks apply, so still no torch kernel
        assert network.backend == "fused"
    network.eval()  # the masks' expectation: the plain LSTM
    assert network.available_backends() == ["native", "fused", "loop"]
    assert network.backend == "native"


def test_native_takes_no_option_torch_lacks():
    assert native.supports([LSTMCell(2, 3, proj_size=2)], settings())
    assert not native.supports([LSTMCell(2, 3, layer_norm=True)], settings())
    assert not native.supports(
        [GRUCell(2, 3, reset="after", zoneout=0.1)], settings(training=False)
    )
    assert not native.supports([RNNCell(2, 3, input_dropout=0.1)], settings())
    assert native.supports([RNNCell(2, 3, input_dropout=0.1)], settings(training=False))
