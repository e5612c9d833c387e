"""Scores of a model's predictions against the truth."""

from rnnkit.metrics.classification import (
    ClassificationScores,
    confusion_matrix,
    format_confusion,
    plot_confusion,
)

__all__ = ["ClassificationScores", "confusion_matrix", "format_confusion", "plot_confusion"]
