"""How a classify run reads series of different lengths: tried both ways, before the run.

Resampling every series to one length (data/series/resampling.py) lines up events made at
different speeds (gestures: +0.2 test accuracy on PickupGestureWiimoteZ) and loses the time
scale a clock sets (waves whose period in steps is the signal: -0.05 on the built-in
waveforms), and the series cannot say which kind they are (docs/BENCHMARKS.md, "Resampling
series of different lengths"). So with --resample 0 (auto, the recipe's), when the training
series' lengths differ, a short trial trains the run's model on each view, as read and
resampled to the median length (fit_resample), and the run reads its series the way that
predicted unseen series better:

    trial     each view: a committee over TRIAL_FOLDS stratified folds (member m learns from
              every fold but m), the first (as read) for TRIAL_SHARE / 2 of the budget (steps,
              epochs or time, the recipe's epoch cap included), the second for as many steps
              as the first took (under a time budget, so that neither is favoured by when it
              ran); both on the same folds, from the same initial weights (the run's --seed)
    choice    the view with the lower out-of-fold loss at its best evaluation,
              -1/N sum_i ln p(y_i | x_i), each series scored by the member that did not learn it
    the run   the rest of the budget (every budget times 1 - TRIAL_SHARE); its model built
              from the --seed as it would be without a trial, so a run told `--resample N` (the
              choice) and that budget computes the same

The choice and both views' scores are saved in the run's config.json (data.resample,
data.trial): a resumed run does not try again. Each view trains through the one training loop
(train/loop.py) in a run folder of its own, RUN/trial/as-read and RUN/trial/resampled-to-N,
after RUN/config.json is written with the settings as given: `rnnkit train --resume RUN` on a
run stopped during the trial plans again (Task.again), and each view goes on from its own
checkpoint, or returns its result at once when it was done.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Callable, Collection
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rnnkit.data.series import SeriesDataset
from rnnkit.data.series.resampling import AS_READ, AUTO, fit_resample
from rnnkit.errors import NotFinite
from rnnkit.train import checkpoint, distributed
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import FitResult, fit, seed_everything
from rnnkit.train.task import task_config

if TYPE_CHECKING:
    from rnnkit.models.classifier import ClassifierConfig
    from rnnkit.tasks.classify import ClassifyDataConfig, ClassifyTask

# A quarter of the budget: at the default 500 steps, 62 steps a view, which picked the side the
# test part favours on the gestures and waveforms in every seed (docs/BENCHMARKS.md, "The
# recipe's trial"). Three folds: every series scored out of fold by a model that learnt from two
# thirds of the data.
TRIAL_SHARE = 0.25
TRIAL_FOLDS = 3


def plan_resample(
    task_class: type[ClassifyTask],
    data: ClassifyDataConfig,
    settings: ClassifierConfig,
    train: TrainConfig,
    dataset: SeriesDataset,
    run: Path,
    given: Collection[str],
) -> TrainConfig:
    """Set `data.resample` (and `data.trial`) for --resample 0 on training series of different
    lengths by the trial above, trained in `run`/trial/; return the budget left for the run (all
    of it when there was nothing to try). (`given` is Task.plan's; --resample 0 is the choice
    asked for, whatever else was given.)"""
    lengths = [len(series) for series in dataset.sequences]
    if data.resample != AUTO:
        return train
    main = distributed.current().is_main
    if min(lengths) == max(lengths):
        data.resample = AS_READ
        return train
    differ = f"training lengths differ ({min(lengths)}-{max(lengths)} steps)"
    if len(lengths) < TRIAL_FOLDS:
        if main:
            print(f"{differ}, but {len(lengths)} series are too few to try both ways")
        data.resample = AS_READ
        return train
    # What the run itself needs (its folds, its committee in memory) is checked first: refused
    # before the trial writes anything in the run folder.
    task_class.from_dataset(replace(data, resample=AS_READ), replace(settings), dataset)
    views = (AS_READ, fit_resample(lengths))
    if main:
        print(
            f"{differ}: before the run, trying them as read and {view_name(views[1])} "
            f"({TRIAL_SHARE / 2:.1%} of the budget each)"
        )

    def starting() -> None:  # once a view's model is built
        if main:
            write_settings(run, task_class.name, data, settings, train)

    first_budget = share(train, TRIAL_SHARE / 2)
    first_loss, first_report, steps = trial(
        task_class, data, settings, first_budget, dataset, views[0], run, starting
    )
    # As many steps as the first took: under a time budget, the first also paid for warming up.
    second_budget = replace(
        train, steps=steps, epochs=None, time=None, warmup=min(train.warmup, steps)
    )
    if math.isinf(first_loss):  # diverged: its steps are no measure
        second_budget = first_budget
    second_loss, second_report, _ = trial(
        task_class, data, settings, second_budget, dataset, views[1], run, starting
    )
    losses, reports = (first_loss, second_loss), (first_report, second_report)
    # `data` (resample 0) is in RUN/config.json from before the trial, for a resume to plan again
    data.resample = views[losses.index(min(losses))]
    data.trial = "; ".join(
        f"{view_name(view)}: {report}" for view, report in zip(views, reports, strict=True)
    )
    if main:
        kept = "as they are" if data.resample == AS_READ else view_name(data.resample)
        print(f"tried, {TRIAL_FOLDS} folds: {data.trial}; the run reads them {kept}")
    seed_everything(train.seed)  # the run's model as it would be built without a trial
    return share(train, 1.0 - TRIAL_SHARE)


def trial(
    task_class: type[ClassifyTask],
    data: ClassifyDataConfig,
    settings: ClassifierConfig,
    budget: TrainConfig,
    dataset: SeriesDataset,
    view: int,
    run: Path,
    starting: Callable[[], None],
) -> tuple[float, str, int]:
    """A committee over TRIAL_FOLDS folds trained within `budget` on the series read as `view`
    says: its best out-of-fold loss, a report "S steps, out-of-fold loss L, accuracy A" (the
    accuracy of that evaluation, known on the main process only) and its steps S; a loss that
    became nan or inf counts as an infinite one. `starting` is called once its model is
    built, before it trains."""
    seed_everything(budget.seed)
    trial_data = replace(data, resample=view, folds=TRIAL_FOLDS, ensemble=1, valid_fraction=0.0)
    task = task_class.from_dataset(trial_data, replace(settings), dataset)
    starting()
    config = replace(budget, patience=0, ema=0.0)
    try:
        result = fit_in(run / "trial" / view_name(view).replace(" ", "-"), task, config)
    except NotFinite as error:  # this view lost; the run may still train on the other
        return math.inf, f"diverged ({error.cause.split(',')[0]})", 0
    if result.status == "interrupted":
        if distributed.current().is_main:
            print(
                "interrupted while trying both ways, before the run; continue with "
                f"`rnnkit train --resume {run}`",
                file=sys.stderr,
            )
        raise KeyboardInterrupt
    best = [entry for entry in result.history if entry["valid_loss"] == result.best_loss]
    accuracy = f", accuracy {best[0]['valid_accuracy']:.3f}" if best else ""
    steps = f"{result.step} step{'s' * (result.step != 1)}"
    report = f"{steps}, out-of-fold loss {result.best_loss:.3f}{accuracy}"
    return result.best_loss, report, result.step


def write_settings(
    run: Path, task: str, data: ClassifyDataConfig, settings: ClassifierConfig, train: TrainConfig
) -> None:
    """RUN/config.json with the settings as given (resample 0), once, before the trial trains:
    what `rnnkit train --resume RUN` plans again from."""
    if not (run / checkpoint.CONFIG).is_file():
        checkpoint.create_run_folder(run)
        checkpoint.write_config(run, task, task_config(data, settings), asdict(train))


def fit_in(folder: Path, task: ClassifyTask, config: TrainConfig) -> FitResult:
    """Train a view in a run folder of its own, going on where a stopped run left it (a view
    already done returns its result at once)."""
    resume = checkpoint.has_training_state(folder)
    restart = folder.exists() and not resume  # stopped before its first checkpoint
    quiet = io.StringIO()  # its evaluations unprinted: plan_resample prints its scores
    return fit(task, config, folder, resume=resume, restart=restart, show_progress=False, out=quiet)


def share(train: TrainConfig, fraction: float) -> TrainConfig:
    """`train` with each of its budgets (steps, epochs, time) scaled by `fraction` (at least
    one step), its warm-up no longer than its steps."""
    steps = max(1, math.floor(train.steps * fraction)) if train.steps else None
    return replace(
        train,
        steps=steps,
        epochs=train.epochs * fraction if train.epochs else None,
        time=train.time * fraction if train.time else None,
        warmup=min(train.warmup, steps) if steps else train.warmup,
    )


def view_name(view: int) -> str:
    return "as read" if view == AS_READ else f"resampled to {view}"
