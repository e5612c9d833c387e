"""The C++ time loops of the GRU, both placements of its reset gate (backends/fused/cpp/gru.cpp,
gru_after.cpp), and of the vanilla RNN (rnn.cpp), against the Python ones they replace: the same
outputs and gradients from the same inputs, with every option, on any number of threads, in
float64 (to 1e-12) and float32 (to float32's rounding); either backward reads either forward."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.backends.fused import cpp, gru, gru_after, rnn

built = pytest.mark.skipif(
    cpp.ops() is None, reason="rnnkit's C++ kernels did not build here (see the warning)"
)

T, B, H = 5, 3, 7


# kernel -> (its module, the number of gates G, what its op takes after γ^h: b_hn, relu or
# nothing)
KERNELS = {
    "gru": (gru, 3, ()),
    "gru-after": (gru_after, 3, ("b_hn",)),
    "gru-after-no-bias": (gru_after, 3, (None,)),
    "rnn": (rnn, 1, (False,)),  # tanh
    "rnn-relu": (rnn, 1, (True,)),
}


def inputs(kernel, dtype, layer_norm, dropout, zoneout, padding, seed=0, size=(T, B, H)):
    """The kernel's inputs with the options asked for: A, h_0, U, mask, m, d, γ^h, and b_hn
    for GRU(reset="after"), relu for the RNN."""
    _, G, extra = KERNELS[kernel]
    T, B, H = size
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0):
        return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).to(dtype)

    A, h0, U = rand(T, B, G * H), rand(B, H, scale=0.5), rand(G * H, H, scale=0.4)
    mask = None
    if padding:  # every sequence at least one step long, the longest T
        lengths = torch.randint(1, T + 1, (B,), generator=generator)
        lengths[0] = T
        mask = (torch.arange(T)[:, None] < lengths[None, :]).to(dtype).unsqueeze(-1)
    m = (torch.rand(B, H, generator=generator) > 0.3).to(dtype) / 0.7 if dropout else None
    d = {
        None: None,
        "full": (torch.rand(T, B, H, generator=generator) < 0.3).to(dtype),
        "expected": torch.full((), 0.3, dtype=dtype).expand(T, 1, 1),
    }[zoneout]
    gamma_h = rand(G * H, scale=0.3) + 1 if layer_norm else None
    return [A, h0, U, mask, m, d, gamma_h, *[rand(H) if x == "b_hn" else x for x in extra]]


CASES = list(
    itertools.product((False, True), (False, True), (None, "full", "expected"), (False, True))
)


def d_states(saved: list[torch.Tensor], dtype, seed=1) -> list[torch.Tensor]:
    """A random dL/dS (dS[0] = 0, as a layer passes it)."""
    generator = torch.Generator().manual_seed(seed)
    dS = torch.randn(saved[0].shape, generator=generator, dtype=torch.float64).to(dtype)
    dS[0] = 0
    return [dS]


def assert_same(found: list[torch.Tensor], expected: list[torch.Tensor], tolerance: float):
    assert len(found) == len(expected)
    for a, b in zip(found, expected):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance)


@built
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("case", CASES)
def test_cpp_loops_compute_the_python_loops(kernel, case, dtype, tolerance):
    module = KERNELS[kernel][0]
    args = inputs(kernel, dtype, *case)
    expected = module.python_forward(*args)
    found = module.forward(*args)
    assert_same(found, expected, tolerance)
    dS = d_states(expected, dtype)
    expected_grads = module.python_backward(*args, expected, dS)
    assert_same(module.backward(*args, found, dS), expected_grads, tolerance * 10)
    # either backward reads either forward
    assert_same(module.backward(*args, expected, dS), expected_grads, tolerance * 10)
    assert_same(module.python_backward(*args, found, dS), expected_grads, tolerance * 10)


@built
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("threads", [1, 2, 6])
@pytest.mark.parametrize("batch", [19, 5, 1])
@pytest.mark.parametrize("case", CASES[::3])
def test_full_tiles_panels_and_threads(kernel, case, batch, threads):
    """Batches of whole register tiles and of remainders, with U's panels split over threads
    when the batch has fewer tiles than there are threads; H = 21 leaves a panel part empty."""
    module = KERNELS[kernel][0]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        args = inputs(kernel, torch.float64, *case, size=(4, batch, 21))
        found, expected = module.forward(*args), module.python_forward(*args)
        assert_same(found, expected, 1e-12)
        dS = d_states(expected, torch.float64)
        grads = module.python_backward(*args, expected, dS)
        assert_same(module.backward(*args, found, dS), grads, 1e-11)
    finally:
        torch.set_num_threads(previous)


@built
def test_wrong_inputs_are_one_error():
    A, h0, U, *_ = inputs("gru", torch.float64, False, False, None, False)
    with pytest.raises(RuntimeError, match=r"U must be \(3H, H\)"):
        cpp.ops().gru_forward(A, h0, U[:-1], None, None, None, None, 1e-5)
    with pytest.raises(RuntimeError, match="do not agree"):
        cpp.ops().gru_forward(A[..., :-1], h0, U, None, None, None, None, 1e-5)
    with pytest.raises(RuntimeError, match="of A's dtype"):
        cpp.ops().gru_forward(A, h0.float(), U, None, None, None, None, 1e-5)
    saved = cpp.ops().gru_forward(A, h0, U, None, None, None, None, 1e-5)
    with pytest.raises(RuntimeError, match="expected 4 saved buffers"):
        cpp.ops().gru_backward(A, h0, U, None, None, None, None, saved[:3], saved[0])
    with pytest.raises(RuntimeError, match=r"gru_after: b_hn must be \(H\)"):
        cpp.ops().gru_after_forward(A, h0, U, None, None, None, None, h0[0, :-1], 1e-5)


@built
@pytest.mark.parametrize("kernel", KERNELS)
def test_the_states_do_not_depend_on_the_thread_count(kernel):
    """Each row's sums run in the same order on any threads, and layer norm's gains' gradients
    are summed per batch row: a run resumed on another thread count continues bit for bit
    (dU and db_hn, library reductions after the loop, are left out)."""
    module = KERNELS[kernel][0]
    args = inputs(kernel, torch.float32, True, True, "full", True, size=(6, 19, 21))
    previous = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 6):
            torch.set_num_threads(threads)
            saved = module.forward(*args)
            dA, dh0, _, d_gain, *_ = module.backward(*args, saved, d_states(saved, torch.float32))
            results.append([*saved, dA, dh0, d_gain])
    finally:
        torch.set_num_threads(previous)
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))
