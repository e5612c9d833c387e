"""The cells: the lecture's equations, checked against independent NumPy code and by gradcheck."""

import numpy as np
import pytest
import torch

import rnnkit


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def numpy_gru_before(p, x, h):
    """The lecture's GRU, written from LECTURE.md with NumPy (reset applied before U_h)."""
    a_r = p["W_r"] @ x + p["U_r"] @ h + p["b_r"]
    a_z = p["W_z"] @ x + p["U_z"] @ h + p["b_z"]
    r, z = sigmoid(a_r), sigmoid(a_z)
    a_h = p["W_h"] @ x + p["U_h"] @ (r * h) + p["b_h"]
    h_tilde = np.tanh(a_h)
    h_new = (1 - z) * h + z * h_tilde
    return {"a_r": a_r, "r": r, "a_z": a_z, "z": z, "a_h": a_h, "h_tilde": h_tilde, "h": h_new}


def numpy_gru_after(p, x, h):
    """cuDNN's placement: r multiplies (U_h h + b_hn); z keeps the lecture's meaning."""
    a_r = p["W_r"] @ x + p["U_r"] @ h + p["b_r"]
    a_z = p["W_z"] @ x + p["U_z"] @ h + p["b_z"]
    r, z = sigmoid(a_r), sigmoid(a_z)
    a_h = p["W_h"] @ x + p["b_h"] + r * (p["U_h"] @ h + p.get("b_hn", 0))
    h_tilde = np.tanh(a_h)
    h_new = (1 - z) * h + z * h_tilde
    return {"a_r": a_r, "r": r, "a_z": a_z, "z": z, "a_h": a_h, "h_tilde": h_tilde, "h": h_new}


def numpy_lstm(p, x, h, c):
    """Every named quantity of one step of the lecture's LSTM."""
    a = {g: p[f"W_{g}"] @ x + p[f"U_{g}"] @ h + p[f"b_{g}"] for g in "ifco"}
    f, i, o = (sigmoid(a[g]) for g in "fio")
    c_tilde = np.tanh(a["c"])
    c = f * c + i * c_tilde
    gates = {"f": f, "i": i, "o": o, "c_tilde": c_tilde, "c": c, "tanh_c": np.tanh(c)}
    return {**{f"a_{g}": a[g] for g in "ifco"}, **gates, "h": o * np.tanh(c)}


def numpy_rnn(p, x, h):
    a = p["W"] @ x + p["U"] @ h + p["b"]
    return {"a": a, "h": np.tanh(a)}


def numpy_params(cell):
    return {name: value.detach().numpy() for name, value in cell.params().items()}


@pytest.mark.parametrize(
    ("reset", "reference"), [("before", numpy_gru_before), ("after", numpy_gru_after)]
)
def test_gru_matches_numpy_over_a_sequence(reset, reference):
    torch.manual_seed(1)
    cell = rnnkit.GRUCell(3, 5, reset=reset).double()
    p = numpy_params(cell)
    xs = np.random.default_rng(0).normal(size=(7, 3))
    h_numpy, state = np.zeros(5), None
    for x in xs:
        h_numpy = reference(p, x, h_numpy)["h"]
        state = cell(torch.from_numpy(x)[None], state)
    np.testing.assert_allclose(state[0].detach().numpy(), h_numpy, rtol=0, atol=1e-12)


def test_lstm_matches_numpy_over_a_sequence():
    torch.manual_seed(2)
    cell = rnnkit.LSTMCell(3, 4).double()
    p = numpy_params(cell)
    h, c, state = np.zeros(4), np.zeros(4), None
    for x in np.random.default_rng(1).normal(size=(6, 3)):
        expected = numpy_lstm(p, x, h, c)
        h, c = expected["h"], expected["c"]
        state = cell(torch.from_numpy(x)[None], state)
    np.testing.assert_allclose(state[0][0].detach().numpy(), h, rtol=0, atol=1e-12)
    np.testing.assert_allclose(state[1][0].detach().numpy(), c, rtol=0, atol=1e-12)


def test_rnn_cell_is_tanh_of_affine():
    torch.manual_seed(3)
    cell = rnnkit.RNNCell(3, 4).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    expected = np.tanh(
        x.numpy() @ cell.W.detach().numpy().T
        + h.numpy() @ cell.U.detach().numpy().T
        + cell.b.detach().numpy()
    )
    np.testing.assert_allclose(cell(x, h).detach().numpy(), expected, atol=1e-12)


@pytest.mark.parametrize(
    ("make", "reference"),
    [
        (lambda: rnnkit.LSTMCell(3, 4), numpy_lstm),
        (lambda: rnnkit.GRUCell(3, 4, reset="before"), numpy_gru_before),
        (lambda: rnnkit.GRUCell(3, 4, reset="after"), numpy_gru_after),
        (lambda: rnnkit.RNNCell(3, 4), numpy_rnn),
    ],
)
def test_step_quantities_carry_the_lecture_names(make, reference):
    """Each named quantity is the lecture's quantity of that name (a swapped f and i fails)."""
    torch.manual_seed(5)
    cell = make().double()
    x = torch.randn(1, 3, dtype=torch.float64)
    state = tuple(torch.randn(1, 4, dtype=torch.float64) for _ in range(cell.state_size))
    quantities = cell.step_quantities(cell.project_input(x), state)
    expected = reference(numpy_params(cell), x[0].numpy(), *(s[0].numpy() for s in state))
    assert list(quantities) == list(expected)  # the names, in the order they are computed
    for name, value in expected.items():
        np.testing.assert_allclose(quantities[name][0].detach().numpy(), value, atol=1e-12)
    new_state = cell.step(cell.project_input(x), state)  # the same computation, exactly
    assert len(new_state) == cell.state_size
    for value, name in zip(new_state, cell.state_names):
        assert torch.equal(value, quantities[name])


def numpy_layer_norm(v, gain, bias=0.0):
    """Ba et al.'s LN of one product's vector: (v - mean) / sqrt(var + 1e-5) * gain + bias."""
    return (v - v.mean()) / np.sqrt(v.var() + 1e-5) * gain + bias


def stacked(p, letter, gates):
    """The lecture's per-gate matrices (or biases) stacked in storage order, as one product."""
    return np.concatenate([p[f"{letter}_{g}"] for g in gates])


def numpy_layer_norm_lstm(p, x, h, c, gains):
    """The LSTM with layer norm on W x_t and on U h_{t-1} (each over all four gates) and on c_t
    inside h_t, from Ba et al. 2016 (the state keeps the un-normalised c_t)."""
    a = numpy_layer_norm(stacked(p, "W", "ifco") @ x, gains["gamma_x"], stacked(p, "b", "ifco"))
    a = a + numpy_layer_norm(stacked(p, "U", "ifco") @ h, gains["gamma_h"])
    a_i, a_f, a_c, a_o = np.split(a, 4)
    f, i, o = sigmoid(a_f), sigmoid(a_i), sigmoid(a_o)
    c = f * c + i * np.tanh(a_c)
    return o * np.tanh(numpy_layer_norm(c, gains["gamma_c"], gains["beta_c"])), c


def numpy_layer_norm_gru(p, x, h, gains, reset):
    """The lecture's GRU ("before": two products with U, each normalised) or cuDNN's ("after":
    one product) with layer norm."""
    A = numpy_layer_norm(stacked(p, "W", "rzh") @ x, gains["gamma_x"], stacked(p, "b", "rzh"))
    A_r, A_z, A_h = np.split(A, 3)
    g_rz, g_h = gains["gamma_h"][:8], gains["gamma_h"][8:]
    if reset == "before":
        G_r, G_z = np.split(numpy_layer_norm(stacked(p, "U", "rz") @ h, g_rz), 2)
    else:
        G_r, G_z, G_h = np.split(numpy_layer_norm(stacked(p, "U", "rzh") @ h, gains["gamma_h"]), 3)
    r, z = sigmoid(A_r + G_r), sigmoid(A_z + G_z)
    if reset == "before":
        h_tilde = np.tanh(A_h + numpy_layer_norm(p["U_h"] @ (r * h), g_h))
    else:
        h_tilde = np.tanh(A_h + r * (G_h + p["b_hn"]))
    return (1 - z) * h + z * h_tilde


def test_layer_norm_cells_match_numpy_written_from_ba_et_al():
    torch.manual_seed(9)
    rng = np.random.default_rng(2)
    x, h, c = rng.normal(size=3), rng.normal(size=4), rng.normal(size=4)

    def with_random_gains(cell):
        with torch.no_grad():  # gains and biases away from their initial 1 and 0
            for name, parameter in cell.named_parameters():
                if name.startswith(("gamma", "beta")):
                    parameter.uniform_(0.5, 1.5)
        gains = {
            n: v.detach().numpy() for n, v in cell.named_parameters() if n[:5] in ("gamma", "beta_")
        }
        return cell, numpy_params(cell), gains

    def step(cell, *state):
        Wx = cell.project_input(torch.from_numpy(x)[None])
        return [
            s[0].detach().numpy()
            for s in cell.step(Wx, tuple(torch.from_numpy(v)[None] for v in state))
        ]

    cell, p, gains = with_random_gains(rnnkit.LSTMCell(3, 4, layer_norm=True).double())
    for got, want in zip(step(cell, h, c), numpy_layer_norm_lstm(p, x, h, c, gains)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    for reset in ("before", "after"):
        cell, p, gains = with_random_gains(
            rnnkit.GRUCell(3, 4, reset=reset, layer_norm=True).double()
        )
        (got,) = step(cell, h)
        np.testing.assert_allclose(got, numpy_layer_norm_gru(p, x, h, gains, reset), atol=1e-12)
    cell, p, gains = with_random_gains(rnnkit.RNNCell(3, 4, layer_norm=True).double())
    want = np.tanh(
        numpy_layer_norm(p["W"] @ x, gains["gamma_x"], p["b"])
        + numpy_layer_norm(p["U"] @ h, gains["gamma_h"])
    )
    np.testing.assert_allclose(step(cell, h)[0], want, rtol=0, atol=1e-12)


def test_projection_is_torchs():
    """h_t = W_hr (o_t * tanh(c_t)): one step against torch.nn.LSTM(proj_size=2)."""
    torch.manual_seed(10)
    reference = torch.nn.LSTM(3, 4, proj_size=2).double()
    network = rnnkit.LSTM.from_torch(reference)
    cell = network.cell(0)
    assert cell.output_size == 2 and cell.weight_hh.shape == (16, 2)
    assert cell.initial_state(5, torch.zeros(1))[0].shape == (5, 2)
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    h, c = cell(x[0])
    _, (h_torch, c_torch) = reference(x)
    torch.testing.assert_close(h, h_torch[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(c, c_torch[0], rtol=0, atol=1e-12)


CELLS = [
    lambda: rnnkit.RNNCell(3, 4),
    lambda: rnnkit.RNNCell(3, 4, layer_norm=True, zoneout=0.3).eval(),
    lambda: rnnkit.LSTMCell(3, 4, layer_norm=True, zoneout=0.2, zoneout_c=0.1).eval(),
    lambda: rnnkit.GRUCell(3, 4, layer_norm=True, zoneout=0.3).eval(),
    lambda: rnnkit.RNNCell(3, 4, nonlinearity="relu", bias=False),
    lambda: rnnkit.LSTMCell(3, 4),
    lambda: rnnkit.GRUCell(3, 4, reset="before"),
    lambda: rnnkit.GRUCell(3, 4, reset="after"),
    lambda: rnnkit.GRUCell(3, 4, reset="after", bias=False),
]


@pytest.mark.parametrize("make", CELLS)
def test_gradcheck(make):
    torch.manual_seed(4)
    cell = make().double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    state = tuple(
        torch.randn(2, n, dtype=torch.float64, requires_grad=True) for n in cell.state_features
    )

    def run(x, *state_and_params):
        state = state_and_params[: cell.state_size]
        return cell(x, state if cell.state_size > 1 else state[0])

    assert torch.autograd.gradcheck(run, (x, *state, *cell.parameters()))


def test_params_are_views_on_the_real_parameters():
    cell = rnnkit.LSTMCell(3, 2)
    with torch.no_grad():
        cell.params()["W_f"].fill_(7.0)
        cell.b_o.fill_(-1.0)
    # torch's order is i | f | c | o: W_f is the second block of weight_ih, b_o the fourth of bias.
    assert torch.all(cell.weight_ih[2:4] == 7.0)
    assert torch.all(cell.bias[6:8] == -1.0)
    assert cell.W_f.data_ptr() == cell.weight_ih[2:4].data_ptr()


@pytest.mark.parametrize(
    ("make", "names"),
    [
        (lambda: rnnkit.LSTMCell(3, 2), {f"{m}_{g}" for m in "WUb" for g in "fioc"}),
        (lambda: rnnkit.GRUCell(3, 2), {f"{m}_{g}" for m in "WUb" for g in "zrh"}),
        (
            lambda: rnnkit.GRUCell(3, 2, reset="after"),
            {f"{m}_{g}" for m in "WUb" for g in "zrh"} | {"b_hn"},
        ),
        (lambda: rnnkit.RNNCell(3, 2), {"W", "U", "b"}),
        (lambda: rnnkit.RNNCell(3, 2, bias=False), {"W", "U"}),
    ],
)
def test_parameter_names_are_the_lecture_letters(make, names):
    cell = make()
    assert set(cell.params()) == names
    shapes = {name: tuple(value.shape) for name, value in cell.params().items()}
    for name, shape in shapes.items():
        expected = {"W": (2, 3), "U": (2, 2), "b": (2,)}[name[0]]
        assert shape == expected, name


def test_rnn_init_is_orthogonal_with_forget_bias_one():
    torch.manual_seed(5)
    cell = rnnkit.LSTMCell(6, 8)
    cell.reset_parameters("rnn")
    for gate in "ifco":
        U = cell.params()[f"U_{gate}"]
        torch.testing.assert_close(U @ U.T, torch.eye(8), atol=1e-5, rtol=0)
    assert torch.all(cell.b_f == 1.0) and torch.all(cell.b_i == 0.0)


def test_torch_init_bounds():
    cell = rnnkit.GRUCell(5, 16)
    bound = 1 / 16**0.5
    for parameter in cell.parameters():
        assert parameter.abs().max() <= bound
        assert parameter.std() > bound / 4  # not left at zero


@pytest.mark.parametrize("init", ["torch", "rnn"])
def test_options_parameters_start_as_plain_normalisation_and_a_drawn_projection(init):
    cell = rnnkit.LSTMCell(5, 16, layer_norm=True, proj_size=4)
    cell.reset_parameters(init)
    parameters = dict(cell.named_parameters())
    assert set(parameters) == {
        *("weight_ih", "weight_hh", "bias", "weight_hr"),
        *("gamma_x", "gamma_h", "gamma_c", "beta_c"),
    }
    for name in ("gamma_x", "gamma_h", "gamma_c"):
        assert torch.all(parameters[name] == 1.0)
    assert torch.all(parameters["beta_c"] == 0.0)
    assert parameters["weight_hr"].shape == (4, 16) and parameters["weight_hr"].std() > 0.05
    assert "gamma_x" not in dict(rnnkit.LSTMCell(5, 16).named_parameters())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: rnnkit.GRUCell(3, 2, reset="befor"), "reset must be one of"),
        (lambda: rnnkit.RNNCell(3, 2, nonlinearity="sigmoid"), "nonlinearity must be one of"),
        (lambda: rnnkit.RNN(3, 2, nonlinearity="identity", backend="native"), "cannot run"),
        (lambda: rnnkit.LSTMCell(0, 2), "must be positive"),
        (lambda: rnnkit.LSTMCell(3, 2).reset_parameters("xavier"), "init must be one of"),
    ],
)
def test_bad_arguments_name_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


TORCH_TWINS = [
    (lambda: rnnkit.LSTMCell(3, 4), torch.nn.LSTMCell),
    (lambda: rnnkit.GRUCell(3, 4, reset="after"), torch.nn.GRUCell),
    (
        lambda: rnnkit.RNNCell(3, 4, nonlinearity="relu"),
        lambda *a: torch.nn.RNNCell(*a, nonlinearity="relu"),
    ),
]


@pytest.mark.parametrize(("make", "make_torch"), TORCH_TWINS)
@pytest.mark.parametrize("batch", [(2,), ()], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_hx", [True, False])
def test_cells_take_and_return_what_torch_cells_do(make, make_torch, batch, with_hx):
    """forward(input, hx=None): hx is h, or (h, c) for LSTM, and comes back in the same form."""
    torch.manual_seed(6)
    cell = make().double()
    twin = make_torch(3, 4).double()
    twin.load_state_dict(rnnkit.torch_state_dict(cell))
    x = torch.randn(*batch, 3, dtype=torch.float64)
    h = torch.randn(*batch, 4, dtype=torch.float64)
    hx = ((h, -h) if cell.state_size == 2 else h) if with_hx else None
    got, want = cell(x, hx), twin(x, hx)
    assert type(got) is type(want)
    for g, w in zip(
        got if isinstance(got, tuple) else [got], want if isinstance(want, tuple) else [want]
    ):
        assert g.shape == w.shape
        torch.testing.assert_close(g, w, atol=1e-12, rtol=0)


def test_a_cell_refuses_a_sequence():
    with pytest.raises(rnnkit.RnnkitError, match="takes one step"):
        rnnkit.LSTMCell(3, 4)(torch.zeros(5, 2, 3))
