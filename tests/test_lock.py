"""One writer per run folder: a second `rnnkit train` on a folder in use gets one line and changes
nothing; a lock left by a process that no longer runs is taken over with one line."""

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import error_line, snapshot
from rnnkit.cli.main import main
from rnnkit.train.lock import LOCK, exclusive, start_time

TEXT = "It was the best of times, it was the worst of times.\n" * 20
TINY = ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "8", "--no-progress"]


@pytest.fixture
def run(tmp_path):
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    args = ["train", "text", str(tmp_path / "text.txt"), *TINY, "--steps", "2"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    return tmp_path / "run"


def test_a_second_writer_gets_one_line_and_changes_nothing(run, capsys):
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "start": start_time(os.getpid())}
    (run / LOCK).write_text(json.dumps(holder))  # as if this very process were training it
    before = snapshot(run)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--more-steps", "2", "--no-progress"]) == 2
    line = error_line(capsys)
    assert f"is being trained by process {os.getpid()}" in line and "delete" in line
    assert snapshot(run) == before


def test_a_stale_lock_is_taken_over_with_one_line(run, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    holder = {"pid": int(dead.stdout), "host": socket.gethostname(), "start": 1}
    (run / LOCK).write_text(json.dumps(holder))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--more-steps", "2", "--no-progress"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "taking it over" in notes[0]
    assert not (run / LOCK).exists()  # released at the end
    assert json.loads((run / "training" / "state.json").read_text())["step"] == 4


def test_a_lock_from_another_host_is_refused(run, capsys):
    (run / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere", "start": None}))
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    assert "on elsewhere" in error_line(capsys)


def test_the_lock_is_held_while_training_and_released_after(tmp_path):
    with exclusive(tmp_path):
        held = json.loads((tmp_path / LOCK).read_text())
        assert held["pid"] == os.getpid() and held["host"] == socket.gethostname()
        with pytest.raises(Exception, match="is being trained by process"), exclusive(tmp_path):
            pass
    assert not (tmp_path / LOCK).exists()
