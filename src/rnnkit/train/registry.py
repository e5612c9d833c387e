"""The tasks `rnnkit train NAME` knows, and how to find the task of a run folder.

A task module (e.g. rnnkit.train.text) provides:

    add_arguments(parser)                 its flags for `rnnkit train NAME ...`
    from_args(args) -> (Task, TrainConfig)     a new task and its training settings from the flags
    TRAIN_DEFAULTS (optional dict)        the task's own TrainConfig defaults, shown in --help
    from_run(run, config, with_data) -> Task   the task of a run folder, its weights untrained;
                                          with_data=True also loads the training data (to resume)
    evaluate_file(task, path, args) -> dict[str, float]        used by `rnnkit evaluate RUN FILE`
    sample(task, args) -> None            used by `rnnkit sample RUN`, streams to stdout; args has
                                          prime, length, temperature, top_k, top_p, seed, num

A new task adds one line to TASKS; the commands train, sample and evaluate then dispatch to it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import BEST_MODEL, load_weights, read_config

TASKS: dict[str, str] = {
    "text": "rnnkit.train.text",
    "classify": "rnnkit.train.classify",
    "music": "rnnkit.train.music",
}


def task_module(name: str) -> ModuleType:
    if name not in TASKS:
        raise RnnkitError(f"unknown task {name!r}; this rnnkit knows {', '.join(TASKS)}")
    return importlib.import_module(TASKS[name])


def load_run(run: str | Path) -> tuple[ModuleType, Any, dict[str, Any]]:
    """The task module, the rebuilt task with its best weights, and the config of a run folder."""
    run = Path(run)
    config = read_config(run)
    module = task_module(config["task"])
    task = module.from_run(run, config)
    if not (run / BEST_MODEL).is_file():
        raise RnnkitError(
            f"{run} has no trained weights yet ({BEST_MODEL} is written at the first evaluation); "
            f"continue it with `rnnkit train --resume {run}`"
        )
    load_weights(task.model, run / BEST_MODEL)
    task.model.eval()
    return module, task, config
