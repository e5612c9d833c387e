"""kill -9 at random moments, some in the middle of a checkpoint, then --resume: the run folder
always holds a loadable checkpoint, and the resumed run ends exactly where an uninterrupted one
does (same losses, same weights: CPU training is deterministic).

Each run is a real `rnnkit train` process, killed with SIGKILL. checkpoint.PAUSE_ENV makes each
save sleep between its tensor files and its commit, so that some kills land while a checkpoint is
half written.
"""

import json
import random
import shutil
import signal
import subprocess
import time

import torch

from conftest import finish, rnnkit_process
from rnnkit.cli.main import main
from rnnkit.tasks.text import TextTask
from rnnkit.train import checkpoint

TEXT = "It was the best of times, it was the worst of times.\n" * 20
TINY = ["--hidden", "12", "--layers", "2", "--dropout", "0.2", "--batch-size", "4"]
TINY += ["--seq-len", "8", "--sample-length", "1", "--no-progress", "--device", "cpu"]
STEPS = ["--steps", "12", "--eval-every", "2"]
KILLS = 12


def start(argv: list[str]) -> subprocess.Popen:
    return rnnkit_process(argv, **{checkpoint.PAUSE_ENV: "0.03"})


def committed_stem(run) -> str | None:
    path = run / checkpoint.TRAINING / checkpoint.STATE
    return json.loads(path.read_text())["files"] if path.exists() else None


def uncommitted(run) -> set[str]:
    """The checkpoints being written: tensor files that state.json does not name (yet)."""
    stem = committed_stem(run)
    files = (run / checkpoint.TRAINING).glob("step-*.safetensors")
    return {f.name.split(".")[0] for f in files} - {stem}


def kill_at_random(process, run, rng, startup: float, duration: float, mid_save: bool) -> bool:
    """SIGKILL at a random moment of a run that trains for about `duration` seconds after
    `startup` seconds of imports, or during its first or second save; True when the kill landed
    while a checkpoint was half written."""
    deadline = time.monotonic() + (60 if mid_save else startup + rng.uniform(0.0, duration))
    saves, target = set(), rng.randint(1, 2)
    while time.monotonic() < deadline and process.poll() is None:
        saves |= uncommitted(run)
        if mid_save and len(saves) >= target and uncommitted(run):
            time.sleep(rng.uniform(0.0, 0.02))
            break
        time.sleep(0.002)
    during = bool(uncommitted(run))
    process.kill()
    finish(process)
    return during


def assert_loadable(run) -> None:
    task = TextTask.from_run(run, checkpoint.read_config(run))
    optimizer = torch.optim.AdamW(task.model.parameters())
    state, _carry = checkpoint.load_training_state(run, task.model, optimizer)
    assert state["files"] == committed_stem(run)


def final(run) -> tuple[list, dict]:
    state = json.loads((run / checkpoint.TRAINING / checkpoint.STATE).read_text())
    losses = [(e["train_loss"], e["valid_loss"]) for e in state["progress"]["history"]]
    stem = state["files"]
    weights = checkpoint.load_tensors(run / checkpoint.TRAINING / f"{stem}.model.safetensors")
    return losses, weights


def test_kill_9_at_random_moments_then_resume_ends_at_the_uninterrupted_result(tmp_path):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    new_run = ["train", "text", str(source), *TINY, *STEPS, "--out", str(tmp_path / "cut")]
    started = time.monotonic()
    assert finish(rnnkit_process(["--version"])) == 0
    startup = time.monotonic() - started  # of a new process, before it trains
    started = time.monotonic()
    assert finish(start([*new_run[:-1], str(tmp_path / "whole")])) == 0  # the uninterrupted run
    duration = time.monotonic() - started - startup

    rng = random.Random(8)
    run, kills, mid_save = tmp_path / "cut", 0, 0
    while kills < KILLS:
        if committed_stem(run) is None:  # killed before the first checkpoint: start again
            shutil.rmtree(run, ignore_errors=True)
            process = start(new_run)
        else:
            process = start(["train", "--resume", str(run), "--no-progress"])
        mid_save += kill_at_random(process, run, rng, startup, duration, kills % 2 == 1)
        if process.returncode == 0:  # it finished first: start a new run to kill
            shutil.rmtree(run)
            continue
        assert process.returncode == -signal.SIGKILL
        kills += 1
        if committed_stem(run) is not None:
            assert_loadable(run)
    assert mid_save >= 3  # some kills really hit a half-written checkpoint

    if committed_stem(run) is None:
        shutil.rmtree(run, ignore_errors=True)
    resume = ["train", "--resume", str(run), "--no-progress"]
    assert main(resume if committed_stem(run) else new_run) == 0
    losses, weights = final(run)
    whole_losses, whole_weights = final(tmp_path / "whole")
    assert losses == whole_losses and len(losses) == 6
    for name, tensor in whole_weights.items():
        assert torch.equal(weights[name], tensor), name
