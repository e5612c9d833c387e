"""The music task: a polyphonic piano-roll model of all voices (see tasks/pieces.py for the data).

    model     rnnkit.models.pianoroll: the recurrent layers read frames of 88 keys and predict
              each key of the next frame (--output sigmoid: independent Bernoulli outputs;
              nade: each key given the keys below it, rnnkit.models.nade)
    loss      the Bernoulli NLL in nats summed over the 88 keys, per predicted frame
    generate  a fresh piece starts with the first chord of a training piece (openings.json),
              drawn by the sampler; then one frame at a time

Shapes: T time, K = 88 keys.
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
from rnnkit.files import read_json, write_json
from rnnkit.models.memory import affordable
from rnnkit.models.pianoroll import KEYS, PianoRollModel, PianoRollModelConfig
from rnnkit.tasks.pieces import (
    MusicDataConfig,
    PieceTask,
    count_of_pieces,
    shifted,
    trainable,
    training_pieces,
)
from rnnkit.train.config import Recipe

if TYPE_CHECKING:
    from rnnkit.data.music import MusicSplits, Piece
    from rnnkit.generate.sampler import Sampler

OPENINGS = "openings.json"  # the first chord of each training piece, where fresh pieces start

# Chosen on JSB Chorales' valid split (docs/MUSIC.md): the chorale sets are small (229 training
# pieces) and overfit within minutes, hence the dropout and weight decay.
RECIPE = Recipe(
    "music",
    model={"cell": "gru", "hidden_size": 200, "num_layers": 2, "dropout": 0.5},
    train={"lr": 2e-3, "weight_decay": 0.1, "eval_every": 50, "warmup": 20},
)


class MusicTask(PieceTask):
    """A piano-roll model, the opening chords of its training pieces, and its data."""

    name = "music"
    summary = "train a polyphonic piano-roll model on a corpus or your MIDI / MusicXML / ABC"
    item_name = "frames"
    ModelConfig = PianoRollModelConfig

    def __init__(
        self, data: MusicDataConfig, model: PianoRollModel, openings: list[list[int]]
    ) -> None:
        super().__init__(data, model)
        self.openings = openings  # MIDI pitches of each training piece's first frame

    @classmethod
    def recipe(cls, args: argparse.Namespace | None) -> Recipe:
        return RECIPE

    def encode(self, piece: Piece) -> np.ndarray:
        """(T, 88) 0/1 frames (uint8: a quarter of float32's memory)."""
        from rnnkit.data.music import piece_to_roll

        return piece_to_roll(piece).astype(np.uint8)

    @classmethod
    def create(cls, data: MusicDataConfig, settings: PianoRollModelConfig, dataset: MusicSplits):
        """The model, its output bias at each key's base rate in the training frames."""
        from rnnkit.data.music import piece_to_roll

        rolls = trainable([piece_to_roll(piece) for piece in training_pieces(data, dataset)])
        openings = [[n.pitch for n in piece.notes if n.start == 0] for piece in dataset.train]
        task = cls(data, affordable(lambda: PianoRollModel(settings)), openings)
        task.model.start_at_frequencies(torch.from_numpy(key_frequencies(rolls)))
        return task

    @classmethod
    def restore(cls, run: Path, data: MusicDataConfig, settings: PianoRollModelConfig):
        openings = read_json(run / OPENINGS, "list of opening chords").get("openings")
        if not isinstance(openings, list) or not all(
            isinstance(chord, list) and all(type(p) is int for p in chord) for chord in openings
        ):
            raise RnnkitError(f"{run / OPENINGS} is not a list of chords of MIDI pitches; retrain")
        return cls(data, affordable(lambda: PianoRollModel(settings), training=False), openings)

    def save_artifacts(self, folder: Path) -> None:
        write_json(Path(folder) / OPENINGS, {"openings": self.openings})

    def nll(self, batch: Padded) -> tuple[Tensor, int]:
        inputs, targets, lengths = shifted(batch)
        inputs, targets = (x.to(self.device, torch.float32) for x in (inputs, targets))
        return self.model.nll(inputs, targets, lengths.to(self.device))

    def describe(self) -> str:
        text = (
            f"a model that knows nothing (p = 1/2 per key) has loss 88 ln 2 = "
            f"{KEYS * math.log(2):.2f} nats per frame"
        )
        if self.train_data is None:
            return text
        rolls = self.train_data.sequences
        steps = sum(len(roll) - 1 for roll in rolls)
        # The training loss of predicting each key at its base rate f: the entropy of the keys.
        f = key_frequencies(rolls).clip(1e-4, 1 - 1e-4)
        entropy = -(f * np.log(f) + (1 - f) * np.log(1 - f)).sum()
        pieces = count_of_pieces(len(rolls), self.data.source)
        return (
            f"{pieces}, {steps:,} steps; {text}; one that knows each key's base rate (where it "
            f"starts) {entropy:.2f}"
        )

    def primer(self, pitches: Sequence[int]) -> Piece:
        """A starting chord: the pitches sounding together for one quarter note."""
        from rnnkit.data.music.primer import primer_chord

        return primer_chord(pitches, self.grid)

    def generate(self, steps: int, sampler: Sampler, prime: Piece | None = None) -> Piece:
        """`prime` continued by `steps` frames; or a fresh piece of `steps` frames, whose first
        is the opening chord of a training piece drawn by the sampler."""
        from rnnkit.data.music import frames_to_roll, piece_to_roll
        from rnnkit.generate.music import roll_piece

        if prime is not None:
            return roll_piece(self.model, piece_to_roll(prime), steps, sampler, self.grid)
        if not self.openings:
            raise RnnkitError("this run saved no opening chords; give --prime PIECE")
        chosen = int(torch.randint(len(self.openings), (1,), generator=sampler.generator))
        start = frames_to_roll([self.openings[chosen]])
        return roll_piece(self.model, start, steps - 1, sampler, self.grid)


def key_frequencies(rolls: list[np.ndarray]) -> np.ndarray:
    """(K,) how often each key sounds in the predicted frames (2..T) of the pieces."""
    return np.concatenate([roll[1:] for roll in rolls]).mean(axis=0)
