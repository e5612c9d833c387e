"""Shared test settings and helpers: one thread per test process, the shared data folder, headless
Chromium, real `rnnkit` processes, a task with a fault injected, what a command wrote."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.backends.fused import cpp
from rnnkit.tasks.text import TextTask

# Two cores are shared by the whole suite; more threads only add contention for tiny tensors.
torch.set_num_threads(1)

# The C++ kernels are built (or loaded from torch's cache) once, here, so that no test's timing
# or captured output includes a first build (backends/fused/cpp/).
cpp.ops()

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def browser() -> str:
    """Debian's chromium; the tests skip without it unless RNNKIT_REQUIRE_CHROMIUM is set (CI)."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("RNNKIT_REQUIRE_CHROMIUM"):
            pytest.fail("RNNKIT_REQUIRE_CHROMIUM is set but chromium is not installed")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is not present")
    return SHARED_DATA


class FaultAt(TextTask):
    """The text task `task`, with `fault(loss)` applied to the loss of its training step `at`
    (a nan, a real Ctrl-C, ...): how the loop's fault handling is tested."""

    def __init__(self, task: TextTask, at: int, fault) -> None:
        super().__init__(task.data, task.model, task.vocab)
        self.train_data, self.valid, self.ids = task.train_data, task.valid, task.ids
        self.at, self.fault, self.steps = at, fault, 0

    def train_loss(self, batch, carry):
        self.steps += 1
        loss, carry = super().train_loss(batch, carry)
        return (self.fault(loss) if self.steps == self.at else loss), carry


def rnnkit_process(argv: list[str], **env: str) -> subprocess.Popen:
    """`rnnkit ARGV` as a new process with `env` added to its environment.

    A fresh interpreter, not a fork of this one: forking a process that has run torch (and its
    thread pools) can leave the child waiting forever on a lock no thread will release.
    """
    command = [sys.executable, "-m", "rnnkit", *argv]
    return subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> int:
    """Wait for `process` (killing it after `timeout` seconds, so a hang fails instead of
    stalling the suite); its exit status, and its stderr on a failure."""
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        raise AssertionError(f"rnnkit still running after {timeout} s: {stderr.decode()}") from None
    if process.returncode not in (0, -9):
        print(stderr.decode(), file=sys.stderr)
    return process.returncode


def error_line(capsys: pytest.CaptureFixture, progress: str | None = None) -> str:
    """The one line a failed command wrote to stderr, checked to be an `error: ...` line; lines
    starting with `progress` (a progress bar drawn before the error) are passed over."""
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if progress is None or not line.startswith(progress)]
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def snapshot(folder: Path) -> dict[Path, bytes]:
    """Every file below `folder` and its bytes: to check that a failed command changed nothing."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def evaluated(out: str) -> dict[str, float]:
    """The numbers `rnnkit evaluate` printed on the last line of `out` ("loss 1.2345  bpc 1.7810
    ..."), by name."""
    fields = out.strip().splitlines()[-1].split()
    return {name: float(value) for name, value in zip(fields[::2], fields[1::2], strict=True)}
