"""The classify task: label whole time series with a committee of recurrent classifiers.

    data      rnnkit.data.series      CSV, TSV and .ts files, archive folders, aeon:NAME, the
                                      built-in waveforms; training reads a source's train part
                                      and the run keeps its test part for `rnnkit evaluate`
    inputs    resampled to one length where asked (--resample, data/series/resampling.py), or
              where a trial before the run finds it better (tasks/resample_trial.py),
              each z-normalised on its own where the training series already are (as the UCR
              archive's) or their scales span orders of magnitude, then per feature over the
              training data (scaler.json);
              labels from the training data (labels.json)
    batches   rnnkit.data.batching: shuffled each epoch, similar lengths together, padded;
              optionally window-sliced and jittered (data/series/augment.py)
    model     rnnkit.models.committee: M classifiers (recurrent branch beside a convolutional
              one, models/classifier.py), model m trained outside fold m of a stratified M-fold
              split and validated on it (--folds M), or an ensemble of M learning from every
              series but a held-out share (--ensemble M, the recipe's 3); they predict by
              averaging their probabilities
    loss      mean cross-entropy per sequence, -ln p(true class | x_1..x_T)
    metrics   out-of-fold loss and accuracy at each evaluation (the best is kept); for the best
              model, per-class precision and recall and the confusion matrix in RUN/scores.txt
              and RUN/confusion.png
    predict   `rnnkit predict RUN DATA --out FILE.csv`

Shapes: B batch, T time, D features, K classes, N sequences, M models.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.batching import Batches, Padded, fixed_batches
from rnnkit.data.series import (
    EXAMPLE,
    FORMATS,
    FeatureScaler,
    LabelVocabulary,
    SeriesDataset,
    canonical,
    fingerprint,
    has_test_part,
    open_series,
    stratified_split,
)
from rnnkit.data.series.augment import jitter, random_windows
from rnnkit.data.series.resampling import (
    AS_READ,
    AUTO,
    check_resample,
    resample_each,
)
from rnnkit.data.series.resampling import AUTO_STEPS as RESAMPLE_STEPS
from rnnkit.data.series.scaler import NORMALISATIONS, normalise_each, per_series_is_better
from rnnkit.data.series.split import stratified_folds
from rnnkit.errors import RnnkitError
from rnnkit.files import write_file, write_json
from rnnkit.metrics import ClassificationScores, plot_confusion
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.committee import EVERY, HELD_OUT, Committee, committee_size
from rnnkit.models.memory import affordable
from rnnkit.tasks.resample_trial import plan_resample
from rnnkit.train.config import Recipe
from rnnkit.train.task import Carry, Task
from rnnkit.values import COUNT, MASS, NON_NEGATIVE, POSITIVE_INT, PROBABILITY, setting

LABELS = "labels.json"
SCALER = "scaler.json"
SCORES_TEXT = "scores.txt"  # the kept model's scores on what it validates on, as text
SCORES_JSON = "scores.json"  # the same as JSON, with its loss
CONFUSION_PNG = "confusion.png"
SPLITS = ("train", "valid", "test")  # names of the run's own data in `evaluate` and `predict`
SMALLER = "--hidden, --layers, --conv, or --ensemble (the recipe trains 3 models)"
# Said where lengths differ and no trial chose how to read them (--resample 1, or too few series
# to try): whether resampling helps depends on why they differ (a gesture's speed: +0.2 on
# PickupGestureWiimoteZ; a wave's period in steps: -0.05 on the built-in waveforms).
UNEVEN = "read as they are; --resample N lines them up at N steps"
NORMALISED = {"series": "each z-normalised on its own", "features": "normalised per feature"}

# LSTM-FCN (an LSTM beside a convolutional branch), an ensemble of three learning from every
# training series for a budget of optimiser steps; docs/CLASSIFICATION.md has the measurements
# behind each choice. precision auto: bf16 where the CPU computes it, about twice the steps of a
# long series in a time budget (the convolutions are most of the work), +0.016 mean accuracy over
# three seeds. The ensemble: +0.015 over one model, three seeds at --time 60s (each member a
# third of the steps), +0.009 at 500 steps (three times the work). Attention pooling over the
# recurrent states: +0.016 on MiniRocket's eight datasets in each of two three-seed runs (--time
# 60s and 500 steps), -0.05 on PickupGestureWiimoteZ in both. Series of different lengths: read
# as they are or resampled, whichever a trial on a quarter of the budget finds better. At most
# MAX_EPOCHS passes over the data, whatever the budget: on the smallest datasets a minute is
# thousands of epochs, which overfit (UnitTest, 20 series, three seeds at --time 60s: 0.955
# capped against 0.924; the others within 0.01 either way).
MAX_EPOCHS = 250
RECIPE = Recipe(
    "classify",
    data={"ensemble": 3, "resample": AUTO},
    model={
        "cell": "lstm",
        "hidden_size": 64,
        "num_layers": 1,
        "bidirectional": False,
        "pooling": "attention",
        "conv": 64,
        "downsample": 0,
        "conv_downsample": 0,
    },
    train={
        "lr": 1e-2,
        "eval_every": 50,
        "warmup": 20,
        "patience": 0,
        "precision": "auto",
        "epochs": MAX_EPOCHS,
    },
    budget={"steps": 500},
)


@dataclass
class ClassifyDataConfig:
    """Which series, how they are normalised, validated, augmented and batched."""

    source: str = setting(
        EXAMPLE,
        "a CSV, TSV or .ts file or a folder of them; an archive folder NAME/ with NAME_TRAIN "
        f"and NAME_TEST files; aeon:NAME (a dataset aeon ships); default: {EXAMPLE}",
        positional="DATA",
    )
    format: str = setting(
        "auto", "CSV layout: wide (label,v1,v2,...) or long (id,time,...)", choices=FORMATS
    )
    normalize: str = setting(
        "auto",
        "series: each series to mean 0, std 1 on its own; features: each feature over the "
        "training data; auto: series where the training series already are (the UCR "
        "archive's) or their scales span orders of magnitude, features otherwise",
        choices=NORMALISATIONS,
    )
    resample: int = setting(
        AS_READ,
        "N >= 2: each series linearly interpolated to N steps, so that series of different "
        "lengths line up; 1 = as read; 0 = auto: where the training lengths differ, a trial "
        "on a quarter of the budget reads them both ways (as read, and resampled to their "
        f"median length, at most {RESAMPLE_STEPS}) and the run keeps the better; as read "
        "where they are equal",
        COUNT,
    )
    folds: int = setting(
        1,
        "M >= 2: a committee of M models, model m validated on fold m of a stratified M-fold "
        "split and trained on the others; they predict together",
        POSITIVE_INT,
    )
    ensemble: int = setting(
        1,
        "with --folds 1: M models from their own initial weights, predicting together",
        POSITIVE_INT,
    )
    valid_fraction: float = setting(
        0.0,
        "with --folds 1: the share of each class held out for validation; 0: none, the model "
        "learns from every series and the one with the lowest training loss is kept",
        PROBABILITY,
    )
    crop: float = setting(
        1.0, "window slicing: train on random windows of this share of each series; 1 = off", MASS
    )
    jitter: float = setting(
        0.0,
        "add Gaussian noise of this standard deviation to training series; 0 = off",
        NON_NEGATIVE,
    )
    batch_size: int = setting(16, "B, sequences per batch", POSITIVE_INT)
    seed: int = 1  # the training --seed: it picks the folds and each epoch's order
    fingerprint: str = ""  # SHA-256 of the data read: a resumed run checks it is unchanged
    trial: str = ""  # --resample 0's trial: each view's out-of-fold scores (resample_trial.py)


@dataclass
class Predictions:
    """The predicted label of every sequence of a file, the probability of each class, and the
    scores on its labelled ones."""

    ids: list[str]
    labels: list[str]
    scores: ClassificationScores | None  # None when no sequence is labelled
    classes: list[str]  # the columns of `probabilities`, in the run's order (labels.json)
    probabilities: np.ndarray  # (N, K) p(class | series): the committee's mean, rows sum to 1


class ClassifyTask(Task):
    """A committee of classifiers, its labels and scaler, and (when training) its data."""

    name = "classify"
    summary = "train a time-series classifier on CSV, TSV or .ts files, or aeon:NAME"
    item_name = "sequences"
    DataConfig = ClassifyDataConfig
    ModelConfig = ClassifierConfig

    def __init__(
        self,
        data: ClassifyDataConfig,
        model: Committee,
        labels: LabelVocabulary,
        scaler: FeatureScaler,
    ) -> None:
        super().__init__(data, model)
        self.labels, self.scaler = labels, scaler
        self.train_set: SeriesDataset | None = None  # the training part, every fold
        self.folds = torch.empty(0, dtype=torch.long)  # (N,) each series' fold (committee.py)
        self.learned_folds = torch.empty(0, dtype=torch.long)  # the folds of train_data's series
        self.last: ClassificationScores | None = None  # the scores of the last evaluation
        self.last_loss = math.nan

    @classmethod
    def recipe(cls, args: argparse.Namespace | None) -> Recipe:
        """The recipe; with --folds M >= 2 the folds make the committee, so no ensemble."""
        folds = getattr(args, "folds", None)
        if isinstance(folds, int) and folds > 1:
            data = {key: value for key, value in RECIPE.data.items() if key != "ensemble"}
            return replace(RECIPE, data=data)
        return RECIPE

    # ---- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def read(cls, data: ClassifyDataConfig) -> SeriesDataset:
        data.source = canonical(data.source)  # resumable from any folder
        return open_series(data.source, data.format, part="train")

    @classmethod
    def fingerprint(cls, dataset: SeriesDataset) -> str:
        return fingerprint(dataset)

    plan = classmethod(plan_resample)  # --resample 0: the trial (tasks/resample_trial.py)

    @classmethod
    def create(cls, data: ClassifyDataConfig, settings: ClassifierConfig, dataset: SeriesDataset):
        lengths = [len(series) for series in dataset.sequences]
        if data.resample == AUTO:  # resolved by `plan` (the trial), which `new` alone skips
            if min(lengths) != max(lengths):
                raise RnnkitError(
                    "--resample 0 chooses by a trial before the run when lengths differ; build "
                    "the task with ClassifyTask.prepare(data, settings, train_config, run), or "
                    "give --resample N"
                )
            data.resample = AS_READ
        check_resample(data.resample, max(lengths))
        if data.normalize == "auto":  # judged as read: interpolation moves a series' mean and std
            data.normalize = "series" if per_series_is_better(dataset.sequences) else "features"
        sequences = resample_each(dataset.sequences, data.resample)
        labels = LabelVocabulary.fit(dataset)
        scaler = FeatureScaler.fit(normalised(sequences, data.normalize))
        settings.input_size, settings.num_classes = dataset.num_features, len(labels)
        settings.fit_downsample(max(len(series) for series in sequences))
        size = committee_size(data.folds, data.ensemble)
        model = affordable(lambda: Committee(settings, size), smaller=SMALLER)
        return cls(data, model, labels, scaler)

    @classmethod
    def restore(cls, run: Path, data: ClassifyDataConfig, settings: ClassifierConfig):
        labels, scaler = LabelVocabulary.load(run / LABELS), FeatureScaler.load(run / SCALER)
        if len(labels) != settings.num_classes or len(scaler.mean) != settings.input_size:
            raise RnnkitError(f"{run}: {LABELS} or {SCALER} does not match config.json; retrain")
        size = committee_size(data.folds, data.ensemble)
        model = affordable(lambda: Committee(settings, size), training=False, smaller=SMALLER)
        return cls(data, model, labels, scaler)

    def attach(self, dataset: SeriesDataset) -> None:
        """Batches of the series some member learns from: the held-out ones are only validated
        on (a batch of them alone would give no member a loss)."""
        self.train_set = dataset
        self.folds = torch.tensor(assign_folds(dataset, self.data), dtype=torch.long)
        learned = (self.folds != HELD_OUT).nonzero().squeeze(1)
        self.learned_folds = self.folds[learned]  # the fold of each series the batches hold
        inputs = self.inputs(dataset)
        self.train_data = Batches(
            [inputs[i] for i in learned.tolist()],
            self.data.batch_size,
            self.data.seed,
            labels=self.labels.encode(dataset)[learned],
        )

    def save_artifacts(self, folder: Path) -> None:
        self.labels.save(Path(folder) / LABELS)
        self.scaler.save(Path(folder) / SCALER)

    def inputs(self, dataset: SeriesDataset) -> list[np.ndarray]:
        """The sequences as the model reads them: resampled and normalised as in training."""
        sequences = resample_each(dataset.sequences, self.data.resample)
        return self.scaler.transform(normalised(sequences, self.data.normalize))

    # ---- training and evaluation -----------------------------------------------------------

    def train_loss(self, batch: Padded, carry: Carry) -> tuple[Tensor, Carry]:
        """The committee's mean cross-entropy, each member on the rows outside its fold (the
        batches hold no held-out series), the series augmented (sliced, jittered) first; nothing
        is carried."""
        x, lengths = random_windows(batch.values, batch.lengths, self.data.crop)
        x = jitter(x, lengths, self.data.jitter)
        folds = self.learned_folds[batch.indices].to(self.device)
        x, lengths = x.to(self.device), lengths.to(self.device)
        return self.model.training_loss(x, lengths, batch.labels.to(self.device), folds), None

    def evaluate(self, final: bool = False) -> dict[str, float]:
        """Loss and accuracy out of fold (each validated series scored by the member that did
        not learn from it, a held-out one by the whole committee), or on the training data when
        nothing is held out."""
        folds = self.folds if validated(self.folds) else None
        self.last_loss, self.last = self.scores(self.train_set, folds)
        return {"loss": self.last_loss, "accuracy": self.last.accuracy}

    def on_best(self, folder: Path) -> str:
        """The best model's scores as text, JSON and a confusion heat map; the per-class table."""
        write_file(folder / SCORES_TEXT, self.last.report() + "\n")
        write_json(folder / SCORES_JSON, {"loss": self.last_loss, **self.last.to_dict()})
        plot_confusion(self.last.confusion, self.last.classes, folder / CONFUSION_PNG)
        return self.last.report()

    def describe(self) -> str:
        K, M = len(self.labels), len(self.model.members)
        sizes = ""
        if self.train_set is not None:
            lengths = [len(s) for s in self.train_set.sequences]
            steps = steps_read(lengths, self.data.resample, bool(self.data.trial))
            D, N = self.model.config.input_size, len(self.train_set)
            checked = int((self.folds != EVERY).sum())
            scheme = f"{checked} of them held out"
            if self.data.folds > 1:
                scheme = f"{M} models, each validated on one of {M} folds"
            elif not checked:
                scheme = "none held out: the valid numbers below are on the training data"
            if self.data.ensemble > 1:
                scheme += f"; an ensemble of {M} models"
            sizes = (
                f"; {N} training sequences ({scheme}), {steps} of "
                f"{D} feature{'s' * (D > 1)}, {NORMALISED[self.data.normalize]}"
            )
        return (
            f"{K} classes ({', '.join(self.labels.labels)}){sizes}; "
            f"a model that knows nothing has loss ln K = {math.log(K):.3f}"
        )

    def logits(self, dataset: SeriesDataset, folds: Tensor | None = None) -> Tensor:
        """Log-probabilities (N, K) of every sequence of `dataset`, in its order: the
        committee's, or with `folds` (N,) out of fold (Committee.out_of_fold; NaN for fold
        EVERY)."""
        sequences = self.inputs(dataset)
        logits = torch.empty(len(sequences), len(self.labels))
        self.model.eval()
        with torch.no_grad():
            for batch in fixed_batches(sequences, self.data.batch_size):
                x, lengths = batch.values.to(self.device), batch.lengths.to(self.device)
                if folds is not None:
                    rows = folds[batch.indices].to(self.device)
                    out = self.model.out_of_fold(x, lengths, rows).log_softmax(dim=-1)
                else:
                    out = self.model(x, lengths)[0]
                logits[batch.indices] = out.float().cpu()
        return logits

    def scores(
        self, dataset: SeriesDataset, folds: Tensor | None = None
    ) -> tuple[float, ClassificationScores]:
        """Mean cross-entropy and the scores of the model on a labelled dataset (with `folds`:
        out of fold, on the series of a fold only)."""
        targets = self.labels.encode(dataset)
        logits = self.logits(dataset, folds)
        if folds is not None:
            kept = ~logits.isnan().any(dim=-1)
            logits, targets = logits[kept], targets[kept]
        predictions = logits.argmax(dim=-1)
        return F.nll_loss(logits, targets).item(), ClassificationScores.from_predictions(
            targets.tolist(), predictions.tolist(), self.labels.labels
        )

    def score(self, source: str | None, picture: Path | None = None) -> dict[str, float]:
        """Print the scores of the model on the labelled series in `source` (or train, valid,
        test: that part of the run's data; None: test), draw its confusion matrix in the PNG
        file `picture` if given, and return loss, accuracy and the count."""
        dataset, folds = self.resolve(source or "test")
        if not dataset.is_labelled:
            raise RnnkitError(
                f"{source} has sequences without a label; evaluate needs every label "
                "(label them, or use `rnnkit predict RUN DATA --out FILE.csv`)"
            )
        loss, scores = self.scores(dataset, folds)
        print(scores.report())
        if picture is not None:
            plot_confusion(scores.confusion, scores.classes, picture)
            print(f"confusion matrix drawn in {picture}")
        return {"loss": loss, "accuracy": scores.accuracy, "sequences": int(scores.support.sum())}

    def resolve(self, source: str) -> tuple[SeriesDataset, Tensor | None]:
        """(the series, their folds to score out of fold or None) of a source, or of a part
        of the run's own data: train, valid (the validated series of the training part, each
        scored by the member that did not learn it, or held out and scored by the whole
        committee) or test."""
        if source not in SPLITS:
            return open_series(source, self.data.format), None
        if source == "test":
            if not has_test_part(self.data.source):
                raise RnnkitError(
                    f"this run trained on {self.data.source}, which has no test part; give "
                    "the test data: `rnnkit evaluate RUN DATA` (from Python, .evaluate(DATA))"
                )
            return open_series(self.data.source, self.data.format, "test"), None
        dataset = open_series(self.data.source, self.data.format, "train")
        if source == "train":
            return dataset, None
        if fingerprint(dataset) != self.data.fingerprint:
            raise RnnkitError(
                f"{self.data.source} changed since this run trained on it, so its folds are "
                "not the ones validated on; score it as `train`, or give DATA"
            )
        folds = torch.tensor(assign_folds(dataset, self.data), dtype=torch.long)
        if not validated(folds):
            raise RnnkitError("this run held nothing out for validation; give DATA, or train")
        kept = (folds != EVERY).nonzero().squeeze(1)
        return dataset.subset(kept.tolist()), folds[kept]

    def predict(self, source: str) -> Predictions:
        """Predict every sequence of `source` (or of a part of the run's data, as `score`);
        score those that have a label."""
        dataset, folds = self.resolve(source)
        labelled = [i for i, label in enumerate(dataset.labels) if label is not None]
        targets = self.labels.encode(dataset.subset(labelled))  # an unknown label: error, no work
        log_probabilities = self.logits(dataset, folds)
        predictions = log_probabilities.argmax(dim=-1)
        scores = None
        if labelled:
            scores = ClassificationScores.from_predictions(
                targets.tolist(), predictions[labelled].tolist(), self.labels.labels
            )
        return Predictions(
            dataset.ids,
            self.labels.decode(predictions),
            scores,
            list(self.labels.labels),
            log_probabilities.exp().numpy(),
        )


def steps_read(lengths: list[int], resample: int, tried: bool = False) -> str:
    """'29-361 steps resampled to 64', or as read, with UNEVEN where the lengths differ and no
    trial chose to read them so."""
    steps = f"{span(lengths)} steps"
    if resample != AS_READ:
        return f"{steps} resampled to {resample}"
    if min(lengths) == max(lengths):
        return steps
    return f"{steps} (read as they are, the trial's choice)" if tried else f"{steps} ({UNEVEN})"


def span(values: list[int]) -> str:
    """'150' or '7-29'."""
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def normalised(sequences: list[np.ndarray], how: str) -> list[np.ndarray]:
    """Each series z-normalised on its own (how="series"), or as it is (the feature scaler
    follows either way)."""
    return normalise_each(sequences) if how == "series" else list(sequences)


def validated(folds: Tensor) -> bool:
    """Whether any series is validated on (held out, or in a member's fold)."""
    return bool((folds != EVERY).any())


def assign_folds(dataset: SeriesDataset | None, data: ClassifyDataConfig) -> list[int]:
    """Each training series' fold: M >= 2 stratified folds; with --folds 1, the held-out share
    as HELD_OUT (validated on by the whole committee) and EVERY (learned from by every member)
    for the rest."""
    labels = dataset.known_labels()
    if data.folds > 1:
        if data.folds > len(labels):
            raise RnnkitError(
                f"--folds {data.folds} needs at least {data.folds} training sequences, and "
                f"{dataset.source} has {len(labels)}; use fewer folds"
            )
        return stratified_folds(labels, data.folds, data.seed)
    folds = [EVERY] * len(labels)
    if data.valid_fraction > 0:
        _, valid = stratified_split(labels, data.valid_fraction, data.seed)
        if not valid:
            raise RnnkitError(
                f"{dataset.source} has no class with two or more sequences, so nothing is left "
                "to validate on; give more sequences per class, or --valid-fraction 0"
            )
        for i in valid:
            folds[i] = HELD_OUT
    return folds
