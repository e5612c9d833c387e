"""The tasks `rnnkit train NAME` knows, and how to open the task of a run folder.

Adding a task is one module with one rnnkit.train.task.Task subclass, and one line here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from rnnkit.devices import resolve_device
from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import BEST_MODEL, CONFIG, load_weights, read_config
from rnnkit.train.task import Task

TASKS: dict[str, str] = {
    "text": "rnnkit.tasks.text:TextTask",
    "music": "rnnkit.tasks.music:MusicTask",
    "melody": "rnnkit.tasks.melody:MelodyTask",
    "classify": "rnnkit.tasks.classify:ClassifyTask",
}


def task_class(name: str, where: Path | None = None) -> type[Task]:
    """The task called `name`; `where`: the config.json that names it, for the error."""
    if name not in TASKS:
        named = f"{where} names an unknown task" if where else "unknown task"
        raise RnnkitError(f"{named} {name!r}; this rnnkit knows {', '.join(TASKS)}")
    module, _, cls = TASKS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def load_run(run: str | Path, device: str = "cpu") -> Task:
    """The task of a run folder with its best weights, in eval mode, on `device` (a name as
    --device takes it: cpu, cuda, cuda:1, auto)."""
    run = Path(run)
    where = resolve_device(device)
    config = read_config(run)
    task = task_class(config["task"], run / CONFIG).from_run(run, config)
    if not (run / BEST_MODEL).is_file():
        raise RnnkitError(
            f"{run} has no trained weights yet ({BEST_MODEL} is written at the first evaluation); "
            f"continue it with `rnnkit train --resume {run}`"
        )
    load_weights(task.model, run / BEST_MODEL)
    task.to(where)
    task.model.eval()
    return task
