"""`rnnkit train TASK ...` starts a run; `rnnkit train --resume RUN` continues one.

Each task (rnnkit.tasks.registry.TASKS) brings its own flags, made from its settings
dataclasses, each help ending in the default that task really uses; the training flags (budget,
optimiser, schedule, evaluation) are the same for every task.

Launched by torchrun (`torchrun --nproc_per_node=N -m rnnkit train ...`), every process joins
the process group and trains its share of each batch (docs/DISTRIBUTED.md).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from rnnkit import progress
from rnnkit.errors import RnnkitError
from rnnkit.files import absolute
from rnnkit.tasks.registry import TASKS, task_class
from rnnkit.train import distributed
from rnnkit.train.checkpoint import (
    CONFIG,
    check_restart,
    check_run_folder,
    completed_steps,
    completed_time,
    default_run_folder,
    has_training_state,
    read_config,
    write_config,
)
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import fit, seed_everything
from rnnkit.values import DURATION, POSITIVE_INT, config_from_json, path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help=f"train a model ({', '.join(TASKS)}) or resume a run",
        description="Train a model for a task, or continue a run with --resume RUN.",
    )
    parser.add_argument("--resume", metavar="RUN", help="continue the run in this folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    extend = parser.add_argument_group(
        "extending a resumed run (the learning-rate schedule stretches to the new budget)"
    )
    extend.add_argument(
        "--steps", dest="total_steps", type=POSITIVE_INT.parse, metavar="N",
        help="with --resume: train until step N in all (replaces the run's budget)",
    )  # fmt: skip
    extend.add_argument(
        "--more-steps", type=POSITIVE_INT.parse, metavar="N",
        help="with --resume: N steps more than the run has done (replaces its budget)",
    )  # fmt: skip
    extend.add_argument(
        "--time", dest="total_time", type=DURATION.parse, metavar="T",
        help="with --resume: train until T of wall time in all, e.g. 30m (replaces its budget)",
    )  # fmt: skip
    extend.add_argument(
        "--data", metavar="PATH",
        help="with --resume: where the run's data is now, if it moved (checked to be the same)",
    )  # fmt: skip
    tasks = parser.add_subparsers(dest="task", metavar="TASK")
    for name in TASKS:
        cls = task_class(name)
        task = tasks.add_parser(name, help=cls.summary, description=cls.summary)
        cls.add_arguments(task)
        task.add_argument("--out", type=path, help="run folder (default: runs/TASK-DATE-TIME)")
        # Also accepted after the task; SUPPRESS keeps a value given before it.
        task.add_argument(
            "--no-progress", action="store_true", default=argparse.SUPPRESS, help="no progress bar"
        )
    return parser


# What may go with --resume: the run keeps its settings (config.json); these extend or find it.
WITH_RESUME = ("--resume", "--steps", "--more-steps", "--time", "--data")
SWITCHES = ("--no-progress", "--help")  # the train parser's flags without a value


def check_words(words: list[str]) -> None:
    """With --resume, refuse what argparse would misreport: a setting flag (`--lr 0.1` read as
    the task "0.1"), or a task before --resume (`train text --resume RUN`)."""
    if "--resume" not in (_flag(w) for w in words):
        return
    takes_value = False  # whether this word is the value of the flag before it
    for word in words:
        if takes_value:
            takes_value = False
            continue
        name = _flag(word)
        if name in WITH_RESUME:
            takes_value = "=" not in word
        elif name in (*SWITCHES, "-h"):
            continue
        elif name == "--debug":
            raise RnnkitError(
                "--debug goes before the command: `rnnkit --debug train --resume RUN`"
            )
        elif word.startswith("-"):
            allowed = ", ".join(WITH_RESUME[1:])
            raise RnnkitError(
                f"a resumed run keeps the settings in its config.json, so {name} cannot go with "
                f"--resume (only {allowed} and --no-progress); for other settings, start a new run"
            )
        elif word in TASKS:
            raise RnnkitError(
                f"--resume continues a run with its own task: `rnnkit train --resume RUN`, "
                f"without {word!r}"
            )


def _flag(word: str) -> str:
    """The train parser's flag a word names, an abbreviation read as argparse reads it."""
    name = word.split("=", 1)[0]
    if not name.startswith("--"):
        return name
    matches = [flag for flag in (*WITH_RESUME, *SWITCHES) if flag.startswith(name)]
    return matches[0] if len(matches) == 1 else name


def run(args: argparse.Namespace) -> int:
    shown = progress.SHOWN
    progress.SHOWN = shown and not args.no_progress  # every bar: the loop's and the readers'
    try:
        with distributed.process_group(_device(args)):
            return _run(args)
    finally:
        progress.SHOWN = shown


def _device(args: argparse.Namespace) -> str:
    """The --device of a new run, or the one a resumed run was started with."""
    if args.resume:
        return str(read_config(Path(args.resume))["train_config"].get("device", "auto"))
    return getattr(args, "device", None) or TrainConfig.device


def _run(args: argparse.Namespace) -> int:
    extending = [a for a in ("total_steps", "more_steps", "total_time", "data") if vars(args)[a]]
    if args.resume:
        if args.task:
            raise RnnkitError("give either a task or --resume RUN, not both")
        return _resume(Path(args.resume), args, show_progress=not args.no_progress)
    if extending:
        raise RnnkitError(
            f"--{extending[0].replace('total_', '').replace('_', '-')} before the task extends "
            "a resumed run: give --resume RUN, or put the flag after the task name"
        )
    if not args.task:
        raise RnnkitError(
            f"name a task ({', '.join(TASKS)}) or --resume RUN, e.g. `rnnkit train text`"
        )
    if args.out is None and distributed.launched_by_torchrun():
        raise RnnkitError("under torchrun, name the run folder with --out (shared by all ranks)")
    out = args.out or default_run_folder(args.task)
    if distributed.current().is_main:
        check_run_folder(out)  # before reading data or training (a task may train in `plan`)
    seed_everything(args.seed if args.seed is not None else TrainConfig.seed)  # before the model
    task, config = task_class(args.task).from_args(args, run=Path(out))
    planned = (Path(out) / CONFIG).is_file()  # `plan` trained there first (classify's trial)
    result = fit(task, config, out, restart=planned, show_progress=not args.no_progress)
    return 130 if result.status == "interrupted" else 0


def _resume(run: Path, args: argparse.Namespace, show_progress: bool) -> int:
    config = read_config(run)
    if args.data is not None:
        if not Path(args.data).exists():
            raise RnnkitError(
                f"--data {args.data} is not there; give the file or folder the run's data moved to"
            )
        config["task_config"]["data"]["source"] = str(absolute(args.data))
    train = config_from_json(TrainConfig, config["train_config"], f"{run / CONFIG} train_config")
    try:
        train.check()
    except RnnkitError as error:  # an edited config.json: name the file, not only the setting
        raise RnnkitError(f"{run / CONFIG} has settings rnnkit cannot build: {error}") from None
    budget = _new_budget(run, args)
    train = replace(train, **budget).check()
    if not has_training_state(run):  # killed before its first checkpoint
        check_restart(run, train.eval_every)
        print(f"{run} has no checkpoint yet: starting it again from step 0 with its settings")
        if (budget or args.data is not None) and distributed.current().is_main:
            write_config(run, config["task"], config["task_config"], train.to_dict())  # kept
        seed_everything(train.seed)  # as the run first did: the same initial weights
        task, train = task_class(config["task"], run / CONFIG).again(run, config, train)
        result = fit(task, train, run, restart=True, show_progress=show_progress)
        return 130 if result.status == "interrupted" else 0
    task = task_class(config["task"], run / CONFIG).from_run(run, config, with_data=True)
    changed = bool(budget) or args.data is not None  # saved, so that the next resume uses it
    result = fit(task, train, run, resume=True, save_settings=changed, show_progress=show_progress)
    return 130 if result.status == "interrupted" else 0


BUDGET_FLAGS = {"total_steps": "--steps", "more_steps": "--more-steps", "total_time": "--time"}


def _new_budget(run: Path, args: argparse.Namespace) -> dict[str, float | int | None]:
    """The budget that replaces a resumed run's, from --steps, --more-steps or --time."""
    given = [a for a in ("total_steps", "more_steps", "total_time") if vars(args)[a] is not None]
    if len(given) > 1:
        flags = " and ".join(BUDGET_FLAGS[name] for name in given)
        raise RnnkitError(
            f"{flags} cannot go together: extend the run with one of --steps N (the new total), "
            "--more-steps N (N more) or --time T (the new total time)"
        )
    if not given:
        return {}
    if args.total_time is not None:
        spent = completed_time(run)
        if args.total_time <= spent:
            raise RnnkitError(
                f"{run} has already trained {spent:.0f}s, and --time is the total: give more than "
                f"{spent:.0f}s, or --more-steps N for N more steps"
            )
        return {"steps": None, "epochs": None, "time": args.total_time}
    steps, done = args.total_steps, completed_steps(run)
    if args.more_steps is not None:
        steps = done + args.more_steps
    elif steps <= done:
        raise RnnkitError(
            f"{run} is already at step {done}, and --steps is the total: give more than {done}, "
            "or --more-steps N for N more"
        )
    return {"steps": steps, "epochs": None, "time": None}
