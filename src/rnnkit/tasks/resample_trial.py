"""How a classify run reads series of different lengths: tried both ways, before the run.

Resampling every series to one length (data/series/resampling.py) lines up events made at
different speeds (gestures: +0.2 test accuracy on PickupGestureWiimoteZ) and loses what a
length tells (waves whose duration is their class: -0.05 on the built-in waveforms), and the
series cannot say which kind they are (docs/BENCHMARKS.md, "Resampling series of different
lengths"). So with --resample 0 (auto, the recipe's), when the training series' lengths differ,
a short trial trains the run's model on each view, as read and resampled to the median length
(fit_resample), and the run reads its series the way that predicted unseen series better:

    trial     each view: a committee over TRIAL_FOLDS stratified folds (member m learns from
              every fold but m), for TRIAL_SHARE / 2 of the budget (steps, epochs or time);
              both views on the same folds, from the same initial weights (the run's --seed)
    choice    the view with the lower out-of-fold loss at its best evaluation,
              -1/N sum_i ln p(y_i | x_i), each series scored by the member that did not learn it
    the run   the rest of the budget; its model built from the --seed as it would be without a
              trial, so a run told `--resample N` (the choice) computes the same

The choice and both views' scores are saved in the run's config.json (data.resample,
data.trial): a resumed run does not try again. The trials run in a temporary folder through
the one training loop (train/loop.py) and leave nothing behind.
"""

from __future__ import annotations

import io
import math
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rnnkit.data.series import SeriesDataset
from rnnkit.data.series.resampling import AS_READ, AUTO, fit_resample
from rnnkit.train import distributed
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import fit, seed_everything

if TYPE_CHECKING:
    from rnnkit.models.classifier import ClassifierConfig
    from rnnkit.tasks.classify import ClassifyDataConfig, ClassifyTask

TRIAL_SHARE = 0.25  # of the run's budget, half to each view
TRIAL_FOLDS = 3


def plan_resample(
    task_class: type[ClassifyTask],
    data: ClassifyDataConfig,
    settings: ClassifierConfig,
    train: TrainConfig,
    dataset: SeriesDataset,
) -> TrainConfig:
    """Set `data.resample` (and `data.trial`) for --resample 0 on training series of different
    lengths by the trial above; return the budget left for the run (all of it when there was
    nothing to try)."""
    lengths = [len(series) for series in dataset.sequences]
    if data.resample != AUTO:
        return train
    if min(lengths) == max(lengths) or len(lengths) < TRIAL_FOLDS:
        data.resample = AS_READ  # nothing to line up, or too few series to fold
        return train
    views = (AS_READ, fit_resample(lengths))
    trials = [trial(task_class, data, settings, train, dataset, view) for view in views]
    losses = [loss for loss, _ in trials]
    data.resample = views[losses.index(min(losses))]
    data.trial = "; ".join(
        f"{view_name(view)}: {report}" for view, (_, report) in zip(views, trials, strict=True)
    )
    if distributed.current().is_main:
        kept = "as they are" if data.resample == AS_READ else f"resampled to {data.resample}"
        print(
            f"training lengths differ ({min(lengths)}-{max(lengths)} steps): both ways tried on "
            f"a quarter of the budget, {TRIAL_FOLDS} folds ({data.trial}); the run reads them "
            f"{kept}"
        )
    seed_everything(train.seed)  # the run's model as it would be built without a trial
    return share(train, 1.0 - TRIAL_SHARE)


def trial(
    task_class: type[ClassifyTask],
    data: ClassifyDataConfig,
    settings: ClassifierConfig,
    train: TrainConfig,
    dataset: SeriesDataset,
    view: int,
) -> tuple[float, str]:
    """The best out-of-fold loss of a committee over TRIAL_FOLDS folds trained on the series
    read as `view` says, and a report: "S steps, out-of-fold loss L, accuracy A" (the accuracy
    of that evaluation, known on the main process only)."""
    seed_everything(train.seed)
    trial_data = replace(data, resample=view, folds=TRIAL_FOLDS, ensemble=1, valid_fraction=0.0)
    task = task_class.new(trial_data, replace(settings), dataset)
    config = replace(share(train, TRIAL_SHARE / 2), patience=0, ema=0.0)
    with tempfile.TemporaryDirectory(prefix="rnnkit-trial-") as folder:
        result = fit(task, config, Path(folder) / "run", show_progress=False, out=io.StringIO())
    if result.status == "interrupted":
        print(
            "interrupted while trying both ways, before the run started: nothing was saved",
            file=sys.stderr,
        )
        raise KeyboardInterrupt
    best = [entry for entry in result.history if entry["valid_loss"] == result.best_loss]
    accuracy = f", accuracy {best[0]['valid_accuracy']:.3f}" if best else ""
    report = f"{result.step} steps, out-of-fold loss {result.best_loss:.3f}{accuracy}"
    return result.best_loss, report


def share(train: TrainConfig, fraction: float) -> TrainConfig:
    """`train` with each of its budgets (steps, epochs, time) scaled by `fraction` (at least
    one step)."""
    return replace(
        train,
        steps=max(1, math.floor(train.steps * fraction)) if train.steps else None,
        epochs=train.epochs * fraction if train.epochs else None,
        time=train.time * fraction if train.time else None,
    )


def view_name(view: int) -> str:
    return "as read" if view == AS_READ else f"resampled to {view}"
