"""Run folders and checkpoints: atomic writes, exact resume, and clear errors for bad folders."""

import io
import json
import os
import re
import signal

import pytest
import safetensors.torch
import torch

from conftest import FaultAt
from rnnkit.errors import RnnkitError
from rnnkit.models.language import LanguageModelConfig
from rnnkit.tasks.registry import load_run
from rnnkit.tasks.text import TextDataConfig, TextTask
from rnnkit.train import checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import fit, seed_everything

TEXT = "It was the best of times, it was the worst of times.\n" * 10


def make_task(source) -> TextTask:
    seed_everything(3)
    data = TextDataConfig(source=str(source), batch_size=4, seq_len=6, split="80/20/0")
    model = LanguageModelConfig(hidden_size=12, num_layers=2, dropout=0.3)  # dropout: RNG matters
    return TextTask.new(data, model)


def quiet_fit(task, config, run, **kwargs):
    return fit(task, config, run, show_progress=False, out=io.StringIO(), **kwargs)


def press_ctrl_c(loss):
    """A real SIGINT during the step: the loop finishes the step, saves and stops."""
    os.kill(os.getpid(), signal.SIGINT)
    return loss


def ctrl_c_at(task: TextTask, at: int) -> FaultAt:
    return FaultAt(task, at, press_ctrl_c)


def without_time(history):
    """The history without its wall-clock columns (the only ones a resume may change)."""
    return [{k: v for k, v in e.items() if k not in ("time", "items_per_s")} for e in history]


def test_ctrl_c_finishes_the_step_saves_and_returns(tmp_path):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    run = tmp_path / "run"
    # SIGINT starts ignored under nohup or in a background job: put back whatever was there.
    before = signal.getsignal(signal.SIGINT)
    result = quiet_fit(ctrl_c_at(make_task(source), at=5), TrainConfig(steps=20, eval_every=3), run)
    assert result.status == "interrupted" and result.step == 5
    assert json.loads((run / "training" / "state.json").read_text())["step"] == 5
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


def test_ctrl_c_before_the_first_evaluation_points_to_no_weights(tmp_path):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    run, out = tmp_path / "run", io.StringIO()
    task = ctrl_c_at(make_task(source), at=2)
    fit(task, TrainConfig(steps=20, eval_every=10), run, show_progress=False, out=out)
    assert "no evaluation yet, so no best weights" in out.getvalue()
    assert not (run / checkpoint.BEST_MODEL).exists()


@pytest.mark.parametrize("ema", [0.0, 0.9])  # with --ema the average is resumed too
def test_resume_after_ctrl_c_equals_an_uninterrupted_run(tmp_path, ema):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    config = TrainConfig(steps=14, eval_every=4, warmup=3, lr=1e-2, ema=ema)

    whole = quiet_fit(make_task(source), config, tmp_path / "whole")

    cut = quiet_fit(ctrl_c_at(make_task(source), at=6), config, tmp_path / "cut")
    assert cut.status == "interrupted" and cut.step == 6
    seed_everything(999)  # the resumed run must not depend on the random state it starts in
    saved = checkpoint.read_config(tmp_path / "cut")
    resumed_task = TextTask.from_run(tmp_path / "cut", saved, with_data=True)
    resumed = quiet_fit(
        resumed_task, TrainConfig(**saved["train_config"]), tmp_path / "cut", resume=True
    )

    assert resumed.status == "finished" and resumed.step == 14
    assert without_time(resumed.history) == without_time(whole.history)
    best_whole = load_run(tmp_path / "whole")
    best_resumed = load_run(tmp_path / "cut")
    for a, b in zip(best_whole.model.parameters(), best_resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert (tmp_path / "cut" / "metrics.csv").read_text().count("\n") == len(whole.history) + 1


def test_only_the_latest_training_state_is_kept(tmp_path):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    quiet_fit(make_task(source), TrainConfig(steps=4, eval_every=2), tmp_path / "run")
    names = sorted(p.name for p in (tmp_path / "run" / "training").iterdir())
    assert names == [
        "state.json",
        "step-0000004.model.safetensors",
        "step-0000004.state.safetensors",
    ]


def test_resume_a_run_changed_text_is_refused(tmp_path):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    quiet_fit(make_task(source), TrainConfig(steps=2, eval_every=2), tmp_path / "run")
    source.write_text(TEXT + "more", encoding="utf-8")
    with pytest.raises(RnnkitError, match="not the data this run started with"):
        TextTask.from_run(
            tmp_path / "run", checkpoint.read_config(tmp_path / "run"), with_data=True
        )


@pytest.fixture
def finished_run(tmp_path):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    run = tmp_path / "run"
    quiet_fit(make_task(source), TrainConfig(steps=2, eval_every=2), run)
    return run


def test_a_run_from_another_format_version_is_refused(finished_run):
    config = json.loads((finished_run / "config.json").read_text())
    config["version"] = 99
    (finished_run / "config.json").write_text(json.dumps(config))
    with pytest.raises(RnnkitError, match="run format 99; this rnnkit reads format 1"):
        load_run(finished_run)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("model.safetensors", "corrupt"),
        ("config.json", "corrupt"),
        ("vocab.json", "corrupt"),
    ],
)
def test_corrupt_files_are_refused(finished_run, name, message):
    (finished_run / name).write_bytes(b"\x00garbage")
    with pytest.raises(RnnkitError, match=message):
        load_run(finished_run)


def test_weights_that_are_not_finite_are_refused(finished_run):
    """A run that diverged (or a damaged file) is refused at load: a NaN model sampled nonsense,
    crashed generate and visualize, and evaluated to 'loss nan' with status 0."""
    path = finished_run / "model.safetensors"
    tensors = checkpoint.load_tensors(path)
    name = sorted(tensors)[0]
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    safetensors.torch.save_file(tensors, str(path))
    with pytest.raises(RnnkitError, match=f"{name} holds NaN or infinite values"):
        load_run(finished_run)


def test_a_corrupt_training_state_is_refused(finished_run):
    state = finished_run / "training" / "state.json"
    stem = json.loads(state.read_text())["files"]
    (finished_run / "training" / f"{stem}.state.safetensors").write_bytes(b"junk")
    task = TextTask.from_run(finished_run, checkpoint.read_config(finished_run))
    optimizer = torch.optim.AdamW(task.model.parameters())
    with pytest.raises(RnnkitError, match="corrupt"):
        checkpoint.load_training_state(finished_run, task.model, optimizer)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(RnnkitError, match="not an rnnkit run folder"):
        load_run(tmp_path)


def test_a_new_run_folder_says_what_is_in_its_way(finished_run, tmp_path):
    """Only a run is offered --resume; a file or a folder of other files is named as such."""
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    expected = {
        finished_run: "already holds a run; choose another --out or continue it with `rnnkit",
        tmp_path / "notes.txt": "is a file; choose another --out (a new or empty folder)",
        tmp_path / "photos": "already exists and holds files that are not a run; choose another",
    }
    for path, message in expected.items():
        with pytest.raises(RnnkitError, match=re.escape(f"{path} {message}")):
            checkpoint.check_run_folder(path)
    # A run stopped before its first checkpoint (a nan loss at step 1, say) can be removed.
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "config.json").write_text("{}")
    with pytest.raises(RnnkitError, match="stopped before its first checkpoint; remove the folder"):
        checkpoint.check_run_folder(stopped)
    (tmp_path / "empty").mkdir()
    checkpoint.check_run_folder(tmp_path / "empty")
    checkpoint.check_run_folder(tmp_path / "new" / "run")


def test_optimizer_state_round_trips(finished_run, tmp_path):
    task = TextTask.from_run(finished_run, checkpoint.read_config(finished_run))
    optimizer = torch.optim.AdamW(task.model.parameters(), lr=0.5)
    task.model(torch.zeros(1, 3, dtype=torch.long))[0].sum().backward()
    optimizer.step()
    run = checkpoint.create_run_folder(tmp_path / "copy")
    checkpoint.save_training_state(run, task.model, optimizer, None, {"step": 1})
    fresh = torch.optim.AdamW(task.model.parameters(), lr=0.1)
    state, carry = checkpoint.load_training_state(run, task.model, fresh)
    assert carry is None and state["step"] == 1
    before, after = optimizer.state_dict(), fresh.state_dict()
    assert after["param_groups"][0]["lr"] == 0.5
    for index, moments in before["state"].items():
        for key, value in moments.items():
            assert torch.equal(after["state"][index][key], value), key


def test_the_same_step_saved_again_never_overwrites_the_committed_files(finished_run, tmp_path):
    task = TextTask.from_run(finished_run, checkpoint.read_config(finished_run))
    optimizer = torch.optim.AdamW(task.model.parameters())
    run = checkpoint.create_run_folder(tmp_path / "again")
    stems = []
    for _ in range(3):
        checkpoint.save_training_state(run, task.model, optimizer, None, {"step": 7})
        stems.append(json.loads((run / "training" / "state.json").read_text())["files"])
    assert stems == ["step-0000007", "step-0000007-b", "step-0000007"]
    names = sorted(p.name for p in (run / "training").iterdir())
    assert names == ["state.json", *(f"step-0000007.{k}.safetensors" for k in ("model", "state"))]
