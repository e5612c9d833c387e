"""backends/flat_weights.py: the kernel's weights as views into one buffer, in torch's order."""

import pytest
import torch

import rnnkit
from rnnkit.backends import flat_weights, native
from rnnkit.layout.torch_weights import torch_weights


def networks():
    return [
        rnnkit.LSTM(3, 5, num_layers=2, bidirectional=True),
        rnnkit.LSTM(3, 5, num_layers=2, proj_size=2),
        rnnkit.RNN(3, 5, num_layers=2, nonlinearity="relu", bidirectional=True),
        rnnkit.LSTM(3, 5, bias=False),
    ]


def flatten(network):
    kernel = native.kernel_name(network.cells[0])
    return flat_weights.flatten(network.cells, kernel, network.num_layers, network.bidirectional)


@pytest.mark.parametrize("network", networks(), ids=repr)
def test_the_layout_is_torchs_flat_weights_and_every_weight_a_view_of_it(network):
    """The order, shapes and values torch.nn.LSTM / RNN give their kernel (_flat_weights)."""
    twin = network.to_torch()
    expected = [w.detach().clone() for cell in network.cells for w in torch_weights(cell)]
    flat = flatten(network)
    assert [tuple(w.shape) for w in flat.weights] == [tuple(w.shape) for w in twin._flat_weights]
    for got, want in zip(flat.weights, expected):
        assert torch.equal(got, want)
    assert flat.buffer.numel() == sum(w.numel() for w in flat.weights)
    storage = flat.buffer.untyped_storage().data_ptr()
    assert all(w.untyped_storage().data_ptr() == storage for w in flat.weights)
    assert flat.holds(network.cells)


def test_the_kernel_on_the_views_computes_torchs_function():
    network = rnnkit.LSTM(3, 5, num_layers=2, bidirectional=True)
    twin = network.to_torch()
    flat = flatten(network)
    x = torch.randn(6, 2, 3)
    zeros = torch.zeros(4, 2, 5)
    got = torch._VF.lstm(x, (zeros, zeros), flat.weights, True, 2, 0.0, False, True, False)
    torch.testing.assert_close(got[0], twin(x)[0])


def test_writing_a_parameter_writes_the_buffer():
    network = rnnkit.LSTM(3, 5)
    flat = flatten(network)
    with torch.no_grad():
        network.cells[0].weight_hh.add_(1.0)
    assert torch.equal(flat.weights[1], network.cells[0].weight_hh)
    start = network.cells[0].weight_ih.numel()
    assert torch.equal(flat.buffer[start : start + 100].view(20, 5), network.cells[0].weight_hh)


def test_torchs_second_bias_stays_zero_and_untrained():
    network = rnnkit.RNN(3, 5)
    flat = flatten(network)
    b_hh = flat.weights[3]
    assert not b_hh.requires_grad and torch.all(b_hh == 0)


def test_a_replaced_parameter_is_no_longer_held():
    network = rnnkit.LSTM(3, 5)
    flat = flatten(network)
    network.cells[0].weight_ih = torch.nn.Parameter(network.cells[0].weight_ih.detach().clone())
    assert not flat.holds(network.cells)


def test_what_cannot_be_flattened():
    gru = rnnkit.GRU(3, 5, reset="after")  # its z rows are negated on every call
    assert not flat_weights.can_flatten(gru.cells, native.kernel_name(gru.cells[0]))
    meta = rnnkit.LSTM(3, 5, device="meta")
    assert not flat_weights.can_flatten(meta.cells, "lstm")
    mixed = rnnkit.LSTM(3, 5)
    mixed.cells[0].bias.data = mixed.cells[0].bias.data.double()
    assert not flat_weights.can_flatten(mixed.cells, "lstm")
