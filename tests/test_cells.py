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


CELLS = [
    lambda: rnnkit.RNNCell(3, 4),
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
        torch.randn(2, 4, dtype=torch.float64, requires_grad=True) for _ in range(cell.state_size)
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
