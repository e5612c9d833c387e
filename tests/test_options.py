"""The cells' options (cells/options.py): what each mask is, when it is drawn, what it does to a
step, what evaluation replaces it with, and the one error a bad option gives.

The options' equations are checked step by step against code written from the papers here and in
tests/test_cells.py; every backend's agreement with the loop backend is tests/test_fused.py's.
"""

import pytest
import torch

import rnnkit
from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.cells.options import Noise, Options, StepNoise

P = 0.5  # every probability here: masks of 0 and 2


def identity_rnn(size: int = 64, **options) -> RNNCell:
    """h_t = W x_t + U h_{t-1} with W = U = I and no bias: what the masks do, unmixed (relu is
    the identity on the non-negative numbers these tests use, and runs on every backend)."""
    cell = RNNCell(size, size, bias=False, nonlinearity="relu", **options).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch.eye(size))
        cell.weight_hh.copy_(torch.eye(size))
    return cell


def run(cell, x, backend="loop"):
    network = rnnkit.RNN(cell.input_size, cell.hidden_size, backend=backend)
    network.layers[0].cell = cell
    return network.train(cell.training)(x)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("input_dropout", 1.0),
        ("recurrent_dropout", -0.1),
        ("output_dropout", 1.5),
        ("weight_dropout", "0.2"),
        ("zoneout", True),
    ],
)
def test_a_probability_outside_0_1_is_one_value_error(option, value):
    with pytest.raises(ValueError, match=rf"^{option} must be a probability in \[0, 1\), got"):
        rnnkit.GRU(3, 4, **{option: value})


@pytest.mark.parametrize("make", [rnnkit.GRU, rnnkit.RNN, GRUCell, RNNCell])
@pytest.mark.parametrize("option", ["proj_size", "zoneout_c"])
def test_lstm_options_elsewhere_name_the_option_and_the_allowed_ones(make, option):
    with pytest.raises(
        ValueError, match=rf"takes no option '{option}'; its options are layer_norm"
    ):
        make(3, 4, **{option: 2})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"proj_size": -1}, "proj_size must be 0 .none. or a positive integer, got -1"),
        ({"proj_size": 2.0}, "proj_size must be 0 .none. or a positive integer"),
        ({"layer_norm": 1}, "layer_norm must be True or False, got 1"),
        ({"layer_nrom": True}, "LSTMCell takes no option 'layer_nrom'"),
    ],
)
def test_other_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        LSTMCell(3, 4, **options)


def test_options_active_in_each_mode():
    options = Options(layer_norm=True, recurrent_dropout=0.2, zoneout=0.1, proj_size=2)
    assert options.active(True) == ("layer_norm", "recurrent_dropout", "zoneout", "proj_size")
    assert options.active(False) == ("layer_norm", "zoneout", "proj_size")  # no dropout
    assert Options().active(True) == ()


def test_masks_in_training_and_their_expectations_in_evaluation():
    torch.manual_seed(0)
    cell = LSTMCell(
        3,
        8,
        input_dropout=P,
        recurrent_dropout=P,
        output_dropout=P,
        weight_dropout=P,
        zoneout=P,
        zoneout_c=P,
        proj_size=5,
    )
    noise = cell.draw(7, 4, torch.zeros(1))
    assert noise.x.shape == (4, 3) and noise.h.shape == noise.y.shape == (4, 5)
    for mask in (noise.x, noise.h, noise.y):
        assert set(mask.unique().tolist()) == {0.0, 2.0}  # kept units scaled by 1 / (1 - p)
    ratio = noise.U / cell.weight_hh
    assert set(ratio.unique().tolist()) == {0.0, 2.0}  # DropConnect on U's entries
    assert noise.zone_h.shape == (7, 4, 5) and noise.zone_c.shape == (7, 4, 8)
    assert set(noise.zone_h.unique().tolist()) == {0.0, 1.0}
    assert cell.eval().draw(7, 4, torch.zeros(1)) == Noise(zone_h=P, zone_c=P)
    assert StepNoise.expected(cell.options) == StepNoise(zone_h=P, zone_c=P)
    assert LSTMCell(3, 8).train().draw(7, 4, torch.zeros(1)) == Noise()  # nothing to draw


def test_masks_come_from_torchs_generator():
    cell = GRUCell(3, 6, recurrent_dropout=P, zoneout=P, weight_dropout=P)
    x = torch.randn(5, 2, 3)
    torch.manual_seed(1)
    first = run(cell, x)[0]
    torch.manual_seed(1)
    again = run(cell, x)[0]
    different = run(cell, x)[0]
    assert torch.equal(first, again)
    assert not torch.equal(first, different)


def test_masks_have_their_probability_and_dtype_and_the_same_draws_in_any_dtype():
    p = 0.3
    masks = {}
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        cell = LSTMCell(3, 64, recurrent_dropout=p, zoneout=p).to(dtype)
        torch.manual_seed(2)
        noise = cell.draw(200, 50, torch.zeros(1, dtype=dtype))
        assert noise.h.dtype == noise.zone_h.dtype == dtype
        masks[dtype] = noise
    zone, keep = masks[torch.float32].zone_h, masks[torch.float32].h
    # 640,000 draws: the frequency within 0.005 of p (about 9 standard deviations)
    assert abs(zone.mean().item() - p) < 0.005
    assert abs((keep > 0).float().mean().item() - (1 - p)) < 0.02  # 3,200 draws
    for dtype in (torch.float64, torch.bfloat16):  # drawn in float32 whatever the dtype
        assert torch.equal(masks[dtype].zone_h.float(), zone)
        assert torch.equal(masks[dtype].h > 0, keep > 0)


@pytest.mark.parametrize("backend", ["loop", "fused"])
def test_recurrent_dropout_is_one_mask_for_the_whole_sequence(backend):
    """h_t = m_h * h_{t-1} + x_t with x_t = 0 after the first step: h_t = m_h^t * x_1, so a
    unit dropped once stays dropped, and the kept ones grow as (1 / (1 - p))^t."""
    torch.manual_seed(2)
    cell = identity_rnn(recurrent_dropout=P).train()
    x = torch.zeros(4, 1, 64, dtype=torch.float64)
    x[0] = 1.0
    h, _ = run(cell, x, backend)
    kept = h[1, 0] != 0
    assert 0 < kept.sum() < 64
    for t in range(1, 4):
        assert torch.equal(h[t, 0] != 0, kept)
        assert torch.all(h[t, 0][kept] == 2.0**t)


def test_input_dropout_is_one_mask_per_sequence_and_off_in_evaluation():
    torch.manual_seed(3)
    cell = identity_rnn(input_dropout=P)
    with torch.no_grad():
        cell.weight_hh.zero_()  # h_t = m_x * x_t
    x = torch.ones(5, 2, 64, dtype=torch.float64)
    h, _ = run(cell.train(), x)
    assert torch.equal(h, h[:1].expand_as(h))  # the same mask at every step
    assert not torch.equal(h[0, 0], h[0, 1])  # each sequence its own
    assert torch.equal(run(cell.eval(), x)[0], x)


def test_output_dropout_masks_the_output_not_the_state():
    torch.manual_seed(4)
    network = rnnkit.LSTM(3, 32, output_dropout=P)
    x = torch.randn(6, 2, 3)
    output, (h_n, _) = network.train()(x)
    clean, (h_clean, _) = network.eval()(x)
    torch.testing.assert_close(h_n, h_clean)  # the state never saw the mask
    dropped = output == 0
    assert torch.equal(dropped, dropped[:1].expand_as(dropped))  # one mask per sequence
    torch.testing.assert_close(output[~dropped], 2 * clean[~dropped])


def test_weight_dropout_drops_entries_of_U_once_per_call():
    torch.manual_seed(5)
    cell = identity_rnn(weight_dropout=P).train()
    x = torch.zeros(3, 1, 64, dtype=torch.float64)
    x[0] = 1.0
    h, _ = run(cell, x)  # h_t = (M * U)^(t-1) x_1, U = I: the diagonal of M, the same each step
    kept = h[1, 0] != 0
    assert torch.equal(h[2, 0] != 0, kept)
    assert torch.all(h[2, 0][kept] == 4.0)


@pytest.mark.parametrize(
    "make", [RNNCell, GRUCell, lambda *a, **k: GRUCell(*a, reset="after", **k)]
)
def test_zoneout_keeps_each_unit_or_takes_the_new_value(make):
    """In training h_t is h_{t-1} where d_t = 1 and the step's new value where d_t = 0; in
    evaluation h_t = p h_{t-1} + (1 - p) h'_t."""
    torch.manual_seed(6)
    cell = make(3, 16, zoneout=P).double()
    plain = make(3, 16).double()
    plain.load_state_dict(cell.state_dict())
    Wx = cell.project_input(torch.randn(2, 3, dtype=torch.float64))
    h_prev = (torch.randn(2, 16, dtype=torch.float64),)
    (new,) = plain.step(Wx, h_prev)
    d = torch.randint(0, 2, (2, 16), dtype=torch.float64)
    (zoned,) = cell.step(Wx, h_prev, StepNoise(zone_h=d))
    torch.testing.assert_close(zoned, torch.where(d == 1, h_prev[0], new), rtol=0, atol=0)
    (expected,) = cell.step(Wx, h_prev)  # no noise: evaluation
    torch.testing.assert_close(expected, P * h_prev[0] + (1 - P) * new)


def test_lstm_zoneout_of_c_and_h_from_the_same_update():
    """Krueger et al.: c_t and h_t each keep their previous value or take the step's update,
    h'_t = o_t * tanh(c'_t) computed from the update c'_t, whatever c_t keeps."""
    torch.manual_seed(7)
    cell = LSTMCell(3, 8, zoneout=P, zoneout_c=P).double()
    plain = LSTMCell(3, 8).double()
    plain.load_state_dict(cell.state_dict())
    Wx = cell.project_input(torch.randn(2, 3, dtype=torch.float64))
    state = (torch.randn(2, 8, dtype=torch.float64), torch.randn(2, 8, dtype=torch.float64))
    h_new, c_new = plain.step(Wx, state)
    d, d_c = (torch.randint(0, 2, (2, 8), dtype=torch.float64) for _ in range(2))
    h, c = cell.step(Wx, state, StepNoise(zone_h=d, zone_c=d_c))
    torch.testing.assert_close(c, torch.where(d_c == 1, state[1], c_new), rtol=0, atol=0)
    torch.testing.assert_close(h, torch.where(d == 1, state[0], h_new), rtol=0, atol=0)


def test_dropout_options_change_nothing_in_evaluation():
    torch.manual_seed(8)
    options = dict(input_dropout=P, recurrent_dropout=P, output_dropout=P, weight_dropout=P)
    network = rnnkit.GRU(3, 5, num_layers=2, **options).eval()
    plain = rnnkit.GRU(3, 5, num_layers=2).eval()
    plain.load_state_dict(network.state_dict())
    x = torch.randn(4, 2, 3)
    torch.testing.assert_close(network(x)[0], plain(x)[0])
