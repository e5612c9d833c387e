"""What the music tasks share: whole pieces as training sequences, scored the same way.

    data      rnnkit.data.music   a corpus, folder, file or JSB JSON -> pieces on a grid, split
                                  (a JSON keeps its own split); optional transposition of the
                                  training pieces into all 12 keys
    batches   rnnkit.data.batching: whole pieces, shuffled each epoch, similar lengths together,
              padded; each piece predicts its steps 2..T from the steps before (the state
              starts fresh for each piece)
    loss      summed over a whole split and divided by its number of predicted steps
    generate  `rnnkit generate` (rnnkit.generate.music); `evaluate --generated` compares

A subclass (tasks/music.py, tasks/melody.py) says how a piece becomes a sequence (`encode`),
what its model's summed loss of a batch is (`nll`), and how it generates.
rnnkit.data.music loads music21 (slow), so it is imported inside the functions that use it:
`rnnkit --help` imports this module.
"""

from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.batching import Batches, Padded, fixed_batches
from rnnkit.errors import RnnkitError
from rnnkit.files import absolute
from rnnkit.train.task import Carry, Task
from rnnkit.values import POSITIVE_INT, setting

if TYPE_CHECKING:
    from rnnkit.data.music import MusicSplits, Piece
    from rnnkit.generate.sampler import Sampler

# rnnkit.data.music's corpora and grids, spelled here so the flags need not load music21.
GRID_NAMES = ("quarter", "8th", "16th")
SPLITS = ("train", "valid", "test")  # what `rnnkit evaluate RUN SPLIT` may name


@dataclass
class MusicDataConfig:
    """Which music, how it is gridded, and how it is batched."""

    source: str = setting(
        "bach",
        "bach, nottingham (music21's corpora), a folder or file of MIDI / MusicXML / ABC / "
        "Humdrum, or a JSB-style .json with its own train/valid/test",
        flag="--corpus",
    )
    grid: str = setting("quarter", "time step: a quarter, 8th or 16th note", choices=GRID_NAMES)
    transpose: bool = setting(False, "train on the training pieces in all 12 keys")
    limit: int | None = setting(
        None, "read only the first N files (JSON: N pieces per split), for quick runs", POSITIVE_INT
    )
    batch_size: int = setting(16, "B, pieces per batch", POSITIVE_INT)
    seed: int = 1  # the order of pieces in each epoch (set from --seed)
    fingerprint: str = ""  # SHA-256 of the training pieces: a resumed run checks it is unchanged


class PieceTask(Task):
    """A model of whole pieces and (when training) its train and valid pieces."""

    DataConfig = MusicDataConfig
    pad = 0  # what pads a sequence: silence in a piano-roll, <pad> among melody events

    def __init__(self, data: MusicDataConfig, model: torch.nn.Module) -> None:
        super().__init__(data, model)
        self.valid: list[np.ndarray] = []

    # ---- what a subclass says ------------------------------------------------------------------

    @abstractmethod
    def encode(self, piece: Piece) -> np.ndarray:
        """A piece as the model reads it: (T, ...) steps."""

    @abstractmethod
    def nll(self, batch: Padded) -> tuple[Tensor, int]:
        """The summed NLL (nats) of the batch's predicted steps (2..T of each piece), and their
        number. batch.values holds whole pieces, padded."""

    # ---- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def read(cls, data: MusicDataConfig) -> MusicSplits:
        """The pieces of the source on its grid, split. A path is made absolute first, so that
        the run folder works from any directory."""
        from rnnkit.data.music import CORPORA, load_music

        if data.source not in CORPORA:
            data.source = str(absolute(data.source))
        splits = load_music(data.source, data.grid, limit=data.limit)
        if not splits.train:
            raise RnnkitError(f"{data.source} has no training pieces; give more music")
        return splits

    @classmethod
    def fingerprint(cls, dataset: MusicSplits) -> str:
        digest = hashlib.sha256()
        for piece in dataset.train:
            digest.update(json.dumps(piece.to_dict()).encode("utf-8"))
        return digest.hexdigest()

    def attach(self, dataset: MusicSplits) -> None:
        train = trainable([self.encode(piece) for piece in training_pieces(self.data, dataset)])
        self.train_data = Batches(train, self.data.batch_size, self.data.seed, self.pad)
        self.valid = usable([self.encode(piece) for piece in dataset.valid])
        if not self.valid:
            raise RnnkitError(
                f"{self.data.source} leaves no validation piece of two or more steps; "
                "give more pieces (at least 3) or a finer --grid"
            )

    # ---- training and evaluation -----------------------------------------------------------

    def train_loss(self, batch: Padded, carry: Carry) -> tuple[Tensor, Carry]:
        """NLL per predicted step of the batch; no carry (every piece starts from a zero state)."""
        total, count = self.nll(batch)
        return total / count, None

    def batch_items(self, batch: Padded) -> int:
        """Predicted steps: the loss is a mean over them, so ranks are weighted by them."""
        return int(batch.lengths.sum()) - len(batch.lengths)

    def score_sequences(self, sequences: Sequence[np.ndarray]) -> tuple[float, int]:
        """NLL per predicted step over all `sequences` (sum over them / their steps), steps."""
        total, count = 0.0, 0
        self.model.eval()
        with torch.no_grad():
            for batch in fixed_batches(usable(sequences), self.data.batch_size, self.pad):
                batch_total, batch_count = self.nll(batch)
                total, count = total + batch_total.item(), count + batch_count
        if count == 0:
            raise RnnkitError("no piece has two or more steps, so there is nothing to score")
        return total / count, count

    def evaluate(self, final: bool = False) -> dict[str, float]:
        return {"loss": self.score_sequences(self.valid)[0]}

    def score(self, source: str | None) -> dict[str, float]:
        """The loss on a split of the run's own music (None: test), or on the music in the
        path `source` (a JSON: its test split), with that music's statistics beside the
        training data's."""
        if source is None or source in SPLITS:
            pieces = getattr(self.read(self.data), source or "test")
            loss, count = self.score_sequences([self.encode(piece) for piece in pieces])
            return {"loss": loss, "pieces": len(pieces), "steps": count}
        pieces = self.read_pieces(source)
        loss, count = self.score_sequences([self.encode(piece) for piece in pieces])
        return {"loss": loss, "pieces": len(pieces), "steps": count, **self.compare(pieces)}

    # ---- generating, and comparing what was generated ------------------------------------------

    @property
    def grid(self) -> str:
        return self.data.grid

    @abstractmethod
    def generate(self, steps: int, sampler: Sampler, prime: Piece | None = None) -> Piece:
        """`prime` continued by `steps` sampled grid steps, or a fresh piece of `steps` steps."""

    @abstractmethod
    def primer(self, pitches: Sequence[int]) -> Piece:
        """The opening that --primer-pitches (MIDI note numbers, checked) gives this model."""

    def reference(self) -> list[Piece]:
        """The music the model learned from, as generated music is compared with it."""
        return training_pieces(self.data, self.read(self.data))

    def read_pieces(self, path: str) -> list[Piece]:
        """Every piece of a folder or music file; for a JSB-style JSON, its test split."""
        from rnnkit.data.music import load_music

        splits = load_music(path, self.grid, valid_fraction=0.0, test_fraction=0.0, cache=False)
        return list(splits.test if path.lower().endswith(".json") else splits.train)

    def compare_generated(self, source: str) -> dict[str, float]:
        return self.compare(self.read_pieces(source))

    def compare(self, pieces: Sequence[Piece]) -> dict[str, float]:
        """Print the statistics of `pieces` beside those of the training data; return them."""
        from rnnkit.data.music import compare, format_comparison

        comparison = compare(pieces, self.reference())
        print(format_comparison(comparison))
        ours, theirs = comparison.generated, comparison.reference
        return {
            "pitch_class_distance": comparison.pitch_class_distance,
            "polyphony": ours.polyphony,
            "train_polyphony": theirs.polyphony,
            "note_density": ours.note_density,
            "train_note_density": theirs.note_density,
            "in_key": ours.in_key,
            "train_in_key": theirs.in_key,
            "triads": ours.triads,
            "train_triads": theirs.triads,
            "sevenths": ours.sevenths,
            "train_sevenths": theirs.sevenths,
        }


def training_pieces(data: MusicDataConfig, splits: MusicSplits) -> list[Piece]:
    """The pieces the model learns from: the training split, in all 12 keys with --transpose."""
    from rnnkit.data.music import transpositions

    return transpositions(splits.train) if data.transpose else list(splits.train)


FEW = 10  # training pieces under which a run says it will learn them by heart


def count_of_pieces(count: int, source: str) -> str:
    """'331 training pieces', '1 training piece (few: ...)': what a run trains on."""
    said = f"{count:,} training piece" + ("" if count == 1 else "s")
    if count < FEW:
        bundled = ", and music21's bundled nottingham has 2 tunes" if source == "nottingham" else ""
        said += f" (few: a model learns so few by heart{bundled}; give more music for a real run)"
    return said


def usable(sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The sequences of at least two steps: a piece predicts its steps 2..T."""
    return [sequence for sequence in sequences if len(sequence) >= 2]


def trainable(sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The training sequences of at least two steps; RnnkitError when there is none."""
    kept = usable(sequences)
    if not kept:
        raise RnnkitError(
            "no training piece is longer than one step, so there is nothing to predict; "
            "give longer pieces or a finer --grid"
        )
    return kept


def shifted(batch: Padded) -> tuple[Tensor, Tensor, Tensor]:
    """inputs: steps 1..T_b - 1, targets: steps 2..T_b, lengths: predicted steps (B,)."""
    return batch.values[:, :-1], batch.values[:, 1:], batch.lengths - 1
