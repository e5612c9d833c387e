"""kill -9 at random moments, some in the middle of a checkpoint, then --resume: the run folder
always holds a loadable checkpoint, and the resumed run ends exactly where an uninterrupted one
does (same losses, same weights: CPU training is deterministic).

Runs are forked from this process (torch already imported: they start at once) and killed with
SIGKILL. checkpoint.PAUSE_ENV makes each save sleep between its tensor files and its commit, so
that some kills land while a checkpoint is half written.
"""

import json
import multiprocessing
import os
import random
import shutil
import signal
import sys
import time

import torch

from rnnkit.cli.main import main
from rnnkit.train import checkpoint
from rnnkit.train.text import from_run

TEXT = "It was the best of times, it was the worst of times.\n" * 20
TINY = ["--hidden", "12", "--layers", "2", "--dropout", "0.2", "--batch-size", "4"]
TINY += ["--seq-len", "8", "--sample-length", "1", "--no-progress", "--device", "cpu"]
STEPS = ["--steps", "12", "--eval-every", "2"]
KILLS = 12


def _train(argv: list[str]) -> None:
    os.environ[checkpoint.PAUSE_ENV] = "0.03"
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the process ends with _exit)
    os._exit(main(argv))


def start(argv: list[str]) -> multiprocessing.Process:
    process = multiprocessing.get_context("fork").Process(target=_train, args=(argv,))
    process.start()
    return process


def committed_stem(run) -> str | None:
    path = run / checkpoint.TRAINING / checkpoint.STATE
    return json.loads(path.read_text())["files"] if path.exists() else None


def uncommitted(run) -> set[str]:
    """The checkpoints being written: tensor files that state.json does not name (yet)."""
    stem = committed_stem(run)
    files = (run / checkpoint.TRAINING).glob("step-*.safetensors")
    return {f.name.split(".")[0] for f in files} - {stem}


def kill_at_random(process, run, rng: random.Random, duration: float, mid_save: bool) -> bool:
    """SIGKILL at a random moment of a run that takes about `duration` seconds, or during its
    first or second save; True when the kill landed while a checkpoint was half written."""
    deadline = time.monotonic() + (60 if mid_save else rng.uniform(0.0, duration))
    saves, target = set(), rng.randint(1, 2)
    while time.monotonic() < deadline and process.is_alive():
        saves |= uncommitted(run)
        if mid_save and len(saves) >= target and uncommitted(run):
            time.sleep(rng.uniform(0.0, 0.02))
            break
        time.sleep(0.002)
    during = bool(uncommitted(run))
    if process.is_alive():
        os.kill(process.pid, signal.SIGKILL)
    process.join()
    return during


def assert_loadable(run) -> None:
    task = from_run(run, checkpoint.read_config(run))
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
    # The uninterrupted run, in this process: it also imports everything the forks will need.
    assert main([*new_run[:-1], str(tmp_path / "whole")]) == 0
    started = time.monotonic()
    timing = start([*new_run[:-1], str(tmp_path / "timing")])
    timing.join()
    duration = time.monotonic() - started  # of a whole forked run, as the kills will see it

    rng = random.Random(8)
    run, kills, mid_save = tmp_path / "cut", 0, 0
    while kills < KILLS:
        if committed_stem(run) is None:  # killed before the first checkpoint: start again
            shutil.rmtree(run, ignore_errors=True)
            process = start(new_run)
        else:
            process = start(["train", "--resume", str(run), "--no-progress"])
        mid_save += kill_at_random(process, run, rng, duration, mid_save=kills % 2 == 1)
        if process.exitcode == 0:  # it finished first: start a new run to kill
            shutil.rmtree(run)
            continue
        assert process.exitcode == -signal.SIGKILL
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
