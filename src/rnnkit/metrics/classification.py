"""Accuracy, per-class precision and recall, and the confusion matrix (as text and as a PNG).

With C the confusion matrix, C[i, j] = the number of sequences of true class i predicted as j:

    accuracy     = sum_k C[k, k] / sum_{i,j} C[i, j]
    precision_k  = C[k, k] / sum_i C[i, k]      (of the sequences predicted k, the share that are k)
    recall_k     = C[k, k] / sum_j C[k, j]      (of the sequences that are k, the share found)

A precision or recall whose denominator is 0 (a class never predicted, or absent) is undefined:
it is NaN here, printed as "-", and null in JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.files import write_with

CORNER = "true \\ predicted"  # the confusion table's top-left cell


def confusion_matrix(
    targets: Sequence[int], predictions: Sequence[int], num_classes: int
) -> np.ndarray:
    """C (K, K) int64: rows are true classes, columns predicted classes."""
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (np.asarray(targets, dtype=np.int64), np.asarray(predictions)), 1)
    return confusion


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    out = np.full(numerator.shape, math.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


@dataclass
class ClassificationScores:
    """Everything reported about one set of predictions."""

    classes: list[str]  # K names, in class-index order
    confusion: np.ndarray  # (K, K)

    @classmethod
    def from_predictions(
        cls, targets: Sequence[int], predictions: Sequence[int], classes: Sequence[str]
    ) -> ClassificationScores:
        return cls(list(classes), confusion_matrix(targets, predictions, len(classes)))

    @property
    def accuracy(self) -> float:
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else math.nan

    @property
    def precision(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion), self.confusion.sum(axis=0))

    @property
    def recall(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion), self.confusion.sum(axis=1))

    @property
    def support(self) -> np.ndarray:
        """How many sequences of each true class."""
        return self.confusion.sum(axis=1)

    def report(self) -> str:
        """Accuracy, a per-class table and the confusion matrix, as plain text."""
        width = max(5, *(len(name) for name in self.classes))
        lines = [
            f"accuracy {self.accuracy:.4f} ({np.trace(self.confusion)}/{self.confusion.sum()})",
            "",
            f"{'class':<{width}}  precision  recall  support",
        ]
        for name, p, r, n in zip(
            self.classes, self.precision, self.recall, self.support, strict=True
        ):
            lines.append(f"{name:<{width}}  {_cell(p):>9}  {_cell(r):>6}  {n:>7}")
        lines += ["", format_confusion(self.confusion, self.classes)]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-ready summary (undefined ratios become null)."""
        return {
            "accuracy": _json_number(self.accuracy),
            "classes": self.classes,
            "precision": [_json_number(p) for p in self.precision],
            "recall": [_json_number(r) for r in self.recall],
            "support": self.support.tolist(),
            "confusion": self.confusion.tolist(),
        }


def _cell(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def format_confusion(confusion: np.ndarray, classes: Sequence[str]) -> str:
    """The confusion matrix as a text table, true classes down, predicted across."""
    names = [str(name) for name in classes]
    width = max(len(CORNER), *(len(n) for n in names))
    column = max(5, *(len(n) for n in names), len(str(confusion.max(initial=0))))
    lines = [f"{CORNER:<{width}}  " + "  ".join(f"{n:>{column}}" for n in names)]
    for name, row in zip(names, confusion, strict=True):
        lines.append(f"{name:<{width}}  " + "  ".join(f"{v:>{column}}" for v in row))
    return "\n".join(lines)


def plot_confusion(confusion: np.ndarray, classes: Sequence[str], path: Path) -> None:
    """Save the confusion matrix as a PNG heat map with the counts written in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = 1.5 + 0.6 * len(classes)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(confusion, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = range(len(classes))
    axes.set_xticks(ticks, labels=classes, rotation=45, ha="right")
    axes.set_yticks(ticks, labels=classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    threshold = confusion.max(initial=0) / 2
    for i in ticks:
        for j in ticks:
            color = "white" if confusion[i, j] > threshold else "black"
            axes.text(j, i, str(confusion[i, j]), ha="center", va="center", color=color)
    figure.tight_layout()
    write_with(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)
