"""rnnkit's networks against torch.nn with imported weights: outputs, states and every gradient.

Each example draws a configuration (cell, layers, directions, layout, bias, initial state, lengths),
copies a random torch.nn module with `from_torch`, runs both on the same input and compares.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from strategies import network_configurations, network_options, random_input

KINDS = {
    "lstm": (nn.LSTM, rnnkit.LSTM, {}),
    "lstm-proj": (nn.LSTM, rnnkit.LSTM, {"proj_size": 1}),
    "gru-after": (nn.GRU, rnnkit.GRU, {}),
    "rnn": (nn.RNN, rnnkit.RNN, {"nonlinearity": "tanh"}),
    "rnn-relu": (nn.RNN, rnnkit.RNN, {"nonlinearity": "relu"}),
}


configurations = network_configurations(
    max_size=4,
    kind=st.sampled_from(sorted(KINDS)),
    backend=st.sampled_from(["native", "fused", "loop"]),
)


def make_pair(config, dtype):
    torch_class, rnnkit_class, options = KINDS[config["kind"]]
    torch.manual_seed(config["seed"])
    hidden = config["hidden_size"] + ("proj_size" in options)  # torch: proj_size < hidden_size
    reference = torch_class(config["input_size"], hidden, **network_options(config), **options).to(
        dtype
    )
    ours = rnnkit_class.from_torch(reference, backend=config["backend"])
    return reference, ours


def make_inputs(config, dtype):
    x, lengths = random_input(config, dtype)
    B = config["batch"]
    layers = config["num_layers"] * (2 if config["bidirectional"] else 1)
    hx = None
    if config["with_hx"]:
        hx = tuple(
            torch.randn(layers, B, features, dtype=dtype, requires_grad=True)
            for features in state_features(config)
        )
    return x, hx, lengths


def state_features(config) -> tuple[int, ...]:
    """The features of h_0 (and c_0), as make_pair builds the network."""
    H = config["hidden_size"]
    return {"lstm": (H, H), "lstm-proj": (1, H + 1)}.get(config["kind"], (H,))


def as_hx(hx):
    return None if hx is None else (hx if len(hx) == 2 else hx[0])


def run_torch(module, x, hx, lengths, batch_first):
    """torch.nn has no lengths= argument: pack, run, and pad back with zeros."""
    if lengths is None:
        return module(x, as_hx(hx))
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    out, state = module(packed, as_hx(hx))
    total = x.shape[1] if batch_first else x.shape[0]
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=total)
    return out, state


def flatten(result):
    output, state = result
    return [output, *(state if isinstance(state, tuple) else (state,))]


def torch_layout_grads(cell, kind):
    """Our parameter gradients mapped by hand to torch's [w_ih, w_hh, b_ih, b_hh] gradients.

    b = b_ih + b_hh, so both torch biases get b's gradient; torch's GRU z is 1 - ours (its z
    weights are ours negated), and b_hh's candidate part is our b_hn.
    """
    w_ih, w_hh = cell.weight_ih.grad, cell.weight_hh.grad
    b = cell.bias.grad if cell.bias is not None else None
    if kind == "gru-after":
        H = cell.hidden_size
        sign = torch.ones(3 * H, dtype=w_ih.dtype)
        sign[H : 2 * H] = -1
        w_ih, w_hh = w_ih * sign[:, None], w_hh * sign[:, None]
        if b is None:
            return [w_ih, w_hh]
        b = b * sign
        return [w_ih, w_hh, b, torch.cat([b[: 2 * H], cell.b_hn.grad])]
    return [w_ih, w_hh] if b is None else [w_ih, w_hh, b, b]


def check_against_torch(config, dtype, tolerance):
    reference, ours = make_pair(config, dtype)
    x, hx, lengths = make_inputs(config, dtype)
    expected = flatten(run_torch(reference, x, hx, lengths, config["batch_first"]))
    ours_x = x.detach().clone().requires_grad_(True)
    ours_hx = None if hx is None else tuple(h.detach().clone().requires_grad_(True) for h in hx)
    actual = flatten(ours(ours_x, as_hx(ours_hx), lengths=lengths))
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=tolerance, rtol=tolerance)

    weights = [torch.randn_like(out) for out in expected]
    sum((out * w).sum() for out, w in zip(expected, weights)).backward()
    sum((out * w).sum() for out, w in zip(actual, weights)).backward()
    torch.testing.assert_close(ours_x.grad, x.grad, atol=tolerance, rtol=tolerance)
    if hx is not None:
        for ours_h, h in zip(ours_hx, hx):
            torch.testing.assert_close(ours_h.grad, h.grad, atol=tolerance, rtol=tolerance)
    per_cell = len(reference._flat_weights) // len(ours.cells)
    for k, cell in enumerate(ours.cells):
        torch_grads = [w.grad for w in reference._flat_weights[k * per_cell : (k + 1) * per_cell]]
        for got, want in zip(torch_layout_grads(cell, config["kind"]), torch_grads):
            torch.testing.assert_close(got, want, atol=tolerance, rtol=tolerance)


@settings(max_examples=60, deadline=None)
@given(configurations)
def test_float64_matches_torch(config):
    check_against_torch(config, torch.float64, 1e-10)


@settings(max_examples=20, deadline=None)
@given(configurations)
def test_float32_matches_torch(config):
    check_against_torch(config, torch.float32, 1e-5)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_packed_sequence_in_packed_out(kind):
    torch_class, rnnkit_class, options = KINDS[kind]
    torch.manual_seed(0)
    reference = torch_class(3, 4, num_layers=2, bidirectional=True, **options).double()
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([2, 5, 3]), enforce_sorted=False)
    expected_out, expected_state = reference(packed)
    for backend in ("native", "fused", "loop"):
        out, state = rnnkit_class.from_torch(reference, backend=backend)(packed)
        assert isinstance(out, nn.utils.rnn.PackedSequence)
        torch.testing.assert_close(out.data, expected_out.data, atol=1e-12, rtol=0)
        assert torch.equal(out.batch_sizes, expected_out.batch_sizes)
        assert torch.equal(out.sorted_indices, expected_out.sorted_indices)
        expected_states = flatten((expected_out, expected_state))[1:]
        for got, want in zip(flatten((out, state))[1:], expected_states):
            torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unbatched_input(kind):
    torch_class, rnnkit_class, options = KINDS[kind]
    reference = torch_class(3, 4, num_layers=2, **options).double()
    ours = rnnkit_class.from_torch(reference)
    x = torch.randn(6, 3, dtype=torch.float64)
    for got, want in zip(flatten(ours(x)), flatten(reference(x))):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_to_torch_round_trip_is_exact(kind):
    torch_class, rnnkit_class, options = KINDS[kind]
    reference = torch_class(3, 4, num_layers=2, bidirectional=True, **options).double()
    back = rnnkit_class.from_torch(reference).to_torch()
    assert type(back) is type(reference)
    # The biases come back merged (b_ih + b_hh in b_ih), so compare the functions and weights.
    for (name, want), (_, got) in zip(reference.named_parameters(), back.named_parameters()):
        if name.startswith("weight"):
            assert torch.equal(got, want), name
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    for got, want in zip(flatten(back(x)), flatten(reference(x))):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


def test_lecture_gru_does_not_convert_to_torch():
    with pytest.raises(ValueError, match="reset"):
        rnnkit.GRU(3, 4, reset="before").to_torch()


@settings(max_examples=40, deadline=None)
@given(configurations, st.sampled_from([0.3, 1.0]))
def test_dropout_between_layers_draws_torchs_masks(config, p):
    """In training, a seed gives torch.nn's dropout between layers on every backend (on a CPU),
    with lengths too (torch's kernel draws over the packed steps), and leaves torch's generator
    where torch.nn leaves it."""
    config = {**config, "num_layers": max(2, config["num_layers"])}
    torch_class, rnnkit_class, options = KINDS[config["kind"]]
    torch.manual_seed(config["seed"])
    hidden = config["hidden_size"] + ("proj_size" in options)
    reference = torch_class(
        config["input_size"], hidden, dropout=p, **network_options(config), **options
    ).double()
    ours = rnnkit_class.from_torch(reference, backend=config["backend"])
    x, hx, lengths = make_inputs(config, torch.float64)
    torch.manual_seed(1)
    expected = flatten(run_torch(reference, x, hx, lengths, config["batch_first"]))
    after_torch = torch.rand(3)
    torch.manual_seed(1)
    actual = flatten(ours(x, as_hx(hx), lengths=lengths))
    assert torch.equal(torch.rand(3), after_torch)
    for got, want in zip(actual, expected):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)
