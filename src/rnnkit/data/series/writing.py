"""Writing time series and predictions as CSV (atomically: a file is whole or absent)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.data.series.dataset import SeriesDataset
from rnnkit.data.series.reading import LONG_ID, LONG_LABEL, LONG_TIME
from rnnkit.errors import RnnkitError
from rnnkit.files import write_file


def write_series(dataset: SeriesDataset, path: Path, format: str = "long") -> None:
    """Write `dataset` as CSV in the wide (univariate only) or long layout."""
    if format == "wide" and dataset.num_features != 1:
        raise RnnkitError(
            f"the wide layout holds one feature but the data has {dataset.num_features}; "
            "write it in the long layout"
        )
    text = io.StringIO()
    writer = csv.writer(text)
    if format == "wide":
        for label, sequence in zip(dataset.labels, dataset.sequences, strict=True):
            writer.writerow([label or "", *(f"{v:.7g}" for v in sequence[:, 0])])
    else:
        writer.writerow([LONG_ID, LONG_TIME, *dataset.features, LONG_LABEL])
        for name, label, sequence in zip(
            dataset.ids, dataset.labels, dataset.sequences, strict=True
        ):
            for t, step in enumerate(sequence):
                writer.writerow([name, t, *(f"{v:.7g}" for v in step), label or ""])
    write_file(path, text.getvalue())


def write_predictions(
    path: Path,
    ids: Sequence[str],
    predictions: Sequence[str],
    probabilities: np.ndarray | None = None,
    classes: Sequence[str] = (),
) -> None:
    """One row per sequence: its `id` and the predicted label in a column named `prediction`;
    with `probabilities` (N, K), a column `p_CLASS` for each of the K `classes` after them."""
    if probabilities is None:
        probabilities, classes = np.empty((len(ids), 0)), ()
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["id", "prediction", *(f"p_{name}" for name in classes)])
    for name, label, row in zip(ids, predictions, probabilities, strict=True):
        writer.writerow([name, label, *(f"{p:.6g}" for p in row)])
    write_file(path, text.getvalue())
