"""`rnnkit train TASK ...` starts a run; `rnnkit train --resume RUN` continues one.

Each task (rnnkit.tasks.registry.TASKS) brings its own flags, made from its settings
dataclasses, each help ending in the default that task really uses; the training flags (budget,
optimiser, schedule, evaluation) are the same for every task.

Launched by torchrun (`torchrun --nproc_per_node=N -m rnnkit train ...`), every process joins
the process group and trains its share of each batch (docs/DISTRIBUTED.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.tasks.registry import TASKS, task_class
from rnnkit.train import distributed
from rnnkit.train.checkpoint import CONFIG, default_run_folder, read_config
from rnnkit.train.config import TrainConfig, config_from_json
from rnnkit.train.loop import fit, seed_everything


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help=f"train a model ({', '.join(TASKS)}) or resume a run",
        description="Train a model for a task, or continue a run with --resume RUN.",
    )
    parser.add_argument("--resume", metavar="RUN", help="continue the run in this folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    tasks = parser.add_subparsers(dest="task", metavar="TASK")
    for name in TASKS:
        cls = task_class(name)
        task = tasks.add_parser(name, help=cls.summary, description=cls.summary)
        cls.add_arguments(task)
        task.add_argument("--out", type=Path, help="run folder (default: runs/TASK-DATE-TIME)")
        # Also accepted after the task; SUPPRESS keeps a value given before it.
        task.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS)
    return parser


def run(args: argparse.Namespace) -> int:
    with distributed.process_group(_device(args)):
        return _run(args)


def _device(args: argparse.Namespace) -> str:
    """The --device of a new run, or the one a resumed run was started with."""
    if args.resume:
        return str(read_config(Path(args.resume))["train_config"].get("device", "auto"))
    return getattr(args, "device", None) or TrainConfig.device


def _run(args: argparse.Namespace) -> int:
    if args.resume:
        if args.task:
            raise RnnkitError("give either a task or --resume RUN, not both")
        return _resume(Path(args.resume), show_progress=not args.no_progress)
    if not args.task:
        raise RnnkitError(
            f"name a task ({', '.join(TASKS)}) or --resume RUN, e.g. `rnnkit train text`"
        )
    if args.out is None and distributed.launched_by_torchrun():
        raise RnnkitError("under torchrun, name the run folder with --out (shared by all ranks)")
    seed_everything(args.seed if args.seed is not None else TrainConfig.seed)  # before the model
    task, config = task_class(args.task).from_args(args)
    out = args.out or default_run_folder(args.task)
    result = fit(task, config, out, show_progress=not args.no_progress)
    return 130 if result.status == "interrupted" else 0


def _resume(run: Path, show_progress: bool) -> int:
    config = read_config(run)
    task = task_class(config["task"]).from_run(run, config, with_data=True)
    train = config_from_json(TrainConfig, config["train_config"], f"{run / CONFIG} train_config")
    result = fit(task, train.check(), run, resume=True, show_progress=show_progress)
    return 130 if result.status == "interrupted" else 0
