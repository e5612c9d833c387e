"""kill -9 at chosen moments (before the first checkpoint, during an evaluation, in the middle of
a checkpoint, during the final save, at random), then --resume: the run folder always holds a
loadable checkpoint (or none yet, and --resume starts the run again from step 0), and the resumed
run ends exactly where an uninterrupted one does (same history, same weights: CPU training is
deterministic). For the text task (20 kills), the music task and the classify task.

Each run is a real `rnnkit train` process, killed with SIGKILL. Two test hooks of the loop
(rnnkit.train.checkpoint) choose the moments: PHASE_ENV names a file where the loop writes the
phase it enters, PAUSE_ENV makes each save sleep between its tensor files and its commit.
"""

import json
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from conftest import SHARED_DATA, finish, rnnkit_process
from rnnkit.cli.main import main
from rnnkit.tasks.registry import task_class
from rnnkit.train import checkpoint

TEXT = "It was the best of times, it was the worst of times.\n" * 40
COMMON = ["--no-progress", "--device", "cpu", "--schedule", "constant", "--warmup", "0"]
TEXT_RUN = ["--hidden", "12", "--layers", "2", "--dropout", "0.2", "--batch-size", "4"]
TEXT_RUN += ["--seq-len", "8", "--sample-length", "1", "--split", "50/50", "--steps", "13"]
TEXT_RUN += ["--eval-every", "2", *COMMON]
# Where to kill: the phase the loop has entered (PHASE_ENV), or any moment.
MOMENTS = ("train", "eval", "save", "final-eval", "final-save", "any")
PAUSE = "0.05"  # seconds each phase is held at its start, and each save half-written


def start(argv: list[str], phase_file: Path) -> subprocess.Popen:
    hooks = {checkpoint.PAUSE_ENV: PAUSE, checkpoint.PHASE_ENV: str(phase_file)}
    return rnnkit_process(argv, **hooks)


def committed_stem(run: Path) -> str | None:
    path = run / checkpoint.TRAINING / checkpoint.STATE
    return json.loads(path.read_text())["files"] if path.exists() else None


def kill_at(process, phase_file: Path, moment: str, rng: random.Random) -> str:
    """SIGKILL when the loop enters `moment` (after a random part of it), or at a random time
    ("any"); the phase it was in when killed ("" if it had not started the loop)."""
    deadline = time.monotonic() + (60 if moment != "any" else rng.uniform(2.0, 8.0))
    while time.monotonic() < deadline and process.poll() is None:
        phase = phase_file.read_text() if phase_file.exists() else ""
        if phase == moment:
            time.sleep(rng.uniform(0.0, 0.02))
            break
        time.sleep(0.002)
    process.kill()
    finish(process)
    return phase_file.read_text() if phase_file.exists() else ""


def assert_loadable(run: Path) -> None:
    """What is committed loads, as `--resume` loads it."""
    config = checkpoint.read_config(run)
    task = task_class(config["task"]).from_run(run, config)
    optimizer = torch.optim.AdamW(task.model.parameters())
    state, _carry = checkpoint.load_training_state(run, task.model, optimizer)
    assert state["files"] == committed_stem(run)


def outcome(run: Path) -> tuple[list, dict]:
    """The history (without wall-clock columns) and the last checkpoint's weights."""
    state = json.loads((run / checkpoint.TRAINING / checkpoint.STATE).read_text())
    clock = ("time", "items_per_s")
    history = [{k: v for k, v in e.items() if k not in clock} for e in state["progress"]["history"]]
    stem = state["files"]
    weights = checkpoint.load_tensors(run / checkpoint.TRAINING / f"{stem}.model.safetensors")
    return history, weights


def kill_and_resume(tmp_path: Path, new_run: list[str], kills: int, seed: int) -> set[str]:
    """Train uninterrupted into tmp_path/whole; then the same into tmp_path/cut, killed `kills`
    times at the moments of MOMENTS in turn and resumed each time; the two must end equal.
    Returns the phases the kills landed in."""
    phase_file = tmp_path / "phase"
    assert finish(start([*new_run, "--out", str(tmp_path / "whole")], phase_file)) == 0
    rng, run, landed = random.Random(seed), tmp_path / "cut", set()
    for _attempt in range(3 * kills):  # a run that finishes before its moment is started again
        if kills == 0:
            break
        phase_file.unlink(missing_ok=True)
        if (run / checkpoint.CONFIG).exists():
            process = start(["train", "--resume", str(run), "--no-progress"], phase_file)
        else:  # killed before it wrote its settings: the folder holds nothing to resume
            shutil.rmtree(run, ignore_errors=True)
            process = start([*new_run, "--out", str(run)], phase_file)
        moment = MOMENTS[kills % len(MOMENTS)]
        phase = kill_at(process, phase_file, moment, rng)
        if process.returncode == 0:  # it finished before the moment came: train it again
            shutil.rmtree(run)
            continue
        assert process.returncode == -signal.SIGKILL
        landed.add(phase)
        kills -= 1
        if committed_stem(run) is not None:
            assert_loadable(run)
    assert kills == 0, f"{kills} kills did not land"
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    (history, weights), (whole_history, whole_weights) = outcome(run), outcome(tmp_path / "whole")
    assert history == whole_history
    assert weights.keys() == whole_weights.keys()
    for name, tensor in whole_weights.items():
        assert torch.equal(weights[name], tensor), name
    return landed


# 20 processes started and killed: well within the suite's 300 s on an idle machine, not on a
# loaded one, where each start of Python and torch takes seconds.
@pytest.mark.timeout(1200)
def test_text_run_killed_20_times_ends_where_an_uninterrupted_one_does(tmp_path):
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    landed = kill_and_resume(tmp_path, ["train", "text", str(tmp_path / "text.txt"), *TEXT_RUN],
                             kills=20, seed=8)  # fmt: skip
    assert set(MOMENTS) - {"any"} <= landed, landed


@pytest.mark.timeout(600)
def test_music_run_killed_and_resumed(tmp_path):
    jsb = SHARED_DATA / "jsb-chorales-quarter.json"
    if not jsb.is_file():
        pytest.skip(f"{jsb} is not present")
    music = ["train", "music", "--corpus", str(jsb), "--limit", "8", "--hidden", "8"]
    music += ["--layers", "1", "--batch-size", "2", "--steps", "9", "--eval-every", "2", *COMMON]
    landed = kill_and_resume(tmp_path, music, kills=5, seed=3)
    assert {"eval", "save"} <= landed, landed


@pytest.mark.timeout(600)
def test_classify_run_killed_and_resumed(tmp_path):
    rows = [f"{label},{v},{v * 2},{-v}" for v in range(1, 13) for label in ("high", "low")]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    classify = ["train", "classify", str(tmp_path / "data.csv"), "--hidden", "6", "--batch-size"]
    classify += ["4", "--steps", "11", "--eval-every", "2", *COMMON]
    landed = kill_and_resume(tmp_path, classify, kills=5, seed=4)
    assert {"eval", "save"} <= landed, landed


@pytest.mark.timeout(600)
def test_classify_run_killed_in_and_after_its_resampling_trial_and_resumed(tmp_path):
    """Series of 3 to 6 steps: the recipe's trial (3 steps on each view, in RUN/trial/) runs
    first, then 18 steps of the run; the trial's training enters the same phases as the run's,
    so a kill may land in either (Ctrl-C in each view: tests/test_cli_classify.py)."""
    rows = [f"{label},{','.join(str(v) for v in range(1, 3 + v % 4))}" for v in range(1, 13)
            for label in ("high", "low")]  # fmt: skip
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    classify = ["train", "classify", str(tmp_path / "data.csv"), "--hidden", "6", "--batch-size"]
    classify += ["4", "--steps", "24", "--eval-every", "2", *COMMON]
    landed = kill_and_resume(tmp_path, classify, kills=6, seed=5)
    assert {"eval", "save"} <= landed, landed
    config = checkpoint.read_config(tmp_path / "cut")
    assert config["task_config"]["data"]["trial"] != ""
    assert config == checkpoint.read_config(tmp_path / "whole")
