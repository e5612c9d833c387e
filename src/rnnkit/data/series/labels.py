"""The classes of a classification task, in a fixed order, saved as labels.json in a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data.series.dataset import SeriesDataset
from rnnkit.errors import RnnkitError
from rnnkit.files import read_json, write_json


@dataclass(frozen=True)
class LabelVocabulary:
    """The classes, in a fixed order: numeric labels by value, others alphabetically."""

    labels: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {label: i for i, label in enumerate(self.labels)})

    @classmethod
    def fit(cls, dataset: SeriesDataset) -> LabelVocabulary:
        """The vocabulary of a training set; it needs at least two classes."""
        distinct = set(dataset.known_labels())
        if len(distinct) < 2:
            only = f" ({next(iter(distinct))!r})" if distinct else ""
            raise RnnkitError(
                f"{dataset.source} has one class only{only}; "
                "classification needs sequences of at least two labels"
            )
        return cls(tuple(sorted(distinct, key=label_order)))

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, dataset: SeriesDataset) -> Tensor:
        """Class indices (B,) of every sequence; an unknown or missing label is an error."""
        indices = []
        for label, name in zip(dataset.known_labels(), dataset.ids, strict=True):
            if label not in self._index:
                raise RnnkitError(
                    f"sequence {name} in {dataset.source} has label {label!r}, which the model "
                    f"was not trained on (it knows {', '.join(self.labels)}); fix the label "
                    "or leave the cell empty to predict it"
                )
            indices.append(self._index[label])
        return torch.tensor(indices, dtype=torch.long)

    def decode(self, indices: Sequence[int] | Tensor) -> list[str]:
        return [self.labels[int(i)] for i in indices]

    def save(self, path: Path) -> None:
        write_json(path, {"labels": list(self.labels)})

    @classmethod
    def load(cls, path: Path) -> LabelVocabulary:
        """labels.json of a run folder, checked (it may be damaged or hostile)."""
        labels = read_json(path, "label list").get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
            raise RnnkitError(f"{path} does not list the labels as strings; retrain")
        if len(set(labels)) != len(labels) or len(labels) < 2:
            raise RnnkitError(f"{path} needs two or more distinct labels; retrain")
        return cls(tuple(labels))


def label_order(label: str) -> tuple[int, float, str]:
    """Numbers first, by value ("2" before "10"); then text, alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
