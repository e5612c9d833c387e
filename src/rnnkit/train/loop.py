"""The one training loop, for every task (see task.py for what a task provides).

Each step:  batch -> loss -> backward -> clip the gradient norm -> AdamW step at the scheduled lr.
Every `eval_every` steps and at the end: evaluate on valid data (with `ema`, the moving average
of the weights, average.py), keep the best weights (and whatever the task writes about the best
model, task.on_best), write metrics.csv / samples.txt (and loss.png, every PLOT_EVERY seconds and
at the end), and checkpoint the full training state (checkpoint.py); between evaluations, also
checkpoint whenever `checkpoint_every` seconds of wall time have passed without one, so a kill
loses at most that much work.

Stopping: the budget (steps, epochs or wall time, whichever comes first), early stopping after
`patience` evaluations without a better valid loss, or Ctrl-C, which finishes the current step,
saves and returns (a second Ctrl-C aborts at once). `fit(..., resume=True)` restores the weights,
optimiser, schedule, data position, carried state and RNG states, so on a deterministic device
the resumed run computes exactly what the uninterrupted run would have.

Under torchrun every process runs this same loop on its rows of each batch (distributed.py);
the processes agree on when to stop, only rank 0 evaluates, prints and writes the run folder.

A loss that is not finite (nan, inf) stops the run with an error naming the step, before that
step changes the weights; the run folder keeps the last checkpoint written before it, which
--resume would replay into the same loss, so the message says to start again with other settings.
"""

from __future__ import annotations

import io
import math
import random
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from tqdm import tqdm

from rnnkit.devices import resolve_device, trains_in_bf16
from rnnkit.errors import NotFinite, RnnkitError
from rnnkit.layers.network import build_fused_kernels
from rnnkit.progress import bar as progress_bar
from rnnkit.train import checkpoint, console, distributed, lock, report
from rnnkit.train.average import WeightAverage
from rnnkit.train.config import TrainConfig
from rnnkit.train.interrupt import StopFlag
from rnnkit.train.schedule import Schedule
from rnnkit.train.task import Carry, Task
from rnnkit.values import config_from_json

PLOT_EVERY = 30.0  # seconds between redrawings of loss.png during a run (and once at its end)
# Devices where AdamW runs torch's fused kernel: one pass over all parameters instead of a dozen
# tensor operations per parameter (on 2 CPU cores, 7 against 47 ms a step for the word recipe's
# 13M parameters). A resumed run keeps the kernel it was saved with (in its param_groups).
FUSED_ADAMW = ("cpu", "cuda")


@dataclass
class Progress:
    """Counters saved with each checkpoint (everything the loop itself must remember)."""

    step: int = 0
    items: int = 0  # tokens (or other items) trained on
    elapsed: float = 0.0  # wall seconds so far (evaluations included), across resumes
    step_time: float = 0.0  # seconds spent in training steps only: the items/s readout
    best_loss: float = math.inf
    bad_evals: int = 0  # evaluations since the best one
    loss_sum: float = 0.0  # train loss accumulated since the last evaluation
    loss_count: int = 0
    lr: float = 0.0  # learning rate of the last step
    evaluated_at: int = -1  # the step of the last evaluation
    plotted_at: float = 0.0  # `elapsed` when loss.png was last drawn
    history: list[dict[str, Any]] = field(default_factory=list)  # one entry per evaluation


@dataclass
class FitResult:
    run: Path
    status: str  # "finished", "early stop" or "interrupted"
    step: int
    best_loss: float
    history: list[dict[str, Any]]


def seed_everything(seed: int) -> None:
    """Seed every random generator a task may use (call before building the model)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit(
    task: Task,
    config: TrainConfig,
    run: str | Path,
    *,
    resume: bool = False,
    restart: bool = False,
    save_settings: bool = False,
    show_progress: bool = True,
    out: TextIO | None = None,
) -> FitResult:
    """Train `task` within the budget of `config`, writing everything to the run folder `run`.

    A new run needs a new or empty folder; `resume=True` continues the run saved there;
    `restart=True` starts again from step 0 a run whose folder holds its settings but no
    checkpoint yet (stopped before its first one); `save_settings=True` writes a resumed run's
    config.json again (a new budget, moved data). One process at a time writes a run folder
    (train/lock.py).
    """
    run = Path(run)
    world = distributed.current()
    config.check()
    # Before the folder is made: a device that is not there leaves nothing behind.
    device = distributed.device_for(world, resolve_device(config.device))
    if world.is_main and not (resume or restart):
        checkpoint.create_run_folder(run)
    if restart:  # every rank reads it, so all refuse together (from Python too)
        checkpoint.check_restart(run, config.eval_every)
    with lock.exclusive(run) if world.is_main else nullcontext():
        saves = resume and save_settings and world.is_main
        return _fit(task, config, run, device, resume, saves, show_progress, out, world)


def _fit(
    task: Task,
    config: TrainConfig,
    run: Path,
    device: torch.device,
    resume: bool,
    save_settings: bool,
    show_progress: bool,
    out: TextIO | None,
    world: distributed.World,
) -> FitResult:
    out = (out or sys.stdout) if world.is_main else io.StringIO()
    show_progress = show_progress and world.is_main
    task.to(device)
    bf16 = trains_in_bf16(config.precision, task.device)  # once per run, not per step
    optimizer = torch.optim.AdamW(
        task.model.parameters(),
        lr=config.lr,
        weight_decay=config.weight_decay,
        fused=task.device.type in FUSED_ADAMW,
    )
    schedule = Schedule(config)
    average = WeightAverage(task.model, config.ema) if config.ema else None
    progress, carry = _start(task, config, run, optimizer, schedule, resume, world, average)
    if save_settings:  # once the run has loaded: a run refused keeps its settings as they were
        checkpoint.write_config(run, task.name, task.config(), config.to_dict())
    first_step = progress.step
    train_loss = distributed.training_loss(task, world)  # DDP: rank 0's weights everywhere
    carry = distributed.shard_carry(carry, world)
    console.header(task, config, run, progress, world, out, bf16)
    if not bf16:  # (in bfloat16 the fused LSTM runs its Python loop)
        build_fused_kernels(task.model)  # a first build of the C++ loop before the clock starts

    stop = StopFlag()
    bar = progress_bar(
        show=show_progress,
        total=100.0,
        initial=min(_budget_fraction(config, progress, task), 1.0) * 100,  # resumed: part done
        bar_format="{percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}",
    )
    started = time.monotonic() - progress.elapsed
    status = "finished"
    saved_at = progress.step if resume else -1  # not saved twice when nothing changed
    saved_time = time.monotonic()
    checkpoint.enter_phase("train")
    try:  # a loss or weights gone nan or inf: say what the run keeps
        with stop.installed():
            while True:
                progress.elapsed = time.monotonic() - started
                due = time.monotonic() - saved_time >= config.checkpoint_every
                own = [_budget_fraction(config, progress, task), float(stop.requested), float(due)]
                done, stopping, due = distributed.agree(own, world)  # every rank at the same step
                bar.update(min(done, 1.0) * 100 - bar.n)
                if done >= 1.0:
                    break
                if stopping:
                    status = "interrupted"
                    break
                before = time.monotonic()
                carry = _train_step(
                    task,
                    train_loss,
                    config,
                    optimizer,
                    schedule,
                    progress,
                    carry,
                    done,
                    world,
                    bf16,
                )
                if average:
                    average.update(progress.step)
                progress.elapsed = time.monotonic() - started
                progress.step_time += time.monotonic() - before
                bar.set_postfix_str(console.postfix(progress, task), refresh=False)
                evaluating = progress.step % config.eval_every == 0
                if evaluating:
                    checkpoint.enter_phase("eval")
                    if _evaluate(task, schedule, progress, run, config, world, out, average):
                        status = "early stop"
                if evaluating or due:  # at each evaluation, and by time between them
                    checkpoint.enter_phase("save")
                    _save(run, task, optimizer, schedule, progress, carry, world, average)
                    saved_at, saved_time = progress.step, time.monotonic()
                    checkpoint.enter_phase("train")
                if status == "early stop":
                    break
        bar.close()
        evaluated = status != "interrupted" and _needs_final_eval(progress)
        if evaluated:
            checkpoint.enter_phase("final-eval")
            _evaluate(task, schedule, progress, run, config, world, out, average, final=True)
        if saved_at != progress.step or evaluated:  # (the evaluation changed the progress)
            checkpoint.enter_phase("final-save")
            _save(run, task, optimizer, schedule, progress, carry, world, average)
    except NotFinite as error:
        advice = _after_blow_up(run, saved_at, progress.step)
        raise NotFinite(f"{error}; {advice}", cause=error.cause) from None
    if world.is_main and progress.history:
        report.plot_losses(run / report.PLOT, progress.history)
    console.footer(status, run, progress, out, idle=resume and progress.step == first_step)
    return FitResult(run, status, progress.step, progress.best_loss, progress.history)


def _start(
    task: Task,
    config: TrainConfig,
    run: Path,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    resume: bool,
    world: distributed.World,
    average: WeightAverage | None,
) -> tuple[Progress, Carry]:
    if world.is_main:
        checkpoint.remove_partial_files(run)
    if not resume:
        if world.is_main:
            checkpoint.write_config(run, task.name, task.config(), config.to_dict())
            task.save_artifacts(run)
        return Progress(), None
    saved, carry = checkpoint.load_training_state(run, task.model, optimizer, average)
    where = f"{run / checkpoint.TRAINING / checkpoint.STATE}"
    if not all(isinstance(saved.get(k), dict) for k in ("data", "schedule", "progress")):
        raise RnnkitError(f"{where} lacks the data position, schedule or progress; retrain")
    position = saved["data"]
    if not all(type(v) is int and v >= 0 for v in position.values()):  # bool is no count
        raise RnnkitError(f"{where}: the data position {position} is not counts; retrain")
    task.train_data.load_state_dict(position)
    schedule.load_state_dict(saved["schedule"])
    fields = Progress.__dataclass_fields__
    known = {k: v for k, v in saved["progress"].items() if k in fields}
    return config_from_json(Progress, known, f"{where} (progress)"), carry


def _train_step(
    task: Task,
    train_loss: Callable[[Any, Carry], tuple[torch.Tensor, Carry]],
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    progress: Progress,
    carry: Carry,
    done: float,
    world: distributed.World,
    bf16: bool,
) -> Carry:
    """One optimiser step on the global batch; this rank computes its rows' share (see
    distributed.py: it backpropagates W (n_r / N) L_r and DDP averages the ranks' gradients);
    the forward pass under autocast to bfloat16 when `bf16`."""
    progress.lr = schedule.lr(progress.step, done)
    for group in optimizer.param_groups:
        group["lr"] = progress.lr
    task.model.train()
    batch = task.train_data.next_batch()
    items = task.batch_items(batch)
    batch = distributed.shard(batch, world)
    with torch.autocast(task.device.type, dtype=torch.bfloat16, enabled=bf16):
        loss, carry = train_loss(batch, carry)
    mean, weight = distributed.global_loss(loss, task.batch_items(batch), world)
    if not math.isfinite(mean) and progress.step == 0:  # the initial weights: not the lr
        raise NotFinite(
            f"the loss is {mean} at the first step, before any training: the data, or a setting "
            "that changes it (such as --jitter), gives the model values too large or nan"
        )
    if not math.isfinite(mean):
        raise NotFinite(
            f"the loss became {mean} at step {progress.step + 1}, so training stopped before "
            "that step changed the weights"
        )
    optimizer.zero_grad(set_to_none=True)
    (loss * weight * world.size).backward()
    if config.clip > 0:
        torch.nn.utils.clip_grad_norm_(task.model.parameters(), config.clip)
    optimizer.step()
    progress.step += 1
    progress.items += items
    progress.loss_sum += mean
    progress.loss_count += 1
    return carry


def _after_blow_up(run: Path, saved_at: int, step: int) -> str:
    """What a run whose loss became nan or inf keeps, and what to do: a resumed run keeps its
    settings, so the fix is a new run. At step 0 no weight has changed: the lr is not the cause."""
    fix = "a lower --lr, a lower --clip or a longer --warmup (from Python: lr=, clip=, warmup=)"
    if step == 0:
        fix = "the data or that setting mended"
    if saved_at < 0:
        return (
            f"no checkpoint was written yet, so {run} holds only its settings: remove it (or "
            f"choose another folder) and start again with {fix}"
        )
    return (
        f"{run} keeps its checkpoint of step {saved_at}; start a new run in another folder "
        f"with {fix}"
    )


def _budget_fraction(config: TrainConfig, progress: Progress, task: Task) -> float:
    """How far through the budget: the furthest of steps, epochs and time (1.0 = done)."""
    fractions = [0.0]
    if config.steps:
        fractions.append(progress.step / config.steps)
    if config.epochs:
        fractions.append(task.train_data.epochs_done / config.epochs)
    if config.time:
        fractions.append(progress.elapsed / config.time)
    return max(fractions)


def _evaluate(
    task: Task,
    schedule: Schedule,
    progress: Progress,
    run: Path,
    config: TrainConfig,
    world: distributed.World,
    out: TextIO,
    average: WeightAverage | None,
    final: bool = False,
) -> bool:
    """Evaluate (rank 0), record, keep the best weights (the weight average's, with --ema); True
    when early stopping says stop. `final`: the evaluation after the last step.

    Every rank takes rank 0's valid loss, so the schedule and early stopping agree everywhere.
    """
    best_report = None
    with average.swapped_in() if average else nullcontext():
        entry = _measure(task, progress, final) if world.is_main else {"valid_loss": math.nan}
        valid = distributed.from_main(entry["valid_loss"], world)
        if not math.isfinite(valid):  # every rank raises, none waits for the others
            raise NotFinite(
                f"the valid loss or the model's samples became nan or inf at step "
                f"{progress.step} (the weights grew too large or became nan)"
            )
        if valid < progress.best_loss and world.is_main:
            checkpoint.save_weights(
                run / checkpoint.BEST_MODEL,
                task.model,
                {"step": str(progress.step), "loss": str(valid)},
            )
            best_report = task.on_best(run)
    progress.loss_sum, progress.loss_count = 0.0, 0
    progress.evaluated_at = progress.step
    schedule.after_eval(valid)
    if valid < progress.best_loss:
        progress.best_loss, progress.bad_evals = valid, 0
    else:
        progress.bad_evals += 1
    if world.is_main:
        plot = progress.elapsed - progress.plotted_at >= PLOT_EVERY
        report.write_reports(run, progress.history, plot)
        progress.plotted_at = progress.elapsed if plot else progress.plotted_at
        console.evaluation(entry, out)
        if best_report:
            tqdm.write(best_report, file=out)
    return bool(config.patience) and progress.bad_evals >= config.patience


def _measure(task: Task, progress: Progress, final: bool) -> dict[str, Any]:
    """The valid metrics (and sample) of the model now, appended to the history."""
    task.model.eval()
    with torch.no_grad():
        metrics = task.evaluate(final)
        sample = None
        try:
            sample = task.sample() if math.isfinite(metrics["loss"]) else None
        except NotFinite:  # outputs gone nan: every rank stops at the valid loss (_evaluate)
            metrics["loss"] = math.nan
    task.model.train()
    entry: dict[str, Any] = {
        "step": progress.step,
        "epoch": round(task.train_data.epochs_done, 4),
        "items": progress.items,
        "time": round(progress.elapsed, 2),
        "items_per_s": round(progress.items / max(progress.step_time, 1e-9)),
        "lr": progress.lr,
        "train_loss": progress.loss_sum / max(progress.loss_count, 1),
        **{f"valid_{k}": v for k, v in metrics.items()},
    }
    if sample is not None:
        entry["sample"] = sample
    progress.history.append(entry)
    return entry


def _needs_final_eval(progress: Progress) -> bool:
    return progress.step > 0 and progress.evaluated_at != progress.step


def _save(
    run: Path,
    task: Task,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    progress: Progress,
    carry: Carry,
    world: distributed.World,
    average: WeightAverage | None,
) -> None:
    """Checkpoint (rank 0) with the carried state of all ranks' rows, so any number resumes."""
    if not all(torch.isfinite(weight).all() for weight in task.model.parameters()):
        raise NotFinite(f"the weights became nan or inf by step {progress.step}")
    carry = distributed.gather_carry(carry, world)
    if not world.is_main:
        return
    state = {
        "step": progress.step,
        "progress": progress.__dict__,
        "data": task.train_data.state_dict(),
        "schedule": schedule.state_dict(),
    }
    checkpoint.save_training_state(run, task.model, optimizer, carry, state, average)
