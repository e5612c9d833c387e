"""The C++ forward loop of the lecture's GRU (backends/fused/cpp/gru.cpp) against the Python one
it replaces: the same outputs from the same inputs, with every option, on any number of
threads, in float64 (to 1e-12) and float32 (to float32's rounding); and gru.py's backward
reading it gives the gradients it gives after the Python forward."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.backends.fused import cpp, gru

built = pytest.mark.skipif(
    cpp.ops() is None, reason="rnnkit's C++ kernels did not build here (see the warning)"
)

T, B, H = 5, 3, 7


def inputs(dtype, layer_norm, dropout, zoneout, padding, seed=0, size=(T, B, H)):
    """gru.forward's inputs with the options asked for: A, h_0, U, mask, m, d, γ^h."""
    T, B, H = size
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0):
        return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).to(dtype)

    A, h0, U = rand(T, B, 3 * H), rand(B, H, scale=0.5), rand(3 * H, H, scale=0.4)
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
    gamma_h = rand(3 * H, scale=0.3) + 1 if layer_norm else None
    return [A, h0, U, mask, m, d, gamma_h]


CASES = list(
    itertools.product((False, True), (False, True), (None, "full", "expected"), (False, True))
)


def assert_same(found: list[torch.Tensor], expected: list[torch.Tensor], tolerance: float):
    assert len(found) == len(expected)
    for a, b in zip(found, expected):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance)


@built
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("case", CASES)
def test_cpp_forward_computes_the_python_forward(case, dtype, tolerance):
    args = inputs(dtype, *case)
    expected = gru.python_forward(*args)
    found = gru.forward(*args)
    assert_same(found, expected, tolerance)
    generator = torch.Generator().manual_seed(1)
    dS = torch.randn(expected[0].shape, generator=generator, dtype=torch.float64).to(dtype)
    dS[0] = 0
    grads_after_python = gru.backward(*args, expected, [dS])
    grads_after_cpp = gru.backward(*args, found, [dS])
    assert_same(grads_after_cpp, grads_after_python, tolerance * 10)


@built
@pytest.mark.parametrize("threads", [1, 2, 6])
@pytest.mark.parametrize("batch", [19, 5, 1])
@pytest.mark.parametrize("case", CASES[::3])
def test_full_tiles_panels_and_threads(case, batch, threads):
    """Batches of whole register tiles and of remainders, with U's panels split over threads
    when the batch has fewer tiles than there are threads; H = 21 leaves a panel part empty."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        args = inputs(torch.float64, *case, size=(4, batch, 21))
        assert_same(gru.forward(*args), gru.python_forward(*args), 1e-12)
    finally:
        torch.set_num_threads(previous)


@built
def test_wrong_inputs_are_one_error():
    A, h0, U, *_ = inputs(torch.float64, False, False, None, False)
    with pytest.raises(RuntimeError, match=r"U must be \(3H, H\)"):
        cpp.ops().gru_forward(A, h0, U[:-1], None, None, None, None, 1e-5)
    with pytest.raises(RuntimeError, match="do not agree"):
        cpp.ops().gru_forward(A[..., :-1], h0, U, None, None, None, None, 1e-5)
    with pytest.raises(RuntimeError, match="of A's dtype"):
        cpp.ops().gru_forward(A, h0.float(), U, None, None, None, None, 1e-5)


@built
def test_the_states_do_not_depend_on_the_thread_count():
    """Each row's sums run in the same order on any threads: a run resumed on another machine
    continues bit for bit."""
    args = inputs(torch.float32, True, True, "full", True, size=(6, 19, 21))
    previous = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 6):
            torch.set_num_threads(threads)
            results.append(gru.forward(*args))
    finally:
        torch.set_num_threads(previous)
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))
