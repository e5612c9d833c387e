"""The C++ time loop of the fused LSTM (backends/fused/cpp/) against the Python one it
replaces: the same outputs and gradients from the same inputs, with every option, in float64
(to 1e-12) and float32 (to float32's rounding)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.backends.fused import cpp, lstm
from rnnkit.layers.network import build_fused_kernels

built = pytest.mark.skipif(
    cpp.ops() is None, reason="rnnkit's C++ kernels did not build here (see the warning)"
)

T, B, H = 5, 3, 7


def inputs(dtype, layer_norm, dropout, zoneout, zoneout_c, proj, seed=0, size=(T, B, H)):
    """The op's inputs with the options asked for; P = 4 with a projection (else H). The op
    adds the bias b to A, which layer norm normalises first (γ^x), as a network's LSTM passes
    them."""
    T, B, H = size
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0):
        return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).to(dtype)

    P = max(H // 2, 1) if proj else H
    A = rand(T, B, 4 * H)
    h0, c0 = rand(B, P, scale=0.5), rand(B, H, scale=0.5)
    U = rand(4 * H, P, scale=0.4)
    m = (torch.rand(B, P, generator=generator) > 0.3).to(dtype) / 0.7 if dropout else None
    d = {
        None: None,
        "full": (torch.rand(T, B, P, generator=generator) < 0.3).to(dtype),
        "padding": (torch.rand(T, B, 1, generator=generator) < 0.3).to(dtype),
        "expected": torch.full((), 0.3, dtype=dtype).expand(T, 1, 1),
    }[zoneout]
    d_c = {
        False: None,
        True: (torch.rand(T, B, H, generator=generator) < 0.3).to(dtype),
        "expected": torch.full((), 0.3, dtype=dtype).expand(T, 1, 1),
    }[zoneout_c]
    gains = (rand(4 * H, scale=0.3) + 1, rand(H, scale=0.3) + 1, rand(H, scale=0.3))
    gamma_h, gamma_c, beta_c = gains if layer_norm else (None, None, None)
    W_hr = rand(P, H, scale=0.4) if proj else None
    gamma_x, bias = rand(4 * H, scale=0.3) + 1, rand(4 * H, scale=0.3)
    gamma_x = gamma_x if layer_norm else None
    return [A, h0, c0, U, m, d, d_c, gamma_x, bias, gamma_h, gamma_c, beta_c, W_hr]


CASES = [
    (layer_norm, dropout, zoneout, zoneout_c, proj)
    for layer_norm, dropout, zoneout, zoneout_c, proj in itertools.product(
        (False, True),
        (False, True),
        (None, "full", "padding", "expected"),
        (False, True, "expected"),
        (False, True),
    )
]


def d_states(saved, dtype, seed=1):
    """Random dL/dS and dL/dC (dS[0] = 0 and dC only at c_T, as a layer passes them)."""
    generator = torch.Generator().manual_seed(seed)
    S, C = saved[0], saved[1]
    dS = torch.randn(S.shape, generator=generator, dtype=torch.float64).to(dtype)
    dS[0] = 0
    dC = torch.zeros_like(C)
    dC[-1] = torch.randn(C[-1].shape, generator=generator, dtype=torch.float64).to(dtype)
    return [dS, dC]


@built
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("case", CASES)
def test_cpp_loop_computes_the_python_loop(case, dtype, tolerance):
    args = inputs(dtype, *case)
    expected = lstm.python_forward(*args)
    found = lstm.forward(*args, True)
    assert len(found) == len(expected)
    for a, b in zip(found, expected):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance)
    grads = d_states(expected, dtype)
    expected_grads = lstm.python_backward(*args, expected, grads)
    found_grads = lstm.backward(*args, True, found, grads)
    assert len(found_grads) == len(expected_grads)
    for a, b in zip(found_grads, expected_grads):
        torch.testing.assert_close(a, b, rtol=tolerance * 10, atol=tolerance * 10)


def matches_on_threads(threads: int, cases: list, size: tuple[int, int, int]) -> None:
    """The C++ loop's forward and backward equal the Python loop's in float64 for each case,
    on `threads` threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for case in cases:
            args = inputs(torch.float64, *case, size=size)
            expected, found = lstm.python_forward(*args), lstm.forward(*args, True)
            for a, b in zip(found, expected):
                torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
            grads = d_states(expected, torch.float64)
            found_grads = lstm.backward(*args, True, found, grads)
            for a, b in zip(found_grads, lstm.python_backward(*args, expected, grads)):
                torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)
    finally:
        torch.set_num_threads(before)


@built
@pytest.mark.parametrize("threads", [1, 2, 6])
@pytest.mark.parametrize("batch", [19, 5])
@pytest.mark.parametrize("case", CASES[::3])
def test_full_tiles_panels_and_threads(case, batch, threads):
    """Sizes past one register tile (8 rows) and one panel (32 units), with a ragged last one
    of each, on one thread and more (the per-thread sums of layer norm's gains): 19 rows on 2
    threads split by rows alone, 5 rows on 2 and either batch on 6 split U's panels too."""
    matches_on_threads(threads, [case], size=(4, batch, 41))


@built
@pytest.mark.parametrize("threads", [1, 2])
def test_the_input_part_with_or_without_bias_and_layer_norm(threads):
    """Without a bias (a network with bias=False): γ^x alone, or neither (the input's layer
    norm left outside the op) beside the recurrent layer norm, or no layer norm at all; and the
    bias without γ^x beside the recurrent layer norm. On one thread and two (the gains' sums)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    cases = [  # (layer norm, keep γ^x, keep b)
        (True, True, False),
        (True, False, False),
        (True, False, True),
        (False, False, False),
    ]
    try:
        for layer_norm, keep_gamma, keep_bias in cases:
            args = inputs(torch.float64, layer_norm, True, "full", True, False, size=(4, 9, 11))
            args[7] = args[7] if keep_gamma else None  # γ^x
            args[8] = args[8] if keep_bias else None  # b
            expected, found = lstm.python_forward(*args), lstm.forward(*args, True)
            assert len(found) == len(expected) == 6 + layer_norm * 6 + keep_gamma * 2
            for a, b in zip(found, expected):
                torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
            grads = d_states(expected, torch.float64)
            found_grads = lstm.backward(*args, True, found, grads)
            expected_grads = lstm.python_backward(*args, expected, grads)
            assert len(found_grads) == len(expected_grads)
            assert len(found_grads) == 4 + layer_norm * 3 + keep_gamma + keep_bias
            for a, b in zip(found_grads, expected_grads):
                torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)
    finally:
        torch.set_num_threads(before)


@built
def test_layer_norm_gradients_do_not_depend_on_the_thread_count():
    """The gains' gradients are summed per batch row, then over the rows in order, so 1 and 2
    threads give the same bits: a run resumed on another thread count continues exactly. (dU is
    one library GEMM after the loop, whose sums may move with the threads beyond 2.)"""
    args = inputs(torch.float32, True, True, "full", True, False, size=(6, 19, 41))
    before = torch.get_num_threads()
    found = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            saved = lstm.forward(*args, True)
            grads = lstm.backward(*args, True, saved, d_states(saved, torch.float32))
            found.append([*saved, *grads])
    finally:
        torch.set_num_threads(before)
    for other in found[1:]:
        for a, b in zip(found[0], other):
            assert torch.equal(a, b)


@built
def test_the_input_layer_norm_needs_the_recurrent_one():
    args = inputs(torch.float64, True, False, None, False, False)
    args[9:12] = [None, None, None]  # γ^h, γ^c, β^c
    with pytest.raises(RuntimeError, match=r"gamma_x \(the input.s layer norm\) comes with"):
        lstm.forward(*args, True)


@built
def test_weights_packed_on_several_threads():
    """U and W_hr large enough that their panels are packed by more than one thread (over 64K
    elements: 4H = 640 columns of 160 here), transposed for the forward and not for the
    backward, with a ragged last panel (P = 80 with the projection)."""
    cases = [(False, False, None, False, False), (True, True, "full", True, True)]
    matches_on_threads(2, cases, size=(2, 3, 160))


@built
@pytest.mark.parametrize("threads", [1, 2])
def test_weights_too_large_for_l2_fetch_their_next_panel(threads):
    """At H = 256 in float64 U's panels take 2 MB, over a quarter of L2 on CPUs with less than 8
    MB of it (gemm.h's `streamed`): the tiles of rows of each panel fetch the next one ahead,
    forward and backward; 17 rows: on one thread two whole tiles that share the fetch and a
    ragged one, on two threads (rows 8 and 9) one whole tile each that fetches alone."""
    cases = [(False, False, None, False, False), (True, True, "full", True, False)]
    matches_on_threads(threads, cases, size=(2, 17, 256))


@built
@pytest.mark.parametrize("case", CASES[::7])
def test_either_backward_reads_either_forward(case):
    args = inputs(torch.float64, *case)
    from_python, from_cpp = lstm.python_forward(*args), lstm.forward(*args, True)
    grads = d_states(from_python, torch.float64)
    cpp_of_python = lstm.backward(*args, True, from_python, grads)
    python_of_cpp = lstm.python_backward(*args, from_cpp, grads)
    for a, b in zip(cpp_of_python, python_of_cpp):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@built
def test_wrong_shapes_are_one_error():
    args = inputs(torch.float64, False, True, None, False, False)
    wrong_U = [*args[:3], torch.zeros(4 * H, H + 1, dtype=torch.float64), *args[4:]]
    with pytest.raises(RuntimeError, match=r"U must be \(4H, P\)"):
        lstm.forward(*wrong_U, True)
    wrong_m = [*args[:4], torch.ones(B + 1, H, dtype=torch.float64), *args[5:]]
    with pytest.raises(RuntimeError, match="m of shape"):
        lstm.forward(*wrong_m, True)
    wrong_dtype = [*args[:3], args[3].float(), *args[4:]]
    with pytest.raises(RuntimeError, match="of A's dtype"):
        lstm.forward(*wrong_dtype, True)


@built
def test_a_broadcast_mask_is_the_full_one():
    args = inputs(torch.float64, False, True, None, False, False)
    row = args[4][:1]  # (1, P): the same mask for every sequence
    full = [*args[:4], row.expand(B, H).clone(), *args[5:]]
    broadcast = [*args[:4], row, *args[5:]]
    saved = lstm.forward(*full, True)
    torch.testing.assert_close(lstm.forward(*broadcast, True), saved, rtol=0, atol=0)
    grads = d_states(saved, torch.float64)
    expected = lstm.backward(*full, True, saved, grads)
    torch.testing.assert_close(lstm.backward(*broadcast, True, saved, grads), expected)


@built
def test_large_buffers_come_back_once_free_and_never_while_held():
    """buffers.h: a training call's large buffers (the gates Y, layer norm's U v_t, and dA and du
    in backward; 8.4 MB each here, over its 1 MB floor) are handed out again at a later call
    once no tensor holds them, never while one does, and the results stay the same."""
    args = inputs(torch.float32, True, False, None, False, False, size=(64, 32, 256))
    first = lstm.forward(*args, True)
    large = [2, 4]  # Y and U v_t among the outputs
    held = lstm.forward(*args, True)  # while `first` holds its buffers: others
    assert {held[i].data_ptr() for i in large}.isdisjoint(first[i].data_ptr() for i in large)
    torch.testing.assert_close(held, first, rtol=0, atol=0)
    grads = d_states(first, torch.float32)
    expected = lstm.backward(*args, True, first, grads)
    seen = {x.data_ptr() for x in (*first, *held, *expected)}
    values = [x.clone() for x in expected]
    del first, held, expected
    again = lstm.forward(*args, True)
    assert {again[i].data_ptr() for i in large} <= seen  # freed buffers, handed out again
    torch.testing.assert_close(lstm.backward(*args, True, again, grads), values, rtol=0, atol=0)


@built
def test_the_states_of_an_inference_call_come_back_once_free():
    """buffers.h: S, the states h_0..h_T (8.4 MB here), is handed out again to a later call once
    no tensor holds it (a view of it included), never while one does, and is not given back to
    the allocator meanwhile (a tensor of its size made in between gets other memory)."""
    args = inputs(torch.float32, False, False, None, False, False, size=(256, 32, 256))
    first = lstm.forward(*args, False)
    values = [x.clone() for x in first]
    outputs = first[0][1:]  # what a layer returns: a view of S
    address = first[0].data_ptr()
    del first
    held = lstm.forward(*args, False)
    assert held[0].data_ptr() != address
    del outputs, held
    other = torch.empty_like(values[0])
    again = lstm.forward(*args, False)
    assert again[0].data_ptr() == address != other.data_ptr()
    torch.testing.assert_close(again, values, rtol=0, atol=0)


@built
def test_a_forward_without_save_has_no_backward():
    args = inputs(torch.float64, False, False, None, False, False)
    unsaved = lstm.forward(*args, False)
    with pytest.raises(RuntimeError, match="save=False"):
        lstm.backward(*args, True, unsaved, d_states(unsaved, torch.float64))


@built
@pytest.mark.parametrize("scale", [30.0, 1e4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_pre_activations_saturate_as_in_python(scale, dtype):
    args = inputs(dtype, False, False, None, False, False)
    args[0] = args[0] * scale  # gates at 0 and 1, c~ at -1 and 1: exp overflows to inf
    found, expected = lstm.forward(*args, True), lstm.python_forward(*args)
    for a, b in zip(found, expected):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("steps", [T, T - 1])  # c_T in either of C's two slots
@pytest.mark.parametrize("runs_cpp", [True, False])
@pytest.mark.parametrize("case", CASES[::5])
def test_without_save_the_states_are_the_same(case, runs_cpp, steps, monkeypatch):
    if not runs_cpp:
        monkeypatch.setattr(cpp, "runs", lambda x: False)
    elif cpp.ops() is None:
        pytest.skip("rnnkit's C++ kernels did not build here")
    args = inputs(torch.float64, *case, size=(steps, B, H))
    saved, unsaved = lstm.forward(*args, True), lstm.forward(*args, False)
    assert len(unsaved) == len(saved)
    torch.testing.assert_close(unsaved[0], saved[0], rtol=0, atol=0)  # S
    assert unsaved[1].shape == (2, *saved[1].shape[1:])  # C: two steps' slots, c_T the last
    torch.testing.assert_close(unsaved[1][-1], saved[1][-1], rtol=0, atol=0)
    for a, b in zip(unsaved[2:], saved[2:]):  # one step of what backward reads
        assert a.shape == (1, *b.shape[1:])


@pytest.fixture
def fresh_loader(monkeypatch):
    """cpp.ops() decided again in the test, and again after it (its answer is cached)."""
    cpp.ops.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    cpp.ops.cache_clear()


def failing_build():
    raise OSError("c++: command not found\nmore lines of the compiler's output")


def test_off_by_the_environment(fresh_loader):
    fresh_loader.setenv("RNNKIT_CPP", "0")
    fresh_loader.setattr(cpp, "_build", failing_build)  # never tried
    assert cpp.ops() is None
    args = inputs(torch.float64, False, False, None, False, False)
    assert not cpp.runs(args[0])
    found = lstm.forward(*args, True)
    torch.testing.assert_close(found, lstm.python_forward(*args), rtol=0, atol=0)


def test_a_failed_build_warns_once_and_runs_python(fresh_loader):
    fresh_loader.delenv("RNNKIT_CPP", raising=False)
    fresh_loader.setattr(cpp, "_build", failing_build)
    with pytest.warns(RuntimeWarning, match="did not build here.*c\\+\\+: command not found"):
        assert cpp.ops() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cpp.ops() is None  # decided once


def test_a_failed_build_is_an_error_where_required(fresh_loader):
    fresh_loader.setenv("RNNKIT_CPP", "1")
    fresh_loader.setattr(cpp, "_build", failing_build)
    with pytest.raises(RuntimeError, match="C\\+\\+ kernels did not build: c\\+\\+: command"):
        cpp.ops()


def test_other_dtypes_and_devices_run_python():
    assert not cpp.runs(torch.zeros(2, dtype=torch.bfloat16))
    assert not cpp.runs(torch.zeros(2, device="meta"))


def test_builds_for_a_model_that_trains_on_it(monkeypatch):
    calls = []
    monkeypatch.setattr(cpp, "ops", lambda: calls.append(1))
    build_fused_kernels(rnnkit.LSTM(2, 3))  # torch's kernel trains it
    build_fused_kernels(rnnkit.LSTM(2, 3, layer_norm=True, dtype=torch.bfloat16))
    build_fused_kernels(rnnkit.RNN(2, 3, nonlinearity="identity"))  # the loop backend's
    assert calls == []
    network = rnnkit.LSTM(2, 3, num_layers=2, layer_norm=True)
    build_fused_kernels(torch.nn.Sequential(torch.nn.Linear(2, 2), network))
    assert calls == [1]
    for network in (rnnkit.GRU(2, 3), rnnkit.GRU(2, 3, reset="after"), rnnkit.RNN(2, 3)):
        build_fused_kernels(network)  # trained on fused, whose loops are C++
    assert calls == [1, 1, 1, 1]


def test_a_lock_left_by_a_killed_build_is_removed(tmp_path):
    lock = tmp_path / "lock"
    lock.touch()
    cpp._remove_stale_lock(tmp_path)
    assert lock.exists()  # a build may be running now
    old = time.time() - cpp.STALE_LOCK_SECONDS - 1
    os.utime(lock, (old, old))
    cpp._remove_stale_lock(tmp_path)
    assert not lock.exists()
    cpp._remove_stale_lock(tmp_path)  # and none is fine


# A process that takes the builders' lock, leaves torch's lock file as a build killed midway
# does, says so, and waits to be killed.
KILLED_BUILD = """
import sys, time
from pathlib import Path
from rnnkit.backends.fused import cpp
root = Path(sys.argv[1])
with cpp.one_builder(root):
    (root / "lock").touch()
    print("building", flush=True)
    time.sleep(60)
"""


@pytest.mark.skipif(os.name != "posix", reason="flock: POSIX")
def test_a_build_killed_midway_leaves_nothing_that_blocks_the_next(tmp_path):
    builder = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert builder.stdout.readline() == "building\n"
        assert not _lock_is_free(tmp_path)  # a live build: the next one waits for it
    finally:
        builder.kill()  # SIGKILL: no cleanup runs
        builder.wait()
        builder.stdout.close()
    lock = tmp_path / "lock"
    assert lock.exists()  # torch would wait for it without end
    assert _lock_is_free(tmp_path)
    with cpp.one_builder(tmp_path):
        assert not lock.exists()


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="/proc: Linux")
def test_the_compiler_of_a_killed_build_is_waited_for(tmp_path, capsys):
    # `kill PID` stops Python alone: the compiler it started (working in the build folder) goes
    # on writing there, and a second build beside it could load a half-written library
    (tmp_path / "lock").touch()
    working = [sys.executable, "-c", "import time; time.sleep(1.5)"]
    compiler = subprocess.Popen(working, cwd=tmp_path)
    try:
        with cpp.one_builder(tmp_path):
            assert compiler.poll() is not None  # finished before this build began
            assert not (tmp_path / "lock").exists()
    finally:
        compiler.kill()
        compiler.wait()
    assert "waiting for the compiler of a stopped build" in capsys.readouterr().err


@pytest.mark.parametrize("why", ["no flock", "unopenable"])
def test_without_flock_a_lock_file_is_a_dead_builds_only_once_old(tmp_path, monkeypatch, why):
    import errno
    import fcntl

    def no_flock(*args):
        raise OSError(errno.ENOLCK, "No locks available")

    if why == "no flock":  # a file system without flock
        monkeypatch.setattr(fcntl, "flock", no_flock)
    else:  # a lock file that cannot be opened (a folder: root may open any file)
        (tmp_path / "rnnkit.lock").mkdir()
    lock = tmp_path / "lock"
    lock.touch()
    with cpp.one_builder(tmp_path):
        assert lock.exists()  # a build may be running now
    old = time.time() - cpp.STALE_LOCK_SECONDS - 1
    os.utime(lock, (old, old))
    with cpp.one_builder(tmp_path):
        assert not lock.exists()


def _lock_is_free(root) -> bool:
    import fcntl

    with open(root / "rnnkit.lock", "a") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(held, fcntl.LOCK_UN)
        return True
