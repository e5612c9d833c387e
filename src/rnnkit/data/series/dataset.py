"""SeriesDataset: labelled (or unlabelled) time series read from one source, and its fingerprint.

A sequence is a float32 array (T, D): T time steps of D features, no missing values left.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import RnnkitError

LARGEST = float(np.finfo(np.float32).max)  # a value beyond it would be inf in a sequence
TOO_LARGE = "is beyond the range of 32-bit floats (3.4e38); rescale the data"


@dataclass
class SeriesDataset:
    """Labelled (or unlabelled) sequences read from one source.

    `sequences[i]` is a float32 array (T_i, D) with no missing values left; `labels[i]` is the
    label as written in the file, or None when the cell was empty; `ids[i]` names the sequence in
    messages and prediction files.
    """

    sequences: list[np.ndarray]  # each (T_i, D)
    labels: list[str | None]
    ids: list[str]
    features: list[str]  # D names
    source: str  # where it came from, for messages

    @property
    def num_features(self) -> int:
        return len(self.features)

    def __len__(self) -> int:
        return len(self.sequences)

    def subset(self, indices: Sequence[int]) -> SeriesDataset:
        """The sequences at `indices`, in that order."""
        return SeriesDataset(
            sequences=[self.sequences[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            ids=[self.ids[i] for i in indices],
            features=list(self.features),
            source=self.source,
        )

    @property
    def is_labelled(self) -> bool:
        """True when every sequence has a label (a file to score, not only to predict)."""
        return all(label is not None for label in self.labels)

    def known_labels(self) -> list[str]:
        """Every label, for training: an unlabelled sequence is an error here."""
        for label, name in zip(self.labels, self.ids, strict=True):
            if label is None:
                raise RnnkitError(
                    f"sequence {name} in {self.source} has no label; "
                    "training needs a label for every sequence"
                )
        return [label for label in self.labels if label is not None]


def fingerprint(dataset: SeriesDataset) -> str:
    """SHA-256 of the ids, labels and values read (not of the file bytes: any layout will do)."""
    digest = hashlib.sha256()
    for name, label, sequence in zip(dataset.ids, dataset.labels, dataset.sequences, strict=True):
        digest.update(json.dumps([name, label, list(sequence.shape)]).encode("utf-8"))
        digest.update(np.ascontiguousarray(sequence).tobytes())
    return digest.hexdigest()
