"""What a training run prints: its settings and sanity numbers, each evaluation, and how it ended.
The progress bar's text (`postfix`) says the step, the running loss and the items per second."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tqdm import tqdm

from rnnkit.train import checkpoint, distributed
from rnnkit.train.config import TrainConfig
from rnnkit.train.task import Task

if TYPE_CHECKING:
    from rnnkit.train.loop import Progress


def header(
    task: Task,
    config: TrainConfig,
    run: Path,
    progress: Progress,
    world: distributed.World,
    out: TextIO,
    bf16: bool,
) -> None:
    """The resolved settings and the sanity numbers, before the first step (`bf16`: whether the
    steps run under autocast to bfloat16, as resolved for this run)."""
    sections = {**task.config(), "train": config.to_dict()}
    for name, settings in sections.items():
        shown = " ".join(f"{k}={v}" for k, v in settings.items() if v != "")  # not: trial=
        print(f"{name + ':':7}{shown}", file=out)
    parameters = sum(p.numel() for p in task.model.parameters())
    verb = f"resuming at step {progress.step}" if progress.step else "training"
    where = f"{world.size} processes ({task.device} each)" if world.size > 1 else task.device
    precision = (
        " in bf16" if bf16 else (" in fp32 (no bf16 here)" if config.precision == "auto" else "")
    )
    print(f"{verb}: task {task.name}, {parameters:,} parameters, on {where}{precision}", file=out)
    if task.describe():
        print(task.describe(), file=out)
    print(f"run folder: {run}; budget: {config.budget_text()}", file=out)


def postfix(progress: Progress, task: Task) -> str:
    loss = progress.loss_sum / max(progress.loss_count, 1)
    rate = progress.items / max(progress.step_time, 1e-9)
    return f"step {progress.step} loss {loss:.3f} {rate:,.0f} {task.item_name}/s"


def evaluation(entry: dict[str, Any], out: TextIO) -> None:
    metrics = "  ".join(
        f"{k} {v:.4f}" for k, v in entry.items() if k.startswith("valid_") or k == "train_loss"
    )
    tqdm.write(f"step {entry['step']}  epoch {entry['epoch']:.2f}  {metrics}", file=out)
    if "sample" in entry:
        tqdm.write(entry["sample"], file=out)


def footer(status: str, run: Path, progress: Progress, out: TextIO, idle: bool = False) -> None:
    """The last lines of a run; `idle`: a resumed run that had already spent its budget."""
    # Stopped before the first evaluation, there are no best weights to point to yet.
    best = (
        f"best valid loss {progress.best_loss:.4f}; weights in {run / checkpoint.BEST_MODEL}"
        if math.isfinite(progress.best_loss)
        else "no evaluation yet, so no best weights"
    )
    print(f"{status} at step {progress.step} after {progress.elapsed:.0f}s; {best}", file=out)
    if status == "interrupted":
        print(f"continue with: rnnkit train --resume {run}", file=out)
    if idle and status == "finished":
        print(
            f"{run} had already spent its budget, so no step was taken; train it on with "
            f"`rnnkit train --resume {run} --more-steps N` (or --time, a longer total)",
            file=out,
        )
