"""The classify task: label whole time series with a recurrent classifier.

It plugs the pieces into the training loop's task contract (task.py):

    data      rnnkit.data.series        CSV (wide or long) or the built-in waveforms; labels and
                                        per-feature normalisation fitted on the train split only;
                                        a stratified train/valid split; shuffled padded batches
    model     rnnkit.models.classifier  recurrent layers -> last state or mean -> linear
    loss      mean cross-entropy per sequence, -ln p(true class | x_1..x_T)
    metrics   loss and accuracy at each evaluation; for the best model so far, accuracy, per-class
              precision and recall and the confusion matrix in RUN/scores.txt and RUN/confusion.png

and provides the registry hooks (registry.py) for `rnnkit train classify` and `rnnkit evaluate`,
and `predict_file` for `rnnkit predict`.

Shapes: B batch, T time, D features, K classes, N sequences.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.series import (
    EXAMPLE,
    FORMATS,
    FeatureScaler,
    LabelVocabulary,
    SeriesBatch,
    SeriesDataset,
    iterate_batches,
    open_series,
    stratified_split,
)
from rnnkit.errors import RnnkitError
from rnnkit.layers import CELL_NAMES
from rnnkit.metrics import ClassificationScores, plot_confusion
from rnnkit.models.classifier import POOLINGS, SequenceClassifier
from rnnkit.train.checkpoint import CONFIG, atomic_write, write_json
from rnnkit.train.config import (
    TrainConfig,
    add_config_arguments,
    config_from_args,
    config_from_json,
)
from rnnkit.train.task import Carry, Task

LABELS = "labels.json"
SCALER = "scaler.json"
SCORES_TEXT = "scores.txt"  # the best model's scores on the validation split, as text
SCORES_JSON = "scores.json"  # the same as JSON, with its loss
CONFUSION_PNG = "confusion.png"

# The training settings `rnnkit train classify` uses unless told otherwise; with ClassifierConfig's
# defaults, the best of those tried on the built-in example, in under a minute on two CPU cores
# (docs/CLASSIFICATION.md has the comparison).
RECIPE_TRAIN = {"lr": 1e-2, "eval_every": 50, "warmup": 20}
RECIPE_BUDGET = {"epochs": 40.0}  # used only when none of --steps, --epochs, --time is given


@dataclass
class ClassifyDataConfig:
    """Which series, and how they are split and batched."""

    source: str = EXAMPLE  # the CSV file or folder it trains on (EXAMPLE: generated waveforms)
    format: str = field(
        default="auto",
        metadata={
            "help": "CSV layout: wide (label,v1,v2,...) or long (id,time,...)",
            "choices": FORMATS,
        },
    )
    valid_fraction: float = field(
        default=0.2, metadata={"help": "share of each class held out for validation"}
    )
    batch_size: int = field(default=32, metadata={"help": "B, sequences per batch"})
    seed: int = 1  # the training --seed: it picks the split and each epoch's order
    fingerprint: str = ""  # SHA-256 of the data read: a resumed run checks it is unchanged

    def check(self) -> ClassifyDataConfig:
        if not 0.0 < self.valid_fraction < 1.0:
            raise RnnkitError(
                f"--valid-fraction must be between 0 and 1 (e.g. 0.2), got {self.valid_fraction}"
            )
        if self.batch_size < 1:
            raise RnnkitError(f"--batch-size must be at least 1, got {self.batch_size}")
        return self


@dataclass
class ClassifierConfig:
    """Everything needed to rebuild a SequenceClassifier (saved in the run's config.json)."""

    input_size: int = 1  # D, features per time step (set from the data, not a flag)
    num_classes: int = 2  # K (set from the labels, not a flag)
    cell: str = field(
        default="gru",
        metadata={
            "help": "recurrent cell; gru is the lecture's (reset before U_h), gru-after cuDNN's",
            "choices": CELL_NAMES,
        },
    )
    hidden_size: int = field(default=64, metadata={"help": "H, units per recurrent layer"})
    num_layers: int = field(default=1, metadata={"help": "recurrent layers stacked"})
    bidirectional: bool = field(
        default=True, metadata={"help": "read each sequence both ways (--no-bidirectional: not)"}
    )
    dropout: float = field(default=0.0, metadata={"help": "dropout between stacked layers"})
    pooling: str = field(
        default="mean",
        metadata={
            "help": "one vector per sequence: the last state or the mean",
            "choices": POOLINGS,
        },
    )
    backend: str | None = field(
        default=None, metadata={"help": "layer backend (native, fused, loop); default: fastest"}
    )

    def check(self) -> ClassifierConfig:
        if self.hidden_size < 1 or self.num_layers < 1:
            raise RnnkitError(
                f"--hidden and --layers must be at least 1, got {self.hidden_size} and "
                f"{self.num_layers}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise RnnkitError(f"--dropout must be in [0, 1), got {self.dropout}")
        return self


class ShuffledBatches:
    """Padded batches of the training sequences, in a new order each epoch, from an exact position.

    Epoch e visits the sequences in the order numpy's default_rng(seed + e) permutes them, in
    batches of B (the last one smaller when B does not divide N). The position is two integers,
    (epoch, index of the next batch in it): a resumed run rebuilds the same order from them.
    """

    def __init__(
        self, sequences: list[np.ndarray], targets: Tensor, batch_size: int, seed: int
    ) -> None:
        self.sequences = sequences
        self.targets = targets
        self.batch_size = batch_size
        self.seed = seed
        self.batches_per_epoch = math.ceil(len(sequences) / batch_size)
        self.epoch, self.index = 0, 0
        self._batches = None  # the iterator over the current epoch, from self.index on
        self._last_size = 0

    def next_batch(self) -> SeriesBatch:
        if self._batches is None:
            batches = iterate_batches(
                self.sequences, self.targets, self.batch_size, seed=self.seed + self.epoch
            )
            self._batches = islice(batches, self.index, None)
        batch = next(self._batches)
        self._last_size = len(batch.indices)
        self.index += 1
        if self.index == self.batches_per_epoch:
            self.epoch, self.index, self._batches = self.epoch + 1, 0, None
        return batch

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.index / self.batches_per_epoch

    @property
    def items_per_batch(self) -> int:
        """Sequences in the batch served last (the items of the items/s readout)."""
        return self._last_size

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index, self._batches = state["epoch"], state["index"], None


class ClassifyTask(Task):
    """A classifier, its labels and scaler, and (when training) its train and valid splits."""

    name = "classify"

    def __init__(
        self,
        data: ClassifyDataConfig,
        model_config: ClassifierConfig,
        labels: LabelVocabulary,
        scaler: FeatureScaler,
        splits: tuple[SeriesDataset, SeriesDataset] | None = None,
        run: Path | None = None,
    ) -> None:
        self.data = data
        self.model_config = model_config
        self.model = SequenceClassifier(**asdict(model_config))
        self.labels = labels
        self.scaler = scaler
        self.run = run  # the run folder, where the best model's scores are written
        self.train_data = None
        self.valid = None
        self.best_loss = math.inf  # of the model in RUN/model.safetensors, as the loop decides
        self._new_best: ClassificationScores | None = None
        if splits is not None:
            self.best_loss = _saved_best_loss(run)
            train, self.valid = splits
            self.train_data = ShuffledBatches(
                scaler.transform(train.sequences), labels.encode(train), data.batch_size, data.seed
            )

    # ---- the loop's contract ----------------------------------------------------------------

    def train_loss(self, batch: SeriesBatch, carry: Carry) -> tuple[Tensor, Carry]:
        """Mean over the batch of -ln p(true class | sequence); nothing is carried."""
        _logits, loss = self.model(
            batch.x.to(self.device), batch.lengths.to(self.device), batch.targets.to(self.device)
        )
        return loss, None

    def evaluate(self) -> dict[str, float]:
        """Loss and accuracy on the valid split; the scores of a new best model go to the run."""
        loss, scores = self.score(self.valid)
        self._new_best = None
        if loss < self.best_loss:
            self.best_loss, self._new_best = loss, scores
            if self.run is not None:
                write_scores(self.run, loss, scores)
        return {"loss": loss, "accuracy": scores.accuracy}

    def sample(self) -> str | None:
        """The per-class table and confusion matrix, when this evaluation found a better model."""
        return None if self._new_best is None else self._new_best.report()

    def describe(self) -> str:
        K = len(self.labels)
        sizes = ""
        if self.train_data is not None:
            lengths = [len(s) for s in self.train_data.sequences + self.valid.sequences]
            features = _count(self.model_config.input_size, "feature")
            sizes = (
                f"; {len(self.train_data.sequences)} train and {len(self.valid)} valid sequences, "
                f"{min(lengths)}-{max(lengths)} steps of {features}"
            )
        return (
            f"{K} classes ({', '.join(self.labels.labels)}){sizes}; "
            f"a model that knows nothing has loss ln K = {math.log(K):.3f}"
        )

    def config(self) -> dict[str, Any]:
        return {"data": asdict(self.data), "model": asdict(self.model_config)}

    def save_artifacts(self, folder: Path) -> None:
        self.run = Path(folder)
        self.labels.save(self.run / LABELS)
        self.scaler.save(self.run / SCALER)

    # ---- classify-specific ------------------------------------------------------------------

    def logits(self, dataset: SeriesDataset) -> Tensor:
        """Logits (N, K) of every sequence of `dataset`, in its order (normalised first)."""
        sequences = self.scaler.transform(dataset.sequences)
        logits = torch.empty(len(sequences), len(self.labels))
        with torch.no_grad():
            for batch in iterate_batches(sequences, None, self.data.batch_size):
                batch_logits, _ = self.model(batch.x.to(self.device), batch.lengths.to(self.device))
                logits[batch.indices] = batch_logits.float().cpu()
        return logits

    def score(self, dataset: SeriesDataset) -> tuple[float, ClassificationScores]:
        """Mean cross-entropy and the scores of the model on a labelled dataset."""
        targets = self.labels.encode(dataset)
        logits = self.logits(dataset)
        loss = F.cross_entropy(logits, targets).item()
        predictions = logits.argmax(dim=-1)
        return loss, ClassificationScores.from_predictions(
            targets.tolist(), predictions.tolist(), self.labels.labels
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def write_scores(folder: Path, loss: float, scores: ClassificationScores) -> None:
    """The scores as text (scores.txt), JSON (scores.json) and a confusion heat map (PNG)."""
    atomic_write(folder / SCORES_TEXT, scores.report() + "\n")
    write_json(folder / SCORES_JSON, {"loss": loss, **scores.to_dict()})
    plot_confusion(scores.confusion, scores.classes, folder / CONFUSION_PNG)


def _saved_best_loss(run: Path | None) -> float:
    """The loss in RUN/scores.json (a resumed run keeps its best), or inf."""
    path = None if run is None else Path(run) / SCORES_JSON
    if path is None or not path.is_file():
        return math.inf
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["loss"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise RnnkitError(f"{path} is corrupt; delete it to let the run rewrite it") from None


# ---------------------------------------------------------------------------------------------
# Building a task: from settings (a new run) or from a run folder


def build_task(data: ClassifyDataConfig, model_config: ClassifierConfig) -> ClassifyTask:
    """A new task: read the series, split, fit labels and scaler on train, build the model."""
    dataset = open_series(data.source, data.format)
    data.fingerprint = fingerprint(dataset)
    train, valid = split(dataset, data)
    labels = LabelVocabulary.fit(train)
    scaler = FeatureScaler.fit(train.sequences)
    model_config.input_size, model_config.num_classes = dataset.num_features, len(labels)
    return ClassifyTask(data, model_config, labels, scaler, (train, valid))


def split(dataset: SeriesDataset, data: ClassifyDataConfig) -> tuple[SeriesDataset, SeriesDataset]:
    """The stratified (train, valid) split of `dataset`, the same for the same seed."""
    train_idx, valid_idx = stratified_split(dataset.known_labels(), data.valid_fraction, data.seed)
    if not valid_idx:
        raise RnnkitError(
            f"{dataset.source} has no class with two or more sequences, so nothing is left to "
            "validate on; give more sequences per class"
        )
    return dataset.subset(train_idx), dataset.subset(valid_idx)


def fingerprint(dataset: SeriesDataset) -> str:
    """SHA-256 of the ids, labels and values read (not of the file bytes: any layout will do)."""
    digest = hashlib.sha256()
    for name, label, sequence in zip(dataset.ids, dataset.labels, dataset.sequences, strict=True):
        digest.update(json.dumps([name, label, list(sequence.shape)]).encode("utf-8"))
        digest.update(np.ascontiguousarray(sequence).tobytes())
    return digest.hexdigest()


def from_run(run: Path, config: dict[str, Any], with_data: bool = False) -> ClassifyTask:
    """The task saved in `run` (untrained weights); with_data re-reads the series, to resume."""
    run = Path(run)
    where = run / CONFIG
    settings = config["task_config"]
    data = config_from_json(ClassifyDataConfig, settings.get("data"), f"{where} data")
    model_config = config_from_json(ClassifierConfig, settings.get("model"), f"{where} model")
    labels, scaler = _load_artifacts(run, model_config)
    if not with_data:
        return _task_from_settings(where, data, model_config, labels, scaler, run=run)
    dataset = open_series(data.source, data.format)
    if fingerprint(dataset) != data.fingerprint:
        raise RnnkitError(
            f"{data.source} changed since this run started; restore it or start a new run"
        )
    return _task_from_settings(
        where, data, model_config, labels, scaler, split(dataset, data), run=run
    )


def _task_from_settings(where: Path, data, model_config, *rest, **options) -> ClassifyTask:
    """The task from settings read from a run folder: settings it cannot build are one error."""
    try:
        return ClassifyTask(data.check(), model_config.check(), *rest, **options)
    except (ValueError, TypeError, RuntimeError, MemoryError) as error:
        raise RnnkitError(f"{where} has settings rnnkit cannot build ({error}); retrain") from None


def _load_artifacts(
    run: Path, model_config: ClassifierConfig
) -> tuple[LabelVocabulary, FeatureScaler]:
    try:
        labels, scaler = LabelVocabulary.load(run / LABELS), FeatureScaler.load(run / SCALER)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise RnnkitError(
            f"{run} has a missing or corrupt {LABELS} or {SCALER}; the run folder is incomplete, "
            "retrain"
        ) from None
    if len(labels) != model_config.num_classes or len(scaler.mean) != model_config.input_size:
        raise RnnkitError(f"{run}: {LABELS} or {SCALER} does not match config.json; retrain")
    return labels, scaler


# ---------------------------------------------------------------------------------------------
# Predicting: `rnnkit predict` and `rnnkit evaluate`


@dataclass
class Predictions:
    """The predicted label of every sequence of a file, and the scores on its labelled ones."""

    ids: list[str]
    labels: list[str]
    scores: ClassificationScores | None  # None when no sequence is labelled


def predict_file(task: ClassifyTask, source: str) -> Predictions:
    """Predict every sequence of `source`; score those that have a label (unknown ones: error)."""
    dataset = open_series(source, task.data.format)
    labelled = [i for i, label in enumerate(dataset.labels) if label is not None]
    targets = task.labels.encode(dataset.subset(labelled))  # an unknown label: error, no work
    predictions = task.logits(dataset).argmax(dim=-1)
    scores = None
    if labelled:
        scores = ClassificationScores.from_predictions(
            targets.tolist(), predictions[labelled].tolist(), task.labels.labels
        )
    return Predictions(dataset.ids, task.labels.decode(predictions), scores)


# ---------------------------------------------------------------------------------------------
# Command-line hooks (registry.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="DATA",
        nargs="?",
        default=None,
        help=f"CSV file or folder of them (default: {EXAMPLE}, generated sine/square/... waves)",
    )
    add_config_arguments(parser, ClassifyDataConfig)
    add_config_arguments(parser, ClassifierConfig, hidden_size="--hidden", num_layers="--layers")
    # The training flags' help shows the defaults of every task; these are classify's own.
    flags = " ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in RECIPE_TRAIN.items())
    parser.epilog = (
        f"classify trains with {flags} unless told otherwise, "
        f"and for --epochs {RECIPE_BUDGET['epochs']:g} when no budget is given"
    )


def from_args(args: argparse.Namespace) -> tuple[ClassifyTask, TrainConfig]:
    budget_given = any(getattr(args, k, None) is not None for k in ("steps", "epochs", "time"))
    budget = {} if budget_given else RECIPE_BUDGET
    train_config = config_from_args(TrainConfig, args, **RECIPE_TRAIN, **budget).check()
    data = config_from_args(
        ClassifyDataConfig, args, source=args.source or EXAMPLE, seed=train_config.seed
    ).check()
    model_config = config_from_args(ClassifierConfig, args).check()
    return build_task(data, model_config), train_config


def evaluate_file(
    task: ClassifyTask, path: str, args: argparse.Namespace | None = None
) -> dict[str, float]:
    """Print the scores of the model on the labelled series in `path`, and draw its confusion
    matrix as RUN/confusion-NAME.png; return loss, accuracy and the number of sequences."""
    dataset = open_series(path, task.data.format)
    if not dataset.is_labelled:
        raise RnnkitError(
            f"{path} has sequences without a label; evaluate needs every label "
            "(label them, or use `rnnkit predict RUN DATA --out FILE.csv`)"
        )
    loss, scores = task.score(dataset)
    print(scores.report())
    if task.run is not None:
        picture = task.run / f"confusion-{_file_name(path)}.png"
        plot_confusion(scores.confusion, scores.classes, picture)
        print(f"confusion matrix drawn in {picture}")
    return {"loss": loss, "accuracy": scores.accuracy, "sequences": len(dataset)}


def _file_name(path: str) -> str:
    """A file-name-safe stem of a data path ("example:waveforms" -> "example-waveforms")."""
    return re.sub(r"[^\w.-]+", "-", Path(path).stem) or "data"


def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    """A classifier adds no flags to `rnnkit sample`: it does not generate."""


def sample(task: ClassifyTask, args: argparse.Namespace) -> None:
    raise RnnkitError(
        "a classify run labels sequences, it does not generate them; "
        "use `rnnkit predict RUN DATA --out FILE.csv`"
    )
