"""The classify task: label whole time series with a recurrent classifier.

    data      rnnkit.data.series      CSV (wide or long) or the built-in waveforms; labels and
                                      per-feature normalisation fitted on the train split only;
                                      a stratified train/valid split
    batches   rnnkit.data.batching: shuffled each epoch, similar lengths together, padded
    model     rnnkit.models.classifier  recurrent layers -> last state or mean -> linear
    loss      mean cross-entropy per sequence, -ln p(true class | x_1..x_T)
    metrics   loss and accuracy at each evaluation; for the best model so far, accuracy, per-class
              precision and recall and the confusion matrix in RUN/scores.txt and RUN/confusion.png
    predict   `rnnkit predict RUN DATA --out FILE.csv`

Shapes: B batch, T time, D features, K classes, N sequences.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from pathlib import Path

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
    fingerprint,
    open_series,
    stratified_split,
)
from rnnkit.errors import RnnkitError
from rnnkit.files import write_file, write_json
from rnnkit.metrics import ClassificationScores, plot_confusion
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.memory import affordable
from rnnkit.train.config import Recipe
from rnnkit.train.task import Carry, Task
from rnnkit.values import POSITIVE_INT, SHARE, setting

LABELS = "labels.json"
SCALER = "scaler.json"
SCORES_TEXT = "scores.txt"  # the best model's scores on the validation split, as text
SCORES_JSON = "scores.json"  # the same as JSON, with its loss
CONFUSION_PNG = "confusion.png"

# The best of those tried on the built-in example, in under a minute on two CPU cores
# (docs/CLASSIFICATION.md has the comparison).
RECIPE = Recipe(
    "classify",
    model={
        "cell": "gru",
        "hidden_size": 64,
        "num_layers": 1,
        "bidirectional": True,
        "pooling": "mean",
    },
    train={"lr": 1e-2, "eval_every": 50, "warmup": 20},
    budget={"epochs": 40.0},
)


@dataclass
class ClassifyDataConfig:
    """Which series, and how they are split and batched."""

    source: str = setting(
        EXAMPLE,
        f"CSV file or folder of them (default: {EXAMPLE}, generated sine/square/... waves)",
        positional="DATA",
    )
    format: str = setting(
        "auto", "CSV layout: wide (label,v1,v2,...) or long (id,time,...)", choices=FORMATS
    )
    valid_fraction: float = setting(0.2, "share of each class held out for validation", SHARE)
    batch_size: int = setting(32, "B, sequences per batch", POSITIVE_INT)
    seed: int = 1  # the training --seed: it picks the split and each epoch's order
    fingerprint: str = ""  # SHA-256 of the data read: a resumed run checks it is unchanged


@dataclass
class Predictions:
    """The predicted label of every sequence of a file, and the scores on its labelled ones."""

    ids: list[str]
    labels: list[str]
    scores: ClassificationScores | None  # None when no sequence is labelled


class ClassifyTask(Task):
    """A classifier, its labels and scaler, and (when training) its train and valid splits."""

    name = "classify"
    summary = "train a time-series classifier on a CSV file or folder"
    item_name = "sequences"
    DataConfig = ClassifyDataConfig
    ModelConfig = ClassifierConfig

    def __init__(
        self,
        data: ClassifyDataConfig,
        model: SequenceClassifier,
        labels: LabelVocabulary,
        scaler: FeatureScaler,
    ) -> None:
        super().__init__(data, model)
        self.labels, self.scaler = labels, scaler
        self.valid: SeriesDataset | None = None
        self.run: Path | None = None  # where `score` draws confusion matrices
        self.last: ClassificationScores | None = None  # the scores of the last evaluation
        self.last_loss = math.nan

    @classmethod
    def recipe(cls, args: argparse.Namespace | None) -> Recipe:
        return RECIPE

    # ---- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def read(cls, data: ClassifyDataConfig) -> SeriesDataset:
        if data.source != EXAMPLE:
            data.source = str(Path(data.source).resolve())  # resumable from any folder
        return open_series(data.source, data.format)

    @classmethod
    def fingerprint(cls, dataset: SeriesDataset) -> str:
        return fingerprint(dataset)

    @classmethod
    def create(cls, data: ClassifyDataConfig, settings: ClassifierConfig, dataset: SeriesDataset):
        train, _ = split(dataset, data)
        labels, scaler = LabelVocabulary.fit(train), FeatureScaler.fit(train.sequences)
        settings.input_size, settings.num_classes = dataset.num_features, len(labels)
        return cls(data, affordable(lambda: SequenceClassifier(settings)), labels, scaler)

    @classmethod
    def restore(cls, run: Path, data: ClassifyDataConfig, settings: ClassifierConfig):
        labels, scaler = LabelVocabulary.load(run / LABELS), FeatureScaler.load(run / SCALER)
        if len(labels) != settings.num_classes or len(scaler.mean) != settings.input_size:
            raise RnnkitError(f"{run}: {LABELS} or {SCALER} does not match config.json; retrain")
        model = affordable(lambda: SequenceClassifier(settings), training=False)
        task = cls(data, model, labels, scaler)
        task.run = run
        return task

    def attach(self, dataset: SeriesDataset) -> None:
        train, self.valid = split(dataset, self.data)
        sequences = self.scaler.transform(train.sequences)
        targets = self.labels.encode(train)
        self.train_data = Batches(sequences, self.data.batch_size, self.data.seed, labels=targets)

    def save_artifacts(self, folder: Path) -> None:
        self.run = Path(folder)
        self.labels.save(self.run / LABELS)
        self.scaler.save(self.run / SCALER)

    # ---- training and evaluation -----------------------------------------------------------

    def train_loss(self, batch: Padded, carry: Carry) -> tuple[Tensor, Carry]:
        """Mean over the batch of -ln p(true class | sequence); nothing is carried."""
        x, lengths = batch.values.to(self.device), batch.lengths.to(self.device)
        _logits, loss = self.model(x, lengths, batch.labels.to(self.device))
        return loss, None

    def evaluate(self, final: bool = False) -> dict[str, float]:
        """Loss and accuracy on the valid split (its scores kept for `on_best`)."""
        self.last_loss, self.last = self.scores(self.valid)
        return {"loss": self.last_loss, "accuracy": self.last.accuracy}

    def on_best(self, folder: Path) -> str:
        """The best model's scores as text, JSON and a confusion heat map; the per-class table."""
        write_file(folder / SCORES_TEXT, self.last.report() + "\n")
        write_json(folder / SCORES_JSON, {"loss": self.last_loss, **self.last.to_dict()})
        plot_confusion(self.last.confusion, self.last.classes, folder / CONFUSION_PNG)
        return self.last.report()

    def describe(self) -> str:
        K = len(self.labels)
        sizes = ""
        if self.train_data is not None:
            lengths = [len(s) for s in self.train_data.sequences + self.valid.sequences]
            D = self.model.config.input_size
            sizes = (
                f"; {len(self.train_data.sequences)} train and {len(self.valid)} valid sequences, "
                f"{min(lengths)}-{max(lengths)} steps of {D} feature{'s' * (D > 1)}"
            )
        return (
            f"{K} classes ({', '.join(self.labels.labels)}){sizes}; "
            f"a model that knows nothing has loss ln K = {math.log(K):.3f}"
        )

    def logits(self, dataset: SeriesDataset) -> Tensor:
        """Logits (N, K) of every sequence of `dataset`, in its order (normalised first)."""
        sequences = self.scaler.transform(dataset.sequences)
        logits = torch.empty(len(sequences), len(self.labels))
        self.model.eval()
        with torch.no_grad():
            for batch in fixed_batches(sequences, self.data.batch_size):
                x, lengths = batch.values.to(self.device), batch.lengths.to(self.device)
                logits[batch.indices] = self.model(x, lengths)[0].float().cpu()
        return logits

    def scores(self, dataset: SeriesDataset) -> tuple[float, ClassificationScores]:
        """Mean cross-entropy and the scores of the model on a labelled dataset."""
        targets = self.labels.encode(dataset)
        logits = self.logits(dataset)
        predictions = logits.argmax(dim=-1)
        return F.cross_entropy(logits, targets).item(), ClassificationScores.from_predictions(
            targets.tolist(), predictions.tolist(), self.labels.labels
        )

    def score(self, source: str | None) -> dict[str, float]:
        """Print the scores of the model on the labelled series in `source` and draw its
        confusion matrix as RUN/confusion-NAME.png; return loss, accuracy and the count."""
        if source is None:
            raise RnnkitError("a classify run keeps no test split; give DATA to evaluate on")
        dataset = open_series(source, self.data.format)
        if not dataset.is_labelled:
            raise RnnkitError(
                f"{source} has sequences without a label; evaluate needs every label "
                "(label them, or use `rnnkit predict RUN DATA --out FILE.csv`)"
            )
        loss, scores = self.scores(dataset)
        print(scores.report())
        if self.run is not None:
            stem = re.sub(r"[^a-zA-Z0-9_.-]+", "-", Path(source).stem)
            picture = self.run / f"confusion-{stem}.png"
            plot_confusion(scores.confusion, scores.classes, picture)
            print(f"confusion matrix drawn in {picture}")
        return {"loss": loss, "accuracy": scores.accuracy, "sequences": len(dataset)}

    def predict(self, source: str) -> Predictions:
        """Predict every sequence of `source`; score those that have a label."""
        dataset = open_series(source, self.data.format)
        labelled = [i for i, label in enumerate(dataset.labels) if label is not None]
        targets = self.labels.encode(dataset.subset(labelled))  # an unknown label: error, no work
        predictions = self.logits(dataset).argmax(dim=-1)
        scores = None
        if labelled:
            scores = ClassificationScores.from_predictions(
                targets.tolist(), predictions[labelled].tolist(), self.labels.labels
            )
        return Predictions(dataset.ids, self.labels.decode(predictions), scores)


def split(dataset: SeriesDataset, data: ClassifyDataConfig) -> tuple[SeriesDataset, SeriesDataset]:
    """The stratified (train, valid) split of `dataset`, the same for the same seed."""
    train_idx, valid_idx = stratified_split(dataset.known_labels(), data.valid_fraction, data.seed)
    if not valid_idx:
        raise RnnkitError(
            f"{dataset.source} has no class with two or more sequences, so nothing is left to "
            "validate on; give more sequences per class"
        )
    return dataset.subset(train_idx), dataset.subset(valid_idx)
