"""The melody task: the top line of each piece as event tokens, modelled by the language model
of the text task (see tasks/pieces.py for the data).

    data      rnnkit.data.music.events: `<bos> bar on_60 hold on_64 rest ... <eos>`, one token per
              grid step and one per bar line, from a fixed vocabulary
    model     rnnkit.models.language: embedding -> recurrent layers -> softmax over the events
    loss      cross-entropy in nats per predicted event token
    generate  event tokens drawn by the one sampler (rnnkit.generate), never <pad>, <bos>, <eos>
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.batching import Padded
from rnnkit.errors import RnnkitError
from rnnkit.files import read_json, write_file
from rnnkit.models.language import LanguageModel, LanguageModelConfig
from rnnkit.models.memory import affordable
from rnnkit.tasks.music import RECIPE
from rnnkit.tasks.pieces import MusicDataConfig, PieceTask, count_of_pieces, shifted
from rnnkit.train.config import Recipe

if TYPE_CHECKING:
    from rnnkit.data.music import Piece
    from rnnkit.generate.sampler import Sampler

VOCAB = "vocab.json"  # the event vocabulary, fixed; kept so that a run says what it was
PAD = 0  # the id of <pad>


class MelodyTask(PieceTask):
    """A language model of melody events, and its data."""

    name = "melody"
    summary = "train a melody model (the top line as event tokens) on a corpus or your files"
    item_name = "events"
    ModelConfig = LanguageModelConfig
    pad = PAD

    @classmethod
    def recipe(cls, args: argparse.Namespace | None) -> Recipe:
        return RECIPE

    def encode(self, piece: Piece) -> np.ndarray:
        """(T,) event ids of the piece's top line."""
        from rnnkit.data.music import EventVocabulary, piece_to_events

        return np.array(EventVocabulary().encode(piece_to_events(piece)), dtype=np.int64)

    @classmethod
    def check(cls, data: MusicDataConfig, settings: LanguageModelConfig) -> None:
        if settings.word_features:
            raise RnnkitError(
                "--word-features splits the words of word-level text; melody "
                "events have no words: drop it"
            )

    @classmethod
    def create(cls, data: MusicDataConfig, settings: LanguageModelConfig, dataset):
        from rnnkit.data.music import TOKENS

        settings.vocab_size = len(TOKENS)
        return cls(data, affordable(lambda: LanguageModel(settings)))

    @classmethod
    def restore(cls, run: Path, data: MusicDataConfig, settings: LanguageModelConfig):
        from rnnkit.data.music import TOKENS

        saved = read_json(run / VOCAB, "melody event vocabulary").get("tokens")
        if saved != list(TOKENS) or settings.vocab_size != len(TOKENS):
            raise RnnkitError(f"{run / VOCAB} is not this rnnkit's event vocabulary; retrain")
        return cls(data, affordable(lambda: LanguageModel(settings), training=False))

    def save_artifacts(self, folder: Path) -> None:
        from rnnkit.data.music import EventVocabulary

        write_file(Path(folder) / VOCAB, EventVocabulary().to_json())

    def nll(self, batch: Padded) -> tuple[Tensor, int]:
        inputs, targets, lengths = shifted(batch)
        count = int(lengths.sum())
        mean, _ = self.model.nll(inputs.to(self.device), targets.to(self.device), ignore=PAD)
        return mean * count, count

    def describe(self) -> str:
        V = self.model.config.vocab_size
        sizes = ""
        if self.train_data is not None:
            pieces = self.train_data.sequences
            events = sum(len(p) - 1 for p in pieces)
            sizes = f"{count_of_pieces(len(pieces), self.data.source)}, {events:,} events; "
        return f"{sizes}a model that knows nothing has loss ln V = {math.log(V):.3f}"

    def reference(self) -> list[Piece]:
        """The melodies of the training pieces: what generated melodies are compared with."""
        from rnnkit.data.music import melody

        return [melody(piece) for piece in super().reference()]

    def primer(self, pitches: Sequence[int]) -> Piece:
        """The opening notes of the tune: the pitches one after another, a quarter note each (a
        melody sounds one note at a time, so a chord cannot start it)."""
        from rnnkit.data.music.primer import primer_line

        return primer_line(pitches, self.grid)

    def generate(self, steps: int, sampler: Sampler, prime: Piece | None = None) -> Piece:
        """`prime`'s melody continued by `steps` grid steps, or a fresh melody from <bos>."""
        from rnnkit.data.music import piece_to_events
        from rnnkit.generate.music import melody_piece

        events = piece_to_events(prime)[:-1] if prime is not None else ["<bos>"]  # no <eos>
        with torch.no_grad():
            return melody_piece(self.model, events, steps, sampler, self.grid)
