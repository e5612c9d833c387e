"""torch.nn's state dicts and parameter names on rnnkit's networks (rnnkit/layers/torch_state.py).

A torch.nn checkpoint loads into the rnnkit network that computes the same function, which then
computes what the torch.nn module computes; rnnkit.torch_state_dict goes the way back; the names
weight_ih_l0, ... are the real parameters where the layouts agree, and refused where they do not.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import rnnkit
from rnnkit.errors import RnnkitError
from strategies import network_configurations, network_options

KINDS = {
    "lstm": (nn.LSTM, rnnkit.LSTM, {}, {}),
    "gru-after": (nn.GRU, rnnkit.GRU, {}, {"reset": "after"}),
    "rnn": (nn.RNN, rnnkit.RNN, {"nonlinearity": "tanh"}, {"nonlinearity": "tanh"}),
    "rnn-relu": (nn.RNN, rnnkit.RNN, {"nonlinearity": "relu"}, {"nonlinearity": "relu"}),
}


def make_pair(kind: str, seed: int, **options):
    """A random torch.nn module and an rnnkit network of the same shape with other weights."""
    torch_class, rnnkit_class, torch_options, rnnkit_options = KINDS[kind]
    torch.manual_seed(seed)
    reference = torch_class(3, 4, **torch_options, **options).double()
    ours = rnnkit_class(3, 4, **rnnkit_options, **options).double()
    return reference, ours


def results(module, x):
    output, state = module(x)
    return [output, *(state if isinstance(state, tuple) else (state,))]


def assert_same_function(ours, reference, x):
    for got, want in zip(results(ours, x), results(reference, x), strict=True):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


configurations = network_configurations(max_size=4, kind=st.sampled_from(sorted(KINDS)))


@settings(max_examples=40, deadline=None)
@given(configurations)
def test_a_torch_state_dict_loads_exactly_and_goes_back(config):
    """Every layer count, direction, layout and bias: loaded, rnnkit computes torch's function;
    written back, a fresh torch.nn module computes it too."""
    torch_class, rnnkit_class, torch_options, rnnkit_options = KINDS[config["kind"]]
    D, H, options = config["input_size"], config["hidden_size"], network_options(config)
    torch.manual_seed(config["seed"])
    reference = torch_class(D, H, **torch_options, **options).double()
    ours = rnnkit_class(D, H, **rnnkit_options, **options).double()
    ours.load_state_dict(reference.state_dict())  # strict: every key used, none missing
    x = torch.randn(3, 2, D, dtype=torch.float64)
    assert_same_function(ours, reference, x)
    twin = torch_class(D, H, **torch_options, **options).double()
    twin.load_state_dict(rnnkit.torch_state_dict(ours))
    assert_same_function(twin, reference, x)


def test_the_biases_sum_and_gru_keeps_b_hn_apart():
    reference, ours = make_pair("gru-after", 0)
    ours.load_state_dict(reference.state_dict())
    b_ih, b_hh, H = reference.bias_ih_l0, reference.bias_hh_l0, 4
    p = ours.params()
    torch.testing.assert_close(p["b_r"], b_ih[:H] + b_hh[:H], atol=0, rtol=0)
    torch.testing.assert_close(p["b_z"], -(b_ih[H : 2 * H] + b_hh[H : 2 * H]), atol=0, rtol=0)
    torch.testing.assert_close(p["b_h"], b_ih[2 * H :], atol=0, rtol=0)
    torch.testing.assert_close(p["b_hn"], b_hh[2 * H :], atol=0, rtol=0)
    back = rnnkit.torch_state_dict(ours)
    assert torch.equal(back["bias_hh_l0"][2 * H :], b_hh[2 * H :])
    assert not back["bias_hh_l0"][: 2 * H].any()


class Tagger(nn.Module):
    """A user's model around a recurrent layer, as torch.nn code writes it."""

    def __init__(self, recurrent: nn.Module) -> None:
        super().__init__()
        self.embed = nn.Embedding(7, 3)
        self.rnn = recurrent
        self.head = nn.Linear(8, 5)

    def forward(self, tokens):
        output, _ = self.rnn(self.embed(tokens))
        return self.head(output)


def test_a_whole_model_checkpoint_loads_from_a_file_and_back(tmp_path):
    torch.manual_seed(1)
    old = Tagger(nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True))
    torch.save(old.state_dict(), tmp_path / "old.pt")
    new = Tagger(rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True))
    new.load_state_dict(torch.load(tmp_path / "old.pt"))
    tokens = torch.randint(0, 7, (2, 6))
    torch.testing.assert_close(new(tokens), old(tokens), atol=1e-6, rtol=0)
    torch.save(rnnkit.torch_state_dict(new), tmp_path / "new.pt")
    again = Tagger(nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True))
    again.load_state_dict(torch.load(tmp_path / "new.pt"))
    torch.testing.assert_close(again(tokens), old(tokens), atol=1e-6, rtol=0)
    assert list(rnnkit.torch_state_dict(new)) == list(old.state_dict())  # torch's keys, in order


def test_rnnkit_checkpoints_load_as_before():
    reference, ours = make_pair("lstm", 2, num_layers=2)
    ours.load_state_dict(reference.state_dict())
    copy = rnnkit.LSTM(3, 4, num_layers=2).double()
    copy.load_state_dict(ours.state_dict())
    assert_same_function(copy, reference, torch.randn(3, 2, 3, dtype=torch.float64))


def test_the_lecture_gru_refuses_a_torch_gru_in_one_line_naming_reset_after():
    lecture = rnnkit.GRU(3, 4)
    with pytest.raises(RnnkitError, match="reset='after'") as error:
        lecture.load_state_dict(nn.GRU(3, 4).state_dict())
    assert "\n" not in str(error.value)
    with pytest.raises(RnnkitError, match="reset='after'"):
        rnnkit.torch_state_dict(lecture)


def test_a_checkpoint_of_another_shape_is_refused():
    fewer = nn.LSTM(3, 4, num_layers=1).state_dict()
    with pytest.raises(RnnkitError, match="has no weight_ih_l1"):
        rnnkit.LSTM(3, 4, num_layers=2).load_state_dict(fewer)
    with pytest.raises(RuntimeError, match=r'Unexpected key.*"weight_ih_l1"'):
        rnnkit.LSTM(3, 4, num_layers=1).load_state_dict(nn.LSTM(3, 4, num_layers=2).state_dict())
    with pytest.raises(RnnkitError, match="do not fit"):
        rnnkit.LSTM(5, 4).load_state_dict(fewer)


# ----- torch's names as attributes --------------------------------------------------------------
def test_torch_names_are_the_real_parameters():
    lstm = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert lstm.weight_ih_l0 is lstm.cell(0, 0).weight_ih
    assert lstm.weight_hh_l1_reverse is lstm.cell(1, 1).weight_hh
    assert lstm.bias_ih_l1 is lstm.cell(1, 0).bias
    names = {name for name, _ in nn.LSTM(3, 4, num_layers=2, bidirectional=True).named_parameters()}
    assert {name for name in names if hasattr(lstm, name)} == {
        name for name in names if not name.startswith("bias_hh")
    }


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_writing_through_torch_names_acts_as_on_torch(kind):
    """nn.init and .data slices on weight_ih_l0, ... change rnnkit's network as they change
    torch's, the forget-gate bias slice included (torch's b_hh zeroed: rnnkit has one bias)."""
    reference, ours = make_pair(kind, 3, num_layers=2)
    ours.load_state_dict(reference.state_dict())
    H = 4
    for module in (reference, ours):
        torch.manual_seed(4)
        nn.init.orthogonal_(module.weight_hh_l0)
        module.weight_ih_l1.data.uniform_(-0.5, 0.5)
        module.bias_ih_l0.data.zero_()
        module.bias_ih_l0.data[H : 2 * H] = 1.0
    nn.init.zeros_(reference.bias_hh_l0)
    assert_same_function(ours, reference, torch.randn(3, 2, 3, dtype=torch.float64))


def test_names_without_an_exact_view_are_refused_as_attribute_errors():
    lstm = rnnkit.LSTM(3, 4)
    with pytest.raises(AttributeError, match="set bias_ih_l0 instead"):
        _ = lstm.bias_hh_l0
    assert not hasattr(lstm, "bias_hh_l0")
    assert not hasattr(lstm, "weight_ih_l1")  # one layer, as torch.nn.LSTM
    assert not hasattr(lstm, "weight_ih_l0_reverse")
    assert not hasattr(rnnkit.LSTM(3, 4, bias=False), "bias_ih_l0")
    with pytest.raises(AttributeError, match="z rows are negated"):
        _ = rnnkit.GRU(3, 4, reset="after").weight_ih_l0
    with pytest.raises(RnnkitError, match="reset='after'"):
        _ = rnnkit.GRU(3, 4).weight_hh_l0
    with pytest.raises(AttributeError, match="no attribute 'weight_xx_l0'"):
        _ = lstm.weight_xx_l0


# ----- cells ------------------------------------------------------------------------------------
CELL_TWINS = [
    (lambda: rnnkit.LSTMCell(3, 4), lambda: nn.LSTMCell(3, 4)),
    (lambda: rnnkit.GRUCell(3, 4, reset="after"), lambda: nn.GRUCell(3, 4)),
    (lambda: rnnkit.GRUCell(3, 4, reset="after", bias=False), lambda: nn.GRUCell(3, 4, bias=False)),
    (lambda: rnnkit.RNNCell(3, 4), lambda: nn.RNNCell(3, 4)),
]


def assert_same_cells(ours: nn.ModuleList, twin: nn.ModuleList) -> None:
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    for cell, torch_cell in zip(ours, twin, strict=True):
        hx = (h, -h) if isinstance(torch_cell, nn.LSTMCell) else h
        got, want = cell(x, hx), torch_cell(x, hx)
        for g, w in zip(
            got if isinstance(got, tuple) else [got], want if isinstance(want, tuple) else [want]
        ):
            torch.testing.assert_close(g, w, atol=1e-12, rtol=0)


def test_cells_load_torch_cell_checkpoints_through_from_torch_state_dict():
    torch.manual_seed(5)
    twin = nn.ModuleList([make() for _, make in CELL_TWINS]).double()
    ours = nn.ModuleList([make() for make, _ in CELL_TWINS]).double()
    ours.load_state_dict(rnnkit.from_torch_state_dict(ours, twin.state_dict()))
    assert_same_cells(ours, twin)


def test_cells_of_a_model_are_written_in_torch_layout():
    torch.manual_seed(6)
    ours = nn.ModuleList([make() for make, _ in CELL_TWINS]).double()
    twin = nn.ModuleList([make() for _, make in CELL_TWINS]).double()
    twin.load_state_dict(rnnkit.torch_state_dict(ours))
    assert_same_cells(ours, twin)


def test_from_torch_state_dict_converts_networks_too():
    torch.manual_seed(7)
    old = Tagger(nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True))
    new = Tagger(rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True))
    converted = rnnkit.from_torch_state_dict(new, old.state_dict())
    assert converted.keys() == new.state_dict().keys()
    new.load_state_dict(converted)
    tokens = torch.randint(0, 7, (2, 6))
    torch.testing.assert_close(new(tokens), old(tokens), atol=1e-6, rtol=0)


def test_a_lecture_gru_cell_refuses_a_torch_cell_checkpoint():
    with pytest.raises(RnnkitError, match="reset='after'"):
        rnnkit.from_torch_state_dict(rnnkit.GRUCell(3, 4), nn.GRUCell(3, 4).state_dict())
