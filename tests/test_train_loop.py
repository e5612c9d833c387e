"""The training loop: budgets, evaluation, early stopping, Ctrl-C, schedules, settings."""

import csv
import errno
import io
import json
import math
import os
import shutil
from unittest import mock

import pytest
import torch

from conftest import FaultAt
from rnnkit.devices import computes_bf16, resolve_device
from rnnkit.errors import NotFinite, RnnkitError
from rnnkit.models.language import LanguageModelConfig
from rnnkit.tasks.text import TextDataConfig, TextTask
from rnnkit.tasks.text_data import PYTHON_TEXT, TextSource
from rnnkit.train import checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import fit, seed_everything
from rnnkit.train.schedule import Schedule
from rnnkit.values import duration

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 12


def tiny_task(text: str = TEXT, **model) -> TextTask:
    seed_everything(0)
    data = TextDataConfig(
        source=PYTHON_TEXT, batch_size=4, seq_len=8, sample_length=20, split="80/20/0"
    )
    settings = {"hidden_size": 16, "num_layers": 1, "dropout": 0.0, **model}
    return TextTask.new(data, LanguageModelConfig(**settings), TextSource(data, text=text))


def quiet_fit(task, config, run, **kwargs):
    return fit(task, config, run, show_progress=False, out=io.StringIO(), **kwargs)


def test_fit_writes_the_run_folder(tmp_path):
    run = tmp_path / "run"
    result = quiet_fit(tiny_task(), TrainConfig(steps=6, eval_every=3, warmup=2), run)
    assert result.status == "finished" and result.step == 6
    assert [e["step"] for e in result.history] == [3, 6]
    for name in ("config.json", "vocab.json", "model.safetensors", "metrics.csv", "loss.png"):
        assert (run / name).is_file(), name
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(run / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert [float(r["valid_loss"]) for r in rows] == [e["valid_loss"] for e in result.history]
    assert math.isclose(float(rows[0]["valid_bpc"]), float(rows[0]["valid_loss"]) / math.log(2))
    assert "--- step 6" in (run / "samples.txt").read_text(encoding="utf-8")


def test_epoch_budget_stops_after_one_pass(tmp_path):
    task = tiny_task()
    result = quiet_fit(task, TrainConfig(epochs=1, eval_every=100), tmp_path / "run")
    assert result.step == task.train_data.batches_per_epoch
    assert [e["step"] for e in result.history] == [result.step]  # the final evaluation


def test_training_lowers_the_loss(tmp_path):
    config = TrainConfig(steps=120, eval_every=60, lr=1e-2, warmup=5)
    result = quiet_fit(tiny_task(hidden_size=32), config, tmp_path / "run")
    first, last = result.history[0], result.history[-1]
    assert first["valid_loss"] < math.log(len(set(TEXT)))
    assert last["valid_loss"] < 0.5 and last["train_loss"] < first["train_loss"]


def test_early_stopping_after_patience_evaluations_without_progress(tmp_path):
    task = tiny_task()
    task.evaluate = lambda final=False: {"loss": 1.0}  # the valid loss never improves after it
    config = TrainConfig(steps=100, eval_every=2, patience=3)
    result = quiet_fit(task, config, tmp_path / "run")
    assert result.status == "early stop"
    assert [e["step"] for e in result.history] == [2, 4, 6, 8]


def test_a_new_run_refuses_a_folder_in_use(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    with pytest.raises(RnnkitError, match="already exists"):
        quiet_fit(tiny_task(), TrainConfig(steps=2), run)
    assert [p.name for p in run.iterdir()] == ["keep.txt"]


def test_warmup_then_cosine_by_hand():
    schedule = Schedule(TrainConfig(lr=1.0, warmup=4, min_lr_ratio=0.1))
    assert schedule.lr(0, 0.0) == pytest.approx(0.25)  # (0 + 1) / 4
    assert schedule.lr(3, 0.0) == pytest.approx(1.0)
    assert schedule.lr(10, 0.5) == pytest.approx(0.1 + 0.9 * 0.5)  # cos(pi/2) = 0
    assert schedule.lr(99, 1.0) == pytest.approx(0.1)


def test_linear_decay_by_hand():
    schedule = Schedule(TrainConfig(lr=2.0, warmup=0, schedule="linear", min_lr_ratio=0.0))
    assert schedule.lr(0, 0.0) == pytest.approx(2.0)
    assert schedule.lr(10, 0.25) == pytest.approx(1.5)  # a quarter of the way down to 0
    assert schedule.lr(99, 1.0) == pytest.approx(0.0)


def test_plateau_halves_after_patience_stalls():
    schedule = Schedule(TrainConfig(lr=1.0, warmup=0, schedule="plateau", plateau_patience=2))
    for loss in (3.0, 2.0, 2.5, 2.1):  # two evaluations without beating 2.0
        schedule.after_eval(loss)
    assert schedule.lr(50, 0.5) == 0.5
    restored = Schedule(TrainConfig(lr=1.0, warmup=0, schedule="plateau"))
    restored.load_state_dict(schedule.state_dict())
    assert restored.lr(50, 0.5) == 0.5


def test_durations():
    assert duration("90") == 90
    assert duration("90s") == 90
    assert duration("10m") == 600
    assert duration("1h30m") == 5400
    assert duration(45) == 45.0
    for bad in ("ten minutes", "0s", "-5", float("nan")):
        with pytest.raises(RnnkitError, match="duration"):
            duration(bad)


def test_default_budget_and_bad_budgets():
    assert TrainConfig().check().time == 120
    with pytest.raises(RnnkitError, match="steps must be a positive integer, got 0"):
        TrainConfig(steps=0).check()
    with pytest.raises(RnnkitError, match="lr must be a positive finite number, got nan"):
        TrainConfig(lr=float("nan")).check()


def test_split_flag():
    assert TextDataConfig(split="90/10").fractions() == (0.9, 0.1, 0.0)
    assert TextDataConfig(split="80/10/10").fractions() == (0.8, 0.1, 0.1)
    with pytest.raises(RnnkitError, match="percentages"):
        TextDataConfig(split="ninety").fractions()
    for split in ("50/40", "-10/110", "0/90/10"):
        with pytest.raises(RnnkitError, match="add up to 100, the first"):
            TextDataConfig(split=split).fractions()
    for split in ("100/0", "100/0/0"):
        with pytest.raises(RnnkitError, match=f"{split} leaves no valid part"):
            TextDataConfig(split=split).fractions()
    assert TextDataConfig(split="100/0", valid_file="valid.txt").fractions() == (1.0, 0.0, 0.0)


def test_devices(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # as on a one-GPU machine
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(RnnkitError, match=r"cuda:1: this machine has 1 GPU\(s\), numbered from 0"):
        resolve_device("cuda:1")
    monkeypatch.undo()
    with pytest.raises(RnnkitError, match="unknown device"):
        resolve_device("abacus")
    if not torch.cuda.is_available():
        with pytest.raises(RnnkitError, match="no GPU"):
            resolve_device("cuda")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)  # as off a Mac
    with pytest.raises(RnnkitError, match="--device mps was asked for but this machine has no"):
        resolve_device("mps")


def test_weights_blown_up_by_a_huge_lr_stop_at_the_evaluation(tmp_path):
    """Losses finite, the weights too large or nan: the evaluation's loss or its sample (a
    token beyond the vocabulary, before) stops the run with the same advice."""
    for eval_every in (1, 2):
        run = tmp_path / f"every-{eval_every}"
        with pytest.raises(NotFinite, match="a lower --lr"):
            quiet_fit(tiny_task(), TrainConfig(steps=4, eval_every=eval_every, lr=1e30), run)
        if checkpoint.has_training_state(run):  # what it keeps loads: finite weights
            task = TextTask.from_run(run, checkpoint.read_config(run))
            optimizer = torch.optim.AdamW(task.model.parameters())
            checkpoint.load_training_state(run, task.model, optimizer)


def test_nan_weights_after_a_finite_loss_are_never_checkpointed(tmp_path):
    run = tmp_path / "run"
    nan_gradients = lambda loss: loss + (loss * 0).sqrt()  # noqa: E731 (the value: loss; d/dw: nan)
    with pytest.raises(NotFinite, match="the weights became nan or inf by step 3; ") as raised:
        quiet_fit(
            FaultAt(tiny_task(), at=3, fault=nan_gradients),
            TrainConfig(steps=8, eval_every=4, checkpoint_every=1e-6),
            run,
        )
    assert "no checkpoint was written yet" not in str(raised.value)
    assert committed(run) == "step-0000002"  # the last good one


def committed(run) -> str:
    return json.loads((run / "training" / "state.json").read_text())["files"]


def test_a_nan_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(RnnkitError, match="loss became nan at step 5, ") as raised:
        quiet_fit(
            FaultAt(tiny_task(), at=5, fault=lambda loss: loss * math.nan),
            TrainConfig(steps=8, eval_every=2),
            run,
        )
    assert f"{run} keeps its checkpoint of step 4; start a new run in another folder" in str(
        raised.value
    )
    assert committed(run) == "step-0000004"
    task = TextTask.from_run(run, checkpoint.read_config(run))
    optimizer = torch.optim.AdamW(task.model.parameters())
    assert checkpoint.load_training_state(run, task.model, optimizer)[0]["step"] == 4
    assert all(torch.isfinite(p).all() for p in task.model.parameters())


def test_a_restart_from_python_keeps_weights_trained_past_the_first_evaluation(tmp_path):
    run = tmp_path / "run"
    quiet_fit(tiny_task(), TrainConfig(steps=6, eval_every=3), run)
    shutil.rmtree(run / "training")
    before = (run / checkpoint.BEST_MODEL).read_bytes()
    with pytest.raises(RnnkitError, match="holds weights trained 6 steps"):
        quiet_fit(tiny_task(), TrainConfig(steps=6, eval_every=3), run, restart=True)
    assert (run / checkpoint.BEST_MODEL).read_bytes() == before


def test_a_nan_loss_before_the_first_checkpoint_says_there_is_none(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(RnnkitError, match="no checkpoint was written yet") as raised:
        quiet_fit(
            FaultAt(tiny_task(), at=1, fault=lambda loss: loss * math.nan),
            TrainConfig(steps=8, eval_every=4),
            run,
        )
    assert f"so {run} holds only its settings: remove it" in str(raised.value)
    assert not checkpoint.has_training_state(run)
    # At the first step no weight has moved yet: the data is named, not the learning rate.
    assert str(raised.value).startswith("the loss is nan at the first step, before any training")
    assert str(raised.value).endswith("start again with the data or that setting mended")


def test_a_full_disk_while_checkpointing_gives_one_error_and_keeps_the_last_checkpoint(tmp_path):
    run = tmp_path / "run"
    replace = os.replace

    def full_at_step_4(source, target):
        if "step-0000004" in str(target):
            raise OSError(errno.ENOSPC, "No space left on device")
        replace(source, target)

    with (
        mock.patch("os.replace", side_effect=full_at_step_4),
        pytest.raises(RnnkitError, match=r"cannot write .*No space left on device"),
    ):
        quiet_fit(tiny_task(), TrainConfig(steps=8, eval_every=2), run)
    assert committed(run) == "step-0000002"
    task = TextTask.from_run(run, checkpoint.read_config(run))
    optimizer = torch.optim.AdamW(task.model.parameters())
    assert checkpoint.load_training_state(run, task.model, optimizer)[0]["step"] == 2
    assert not list(run.rglob("*.tmp"))


def test_bf16_training_learns_and_resumes_exactly(tmp_path):
    same = {"eval_every": 4, "lr": 1e-2, "precision": "bf16", "schedule": "constant"}
    config = TrainConfig(steps=12, **same)
    whole = quiet_fit(tiny_task(), config, tmp_path / "whole")
    losses = [e["train_loss"] for e in whole.history]
    assert losses[-1] < losses[0]  # it learns under autocast
    assert all(p.dtype == torch.float32 for p in tiny_task().model.parameters())
    cut_config = TrainConfig(steps=8, **same)
    quiet_fit(tiny_task(), cut_config, tmp_path / "cut")
    task = TextTask.from_run(tmp_path / "cut", checkpoint.read_config(tmp_path / "cut"))
    task.attach(TextSource(task.data, text=TEXT))
    resumed = quiet_fit(task, config, tmp_path / "cut", resume=True)
    assert [e["train_loss"] for e in resumed.history] == losses


def test_auto_precision_trains_in_bf16_only_where_the_device_computes_it(tmp_path):
    same = {"steps": 6, "eval_every": 3, "lr": 1e-2, "schedule": "constant"}

    def losses(precision, run, native_bf16=None):
        out = io.StringIO()
        with mock.patch("rnnkit.devices.computes_bf16", return_value=native_bf16):
            result = fit(tiny_task(), TrainConfig(precision=precision, **same), run, out=out)
        return [e["train_loss"] for e in result.history], out.getvalue()

    fp32, bf16 = losses("fp32", tmp_path / "fp32")[0], losses("bf16", tmp_path / "bf16")[0]
    assert fp32 != bf16  # else this test could not tell them apart
    auto_yes, said_yes = losses("auto", tmp_path / "yes", native_bf16=True)
    auto_no, said_no = losses("auto", tmp_path / "no", native_bf16=False)
    assert auto_yes == bf16 and "in bf16" in said_yes
    assert auto_no == fp32 and "in fp32 (no bf16 here)" in said_no


def test_the_cpu_computes_bf16_where_torch_finds_avx512_bf16_or_amx():
    cpu = torch.device("cpu")
    for avx512_bf16, amx in [(False, False), (True, False), (False, True)]:
        with (
            mock.patch("torch.cpu._is_avx512_bf16_supported", return_value=avx512_bf16),
            mock.patch("torch.cpu._is_amx_tile_supported", return_value=amx),
        ):
            assert computes_bf16(cpu) == (avx512_bf16 or amx)


def test_the_cpp_loop_is_built_before_the_clock_starts(tmp_path):
    task = tiny_task()
    with mock.patch("rnnkit.train.loop.build_fused_kernels") as build:
        quiet_fit(task, TrainConfig(steps=1), tmp_path / "run")
    build.assert_called_once_with(task.model)
