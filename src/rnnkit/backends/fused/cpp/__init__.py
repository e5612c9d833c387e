"""The fused kernels' time loops in C++ (lstm.cpp, gru.cpp, gru_after.cpp, rnn.cpp), compiled
on this machine at first use.

At small batches and widths a step of the Python loop costs as much in Python's calls of its
element-wise kernels as in the kernels themselves, beside a library product that does not gain
from a second thread; the C++ loop runs a step as one parallel region: a matrix product of its
own and one vectorised pass over the gates (see lstm.cpp, gemm.h, docs/PERFORMANCE.md). It
computes what the Python kernel computes (same inputs, same outputs:
tests/test_cpp_kernels.py), for float32 and float64 on CPU; other dtypes and devices stay on
the Python kernel.

Compiled by torch.utils.cpp_extension (a C++ compiler and ninja) for this CPU's vector
instructions, once, into torch's extension cache (~/.cache/torch_extensions, or
$TORCH_EXTENSIONS_DIR): 20-40 s the first time, a load after. Where it cannot be
built (no compiler), a one-line warning says so and the Python kernel runs, exact and slower.
RNNKIT_CPP=0 turns it off (RNNKIT_CPP=1 makes a failed build an error, as CI sets it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import torch

SOURCES = [
    Path(__file__).with_name(name)
    for name in ("lstm.cpp", "gru.cpp", "gru_after.cpp", "rnn.cpp", "linear.cpp")
]
HEADERS = [Path(__file__).with_name(name) for name in ("buffers.h", "gemm.h", "rows.h", "checks.h")]

# torch's CPU capability -> the compiler flags for its vector width (ATen's Vectorized, and the
# register size of gemm.h); any other capability builds for the compiler's default.
_VECTOR_FLAGS = {
    "AVX2": ["-mavx2", "-mfma", "-mf16c", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"],
    "AVX512": [
        "-mavx512f",
        "-mavx512bw",
        "-mavx512vl",
        "-mavx512dq",
        "-mfma",
        "-mf16c",
        "-DCPU_CAPABILITY=AVX512",
        "-DCPU_CAPABILITY_AVX512",
    ],
}


def _setting() -> str:
    return os.environ.get("RNNKIT_CPP", "auto").strip().lower()


@cache
def ops() -> object | None:
    """torch.ops.rnnkit_cpp once it is built and loaded; None where it is off or cannot be
    built (then a warning says why, once)."""
    setting = _setting()
    if setting in ("0", "off", "no", "false"):
        return None
    try:
        _build()
    except Exception as error:  # no compiler, no ninja, a header torch does not ship, ...
        if setting in ("1", "on", "yes", "true"):
            raise RuntimeError(f"rnnkit's C++ kernels did not build: {error}") from error
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        warnings.warn(
            "rnnkit: its C++ kernels did not build here, so the fused LSTM, GRU and RNN run "
            f"their Python loops (exact, slower at small sizes): {first_line}",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return torch.ops.rnnkit_cpp


def _build() -> None:
    from torch.utils import cpp_extension

    capability = torch.backends.cpu.get_cpu_capability()
    # -fopenmp: at::parallel_for is inline OpenMP in ATen's headers (serial without it); its
    # runtime is the one torch loaded, found through libtorch_cpu at load time.
    flags = ["-O3", "-fopenmp", "-ffp-contract=fast", *_VECTOR_FLAGS.get(capability, [])]
    # torch rebuilds when a .cpp changes, not when a header or torch itself does (a library
    # built against another torch's headers could crash): the name carries a hash of them all
    # (and a mark of one_builder's protocol: an rnnkit from before it never shares a folder)
    built_from = [p.read_bytes() for p in (*SOURCES, *HEADERS)]
    built_from += [torch.__version__.encode(), b"flock"]
    digest = hashlib.sha256(b"".join(built_from)).hexdigest()
    name = f"rnnkit_cpp_{capability.lower()}_{digest[:12]}"
    root = Path(cpp_extension._get_build_directory(name, verbose=False))
    with one_builder(root):
        if not any(root.glob("*.so")):
            print(
                "rnnkit: compiling its C++ kernels for this CPU (once, 20-40 s)",
                file=sys.stderr,
                flush=True,
            )
        cpp_extension.load(
            name=name,
            sources=[str(path) for path in SOURCES],
            extra_cflags=flags,
            is_python_module=False,
            verbose=False,
        )


@contextlib.contextmanager
def one_builder(root: Path) -> Iterator[None]:
    """One rnnkit process at a time builds or loads the kernels in `root`.

    torch's builder holds a lock file (root/lock) while it builds or loads, and waits, without
    end or message, while that file exists; a build killed midway (SIGKILL, SIGTERM, a job's
    time limit) leaves it there. So rnnkit's processes first take a lock of the system's
    (flock), which it lets go of when its holder dies: whoever holds it knows that no other
    rnnkit process is building, so a lock file there is a dead build's, removed once the
    compiler that build started has finished too. Where there is no flock (Windows, some network
    file systems), a lock file older than any build is taken for a dead one."""
    with contextlib.ExitStack() as held:
        if _take_flock(root, held):
            if (root / "lock").exists():
                _wait_for_orphans(root)
                (root / "lock").unlink(missing_ok=True)
        else:
            _remove_stale_lock(root)
        yield


def _take_flock(root: Path, held: contextlib.ExitStack) -> bool:
    """Wait for and take the builders' flock on root/rnnkit.lock, let go of when `held` closes;
    False where the system offers none, or the file cannot be opened (opened for reading: a
    shared cache's lock file may be another user's)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        descriptor = os.open(root / "rnnkit.lock", os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError:  # another user's, unreadable; a read-only folder (torch's lock fails too)
        return False
    held.callback(os.close, descriptor)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # waits while another rnnkit process builds
    except OSError:  # ENOLCK, ENOSYS: a file system without flock
        return False
    return True


def _wait_for_orphans(root: Path) -> None:
    """Wait while a process works in root: the compiler of a build whose Python process alone
    was killed (`kill PID`) goes on writing there, and a second build over the same files could
    load a half-written library. Linux's /proc says which; elsewhere nothing is waited for."""
    said = False
    while _working_in(root):
        if not said:
            print(
                "rnnkit: waiting for the compiler of a stopped build to finish",
                file=sys.stderr,
                flush=True,
            )
            said = True
        time.sleep(0.5)


def _working_in(root: Path) -> bool:
    """Whether any process's working folder is root (as far as /proc lets us see)."""
    proc, target = Path("/proc"), os.path.realpath(root)
    if not proc.is_dir():
        return False
    for entry in proc.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # gone, or another user's
                if os.readlink(entry / "cwd") == target:
                    return True
    return False


# No build takes this long: a lock file older is one a killed build left behind.
STALE_LOCK_SECONDS = 600


def _remove_stale_lock(root: Path) -> None:
    """Remove torch's lock file once it is older than any build."""
    lock = root / "lock"
    with contextlib.suppress(FileNotFoundError):
        if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
            lock.unlink()


def runs(x: torch.Tensor) -> bool:
    """True when the C++ kernel computes for x's device and dtype, and is built."""
    computes = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    return computes and ops() is not None
