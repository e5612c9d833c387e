"""Layers: scanning, reversal within lengths, merges, stacking, backends, bad input."""

import pytest
import torch

import rnnkit
from rnnkit.layers import CELL_NAMES, build_recurrent
from rnnkit.layout.lengths import reverse_within_lengths


def test_reverse_within_lengths_keeps_padding_in_place():
    x = torch.tensor([[1, 10], [2, 20], [3, 0], [4, 0]])  # (T=4, B=2), lengths 4 and 2
    reversed_x = reverse_within_lengths(x, torch.tensor([4, 2]))
    assert reversed_x.tolist() == [[4, 20], [3, 10], [2, 0], [1, 0]]
    assert torch.equal(reverse_within_lengths(reversed_x, torch.tensor([4, 2])), x)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_reaches_the_state(cell, bidirectional):
    """A padded sequence gives the same outputs and final state as the same sequence alone."""
    torch.manual_seed(0)
    network = build_recurrent(cell, 3, 4, num_layers=2, bidirectional=bidirectional).double()
    short = torch.randn(1, 3, 3, dtype=torch.float64)  # (B=1, T=3, D)
    padded = torch.cat([short, torch.full((1, 2, 3), 99.0, dtype=torch.float64)], dim=1)
    batch = torch.cat([padded, torch.randn(1, 5, 3, dtype=torch.float64)])
    for backend in network.available_backends():
        network.backend = backend
        alone_out, alone_state = network(short)
        out, state = network(batch, lengths=torch.tensor([3, 5]))
        torch.testing.assert_close(out[0, :3], alone_out[0], atol=1e-12, rtol=0)
        assert torch.all(out[0, 3:] == 0)
        for got, want in zip(
            state if isinstance(state, tuple) else (state,),
            alone_state if isinstance(alone_state, tuple) else (alone_state,),
        ):
            torch.testing.assert_close(got[:, 0], want[:, 0], atol=1e-12, rtol=0)


def test_backward_direction_reads_the_sequence_reversed():
    """The backward output at t depends on x_t..x_T only, the forward output on x_1..x_t."""
    torch.manual_seed(1)
    network = rnnkit.GRU(2, 3, bidirectional=True).double()
    x = torch.randn(5, 1, 2, dtype=torch.float64)
    changed = x.clone()
    changed[4] += 1.0  # change only the last step
    out, _ = network(x)
    out_changed, _ = network(changed)
    forward, backward = slice(0, 3), slice(3, 6)
    assert torch.equal(out[:4, :, forward], out_changed[:4, :, forward])
    assert not torch.allclose(out[:4, :, backward], out_changed[:4, :, backward])


@pytest.mark.parametrize(
    ("merge", "combine"),
    [
        ("concat", lambda f, b: torch.cat([f, b], -1)),
        ("sum", lambda f, b: f + b),
        ("mean", lambda f, b: (f + b) / 2),
        ("mul", lambda f, b: f * b),
    ],
)
def test_bidirectional_merges(merge, combine):
    torch.manual_seed(2)
    network = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, merge=merge).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    out, (h_n, _) = network(x)
    # Recompute the top layer by hand from its two directions.
    below, _ = network.layers[0](x)
    top = network.layers[1]
    forward, _ = top.forward_layer(below)
    backward, _ = top.backward_layer(below)
    torch.testing.assert_close(out, combine(forward, backward), atol=1e-12, rtol=0)
    assert network.output_size == out.shape[-1] == (8 if merge == "concat" else 4)
    assert h_n.shape == (4, 2, 4)
    expected_backend = "native" if merge == "concat" else "fused"
    assert network.backend == expected_backend


def test_dropout_between_layers_only_while_training():
    torch.manual_seed(3)
    network = rnnkit.GRU(3, 8, num_layers=2, dropout=0.5, reset="before")
    x = torch.randn(4, 2, 3)
    network.eval()
    assert torch.equal(network(x)[0], network(x)[0])
    network.train()
    assert not torch.equal(network(x)[0], network(x)[0])
    single = rnnkit.GRU(3, 8, num_layers=1, dropout=0.5).train()
    assert torch.equal(single(x)[0], single(x)[0])  # no layer above to drop into


def test_params_of_each_layer_and_direction():
    network = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert network.params(1, 1)["W_f"].shape == (4, 8)  # layer 1 reads both directions of layer 0
    assert (
        network.params(0, 1)["W_f"].data_ptr()
        == network.layers[0].backward_layer.cell.W_f.data_ptr()
    )
    with pytest.raises(IndexError, match="direction"):
        network.params(0, 2)
    with pytest.raises(IndexError, match="layer"):
        network.params(2, 0)


def test_backend_choice_and_forcing():
    assert rnnkit.LSTM(3, 4).backend == "native"
    assert rnnkit.GRU(3, 4, reset="before").backend == "fused"
    for network in (rnnkit.GRU(3, 4, reset="after"), rnnkit.RNN(3, 4, nonlinearity="relu")):
        assert network.train().backend == "fused"  # faster than torch's kernel to train on CPU
        inference = network.automatic_backend(training=False)  # test_backend_choice.py's
        assert network.eval().backend == inference
        with torch.no_grad():
            assert network.train().backend == inference  # no backward: the inference pick
    assert rnnkit.LSTM(3, 4, backend="loop").backend == "loop"
    assert rnnkit.GRU(3, 4, reset="after", backend="native").train().backend == "native"
    with pytest.raises(ValueError, match="backend 'native' cannot run"):
        rnnkit.GRU(3, 4, reset="before", backend="native")


def test_build_recurrent_names():
    for name in CELL_NAMES:
        assert build_recurrent(name, 3, 4).cell_name == name
    with pytest.raises(ValueError, match="cell must be one of"):
        build_recurrent("transformer", 3, 4)


def test_init_option_reaches_every_cell():
    network = rnnkit.LSTM(3, 4, num_layers=2, init="rnn")
    for cell in network.cells:
        assert torch.all(cell.b_f == 1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m: m(torch.randn(5, 2, 7)),
            "input has 7 features per step but this layer was built with input_size=3",
        ),
        (lambda m: m(torch.randn(5)), "input must be 3-D"),
        (lambda m: m(torch.randn(5, 2, 3), torch.zeros(1, 2, 4)), "hx must be a pair"),
        (lambda m: m(torch.randn(5, 2, 3), (torch.zeros(1, 3, 4),) * 2), r"shape \(2, 2, 4\)"),
        (
            lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([6, 1])),
            "between 1 and the sequence length 5",
        ),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([0, 1])), "between 1 and"),
        (
            lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([1, 2, 3])),
            r"lengths must have shape \(2,\)",
        ),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([1.5, 2.0])), "integers"),
    ],
)
def test_bad_input_names_the_argument_and_the_expected_shape(call, message):
    network = rnnkit.LSTM(3, 4, num_layers=2)
    with pytest.raises(rnnkit.RnnkitError, match=message):
        call(network)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: rnnkit.LSTM(3, 4, bidirectional=True, merge="concatenate"),
            "merge must be one of",
        ),
        (lambda: rnnkit.GRU(3, 4, reset="later"), "reset must be one of"),
        (lambda: rnnkit.LSTM(3, 4, num_layers=0), "num_layers must be at least 1"),
        (lambda: rnnkit.LSTM(3, 4, dropout=1.5), "dropout must be between 0 and 1"),
        (lambda: rnnkit.LSTM(3, 4, backend="cuda"), "backend 'cuda' cannot run"),
    ],
)
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_projection_shapes_through_a_stack():
    network = rnnkit.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=2)
    assert network.proj_size == 2 and network.output_size == 4
    assert network.params(1, 0)["W_f"].shape == (6, 4)  # layer 1 reads both projected directions
    output, (h_n, c_n) = network(torch.randn(5, 7, 3))
    assert output.shape == (5, 7, 4) and h_n.shape == (4, 7, 2) and c_n.shape == (4, 7, 6)
    with pytest.raises(rnnkit.RnnkitError, match=r"h_0 must have shape \(4, 7, 2\)"):
        network(torch.randn(5, 7, 3), (torch.zeros(4, 7, 6), torch.zeros(4, 7, 6)))


def test_options_that_torch_lacks_do_not_convert_to_torch():
    with pytest.raises(rnnkit.RnnkitError, match=r"torch\.nn has no layer_norm, zoneout"):
        rnnkit.LSTM(3, 4, layer_norm=True, zoneout=0.1).to_torch()
    assert rnnkit.LSTM(3, 4, proj_size=2).to_torch().proj_size == 2


def test_options_reach_every_cell():
    network = rnnkit.GRU(3, 4, num_layers=2, bidirectional=True, recurrent_dropout=0.3)
    assert all(cell.options.recurrent_dropout == 0.3 for cell in network.cells)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_device_and_dtype_reach_every_cell(cell):
    """rnnkit.LSTM(..., device=, dtype=) makes every parameter there, as torch.nn.LSTM does."""
    options = {"layer_norm": True, **({"proj_size": 2} if cell == "lstm" else {})}
    for device, dtype in [("meta", torch.float64), ("cpu", torch.bfloat16)]:
        network = build_recurrent(
            cell, 3, 4, num_layers=2, bidirectional=True, device=device, dtype=dtype, **options
        )
        kinds = {(p.device.type, p.dtype) for p in network.parameters()}
        assert kinds == {(device, dtype)}, kinds
        assert len(list(network.parameters())) == 4 * len(list(network.cells[0].parameters()))


def test_a_float64_network_runs_in_float64():
    network = rnnkit.LSTM(3, 4, 2, dtype=torch.float64)
    output, (h, c) = network(torch.randn(5, 2, 3, dtype=torch.float64))
    assert output.dtype == h.dtype == c.dtype == torch.float64
