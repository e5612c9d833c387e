"""The music task: a polyphonic piano-roll model or a melodic event-token model on real scores.

It plugs the pieces into the training loop's task contract (task.py):

    data      rnnkit.data.music     a corpus, folder, file or JSB JSON -> pieces on a grid ->
                                    piano-rolls (T, 88) or melody event ids (T,); optional
                                    transposition of the training pieces into all 12 keys
    batches   whole pieces, shuffled each epoch, zero-padded, with their lengths: each piece
              predicts its steps 2..T from the steps before (the state starts fresh per piece)
    model     pianoroll: rnnkit.models.pianoroll (88 sigmoid outputs)
              melody:    rnnkit.models.language   (softmax over the event vocabulary)
    loss      pianoroll: Bernoulli NLL in nats summed over the 88 keys, per predicted frame
              melody:    cross-entropy in nats per predicted event token
              both summed over a whole split and divided by its number of predicted steps
    generate  `generate()`: a primed or fresh piece, sampled step by step with the one sampler

and provides the registry hooks (registry.py) for `rnnkit train music` and `rnnkit evaluate`.
rnnkit.data.music loads music21 (slow), so it is imported inside the functions that need it:
`rnnkit --help` imports this module.

Shapes: B batch, T time, K = 88 keys, V event vocabulary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.generate.sampler import Sampler, stream
from rnnkit.models.language import LanguageModel, LanguageModelConfig
from rnnkit.models.pianoroll import KEYS, PianoRollModel, PianoRollModelConfig, frame_nll
from rnnkit.train.checkpoint import CONFIG, atomic_write, write_json
from rnnkit.train.config import (
    TrainConfig,
    add_config_arguments,
    config_from_args,
    config_from_json,
)
from rnnkit.train.task import Carry, Task

if TYPE_CHECKING:
    from rnnkit.data.music import MusicSplits, Piece

BUILTIN = "bach"  # the corpus `rnnkit train music` learns from unless --corpus says otherwise
KINDS = ("pianoroll", "melody")
# rnnkit.data.music.piece.GRIDS, spelled here so the flags need not load music21.
GRID_NAMES = ("quarter", "8th", "16th")
SPLITS = ("train", "valid", "test")  # what `rnnkit evaluate RUN SPLIT` may name
VOCAB = "vocab.json"  # melody: the event vocabulary
OPENINGS = "openings.json"  # pianoroll: the first frames of the training pieces
# A melody model never writes these: <pad> and <bos> are not music, and a piece of the asked
# length is wanted, so <eos> is not sampled either.
NEVER_SAMPLED = ("<pad>", "<bos>", "<eos>")
PAD = 0  # padding: silence in a piano-roll, the id of <pad> in the event vocabulary

# The training settings `rnnkit train music` uses unless told otherwise (chosen on JSB Chorales'
# valid split: docs/MUSIC.md).
RECIPE_TRAIN = {"lr": 2e-3, "weight_decay": 0.1, "eval_every": 50, "warmup": 20}


@dataclass
class MusicDataConfig:
    """Which music, how it becomes sequences, and how they are batched."""

    source: str = field(
        default=BUILTIN,
        metadata={
            "help": "bach, nottingham (music21's corpora), a folder or file of MIDI / MusicXML / "
            "ABC / Humdrum, or a JSB-style .json with its own train/valid/test"
        },
    )
    kind: str = field(
        default="pianoroll",
        metadata={
            "help": "pianoroll: all voices, 88 keys per step; melody: the top line as event tokens",
            "choices": KINDS,
        },
    )
    grid: str = field(
        default="quarter",
        metadata={"help": "time step: a quarter, 8th or 16th note", "choices": GRID_NAMES},
    )
    transpose: bool = field(
        default=False, metadata={"help": "train on the training pieces in all 12 keys"}
    )
    limit: int | None = field(
        default=None,
        metadata={"help": "read only the first N files (JSON: N pieces per split), for quick runs"},
    )
    batch_size: int = field(default=16, metadata={"help": "B, pieces per batch"})
    seed: int = 1  # the order of pieces in each epoch (set from --seed)
    fingerprint: str = ""  # SHA-256 of the training pieces: a resumed run checks it is unchanged

    @property
    def melody(self) -> bool:
        return self.kind == "melody"


# ---------------------------------------------------------------------------------------------
# Batches of whole pieces


@dataclass
class PieceBatch:
    """Pieces zero-padded (melody: padded with <pad>) to the longest one of the batch."""

    inputs: Tensor  # (B, T) ids or (B, T, K) frames: steps 1..T_b - 1 of each piece
    targets: Tensor  # the same shape: steps 2..T_b, the ones predicted
    lengths: Tensor  # (B,) predicted steps of each piece, T_b - 1


def make_batch(sequences: Sequence[np.ndarray], pad: int) -> PieceBatch:
    """One batch from pieces (T_b,) or (T_b, K) of at least 2 steps each."""
    lengths = [len(sequence) - 1 for sequence in sequences]
    first = sequences[0]
    full = np.full((len(sequences), max(lengths) + 1, *first.shape[1:]), pad, dtype=first.dtype)
    for row, sequence in enumerate(sequences):
        full[row, : len(sequence)] = sequence
    steps = torch.from_numpy(full)  # (B, T + 1) or (B, T + 1, K)
    return PieceBatch(steps[:, :-1], steps[:, 1:], torch.tensor(lengths))


class PieceBatches:
    """The training pieces, `batch_size` at a time, in a new random order each epoch.

    Pieces of similar length go together (sorted by length within random windows of
    BUCKET_BATCHES batches), which halves the padding of JSB Chorales' batches; the batches are
    then shuffled. The order depends on the seed and the epoch only, so the position
    (epoch, batch) is all a resumed run needs.
    """

    BUCKET_BATCHES = 8

    def __init__(
        self, sequences: Sequence[np.ndarray], batch_size: int, pad: int, seed: int
    ) -> None:
        self.sequences = [sequence for sequence in sequences if len(sequence) >= 2]
        if not self.sequences:
            raise RnnkitError(
                "no training piece is longer than one step, so there is nothing to predict; "
                "give longer pieces or a finer --grid"
            )
        self.batch_size = min(batch_size, len(self.sequences))
        self.pad, self.seed = pad, seed
        self.epoch, self.index, self.items = 0, 0, 0
        self.batches = self._batches()

    def _batches(self) -> list[list[int]]:
        """This epoch's batches, as lists of piece indices."""
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.sequences)).tolist()
        window, size = self.BUCKET_BATCHES * self.batch_size, self.batch_size
        batches = []
        for start in range(0, len(order), window):
            bucket = sorted(order[start : start + window], key=lambda i: len(self.sequences[i]))
            batches += [bucket[i : i + size] for i in range(0, len(bucket), size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def next_batch(self) -> PieceBatch:
        chosen = self.batches[self.index]
        self.index += 1
        if self.index == len(self.batches):
            self.epoch, self.index = self.epoch + 1, 0
            self.batches = self._batches()
        batch = make_batch([self.sequences[i] for i in chosen], self.pad)
        self.items = int(batch.lengths.sum())
        return batch

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.index / len(self.batches)

    @property
    def items_per_batch(self) -> int:
        """Predicted steps in the batch last returned."""
        return self.items

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index = state["epoch"], state["index"]
        self.batches = self._batches()


def evaluation_batches(
    sequences: Sequence[np.ndarray], batch_size: int, pad: int
) -> list[PieceBatch]:
    """Every piece of at least 2 steps once, similar lengths together (less padding)."""
    usable = sorted((s for s in sequences if len(s) >= 2), key=len)
    return [make_batch(usable[i : i + batch_size], pad) for i in range(0, len(usable), batch_size)]


# ---------------------------------------------------------------------------------------------
# The task


class MusicTask(Task):
    """A piano-roll or melody model and (when training) its train and valid pieces."""

    name = "music"

    def __init__(
        self,
        data: MusicDataConfig,
        model: PianoRollModel | LanguageModel,
        openings: list[list[int]],
        splits: MusicSplits | None = None,
    ) -> None:
        self.data = data
        self.model = model
        self.openings = openings  # pianoroll: MIDI pitches of each training piece's first frame
        self.train_data = None
        self.valid: list[np.ndarray] = []
        if splits is not None:
            train = training_pieces(data, splits)
            self.train_data = PieceBatches(
                [self.encode(piece) for piece in train], data.batch_size, PAD, data.seed
            )
            self.valid = [self.encode(piece) for piece in splits.valid]
            if not evaluation_batches(self.valid, 1, PAD):
                raise RnnkitError(
                    f"{data.source} leaves no validation piece of two or more steps; "
                    "give more pieces (at least 3) or a finer --grid"
                )

    def encode(self, piece: Piece) -> np.ndarray:
        """A piece as the model reads it: (T, 88) 0/1 frames, or (T,) melody event ids."""
        from rnnkit.data.music import EventVocabulary, piece_to_events, piece_to_roll

        if self.data.melody:
            return np.array(EventVocabulary().encode(piece_to_events(piece)), dtype=np.int64)
        return piece_to_roll(piece).astype(np.uint8)  # a quarter of float32's memory

    # ---- the loop's contract ----------------------------------------------------------------

    def nll(self, batch: PieceBatch) -> tuple[Tensor, int]:
        """The summed NLL (nats) of the batch's predicted steps, and how many there are."""
        lengths = batch.lengths.to(self.device)
        targets = batch.targets.to(self.device)
        if self.data.melody:
            logits, _ = self.model(batch.inputs.to(self.device))  # (B, T, V)
            total = F.cross_entropy(
                logits.flatten(0, 1), targets.flatten(), ignore_index=PAD, reduction="sum"
            )
            return total, int(lengths.sum())
        logits, _ = self.model(batch.inputs.to(self.device, torch.float32))  # (B, T, K)
        return frame_nll(logits, targets.float(), lengths)

    def batch_items(self, batch: PieceBatch) -> int:
        """Predicted steps: the loss is a mean over them, so ranks are weighted by them."""
        return int(batch.lengths.sum())

    def train_loss(self, batch: PieceBatch, carry: Carry) -> tuple[Tensor, Carry]:
        """NLL per predicted step of the batch; no carry (every piece starts from a zero state)."""
        total, count = self.nll(batch)
        return total / count, None

    def score(self, sequences: Sequence[np.ndarray]) -> tuple[float, int]:
        """NLL per predicted step over all `sequences` (sum over the split / its steps), steps."""
        total, count = 0.0, 0
        self.model.eval()
        with torch.no_grad():
            for batch in evaluation_batches(sequences, self.data.batch_size, PAD):
                batch_total, batch_count = self.nll(batch)
                total, count = total + batch_total.item(), count + batch_count
        if count == 0:
            raise RnnkitError("no piece has two or more steps, so there is nothing to score")
        return total / count, count

    def evaluate(self) -> dict[str, float]:
        return {"loss": self.score(self.valid)[0]}

    def describe(self) -> str:
        sizes = ""
        if self.train_data is not None:
            steps = sum(len(s) - 1 for s in self.train_data.sequences)
            sizes = f"{len(self.train_data.sequences):,} training pieces, {steps:,} steps; "
        if self.data.melody:
            V = self.model.config.vocab_size
            return f"{sizes}a model that knows nothing has loss ln V = {math.log(V):.3f}"
        text = (
            f"{sizes}a model that knows nothing (p = 1/2 per key) has loss "
            f"88 ln 2 = {KEYS * math.log(2):.2f} nats per frame"
        )
        if self.train_data is None:
            return text
        # The training loss of predicting each key at its base rate f: the entropy of the keys.
        f = key_frequencies(self.train_data).clip(1e-4, 1 - 1e-4)
        entropy = -(f * np.log(f) + (1 - f) * np.log(1 - f)).sum()
        return f"{text}; one that knows each key's base rate (where it starts) {entropy:.2f}"

    def config(self) -> dict[str, Any]:
        return {"data": asdict(self.data), "model": asdict(self.model.config)}

    def save_artifacts(self, folder: Path) -> None:
        from rnnkit.data.music import EventVocabulary

        if self.data.melody:
            atomic_write(Path(folder) / VOCAB, EventVocabulary().to_json())
        else:
            write_json(Path(folder) / OPENINGS, self.openings)


# ---------------------------------------------------------------------------------------------
# Building a task: from settings (a new run) or from a run folder


def read_splits(data: MusicDataConfig) -> MusicSplits:
    """The pieces of the run's source on its grid, split (a JSON file keeps its own split).

    A path is made absolute first, so that the run folder works from any directory.
    """
    from rnnkit.data.music import CORPORA, load_music

    if data.source not in CORPORA:
        data.source = str(Path(data.source).resolve())
    splits = load_music(data.source, data.grid, limit=data.limit)
    if not splits.train:
        raise RnnkitError(f"{data.source} has no training pieces; give more music")
    return splits


def training_pieces(data: MusicDataConfig, splits: MusicSplits) -> list[Piece]:
    """The pieces the model learns from: the training split, in all 12 keys with --transpose."""
    from rnnkit.data.music import transpositions

    return transpositions(splits.train) if data.transpose else list(splits.train)


def fingerprint(pieces: Sequence[Piece]) -> str:
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(json.dumps(piece.to_dict()).encode("utf-8"))
    return digest.hexdigest()


def build_model(data: MusicDataConfig, settings: dict[str, Any]) -> PianoRollModel | LanguageModel:
    """The model of a run: `settings` are PianoRollModelConfig's fields, or (melody) those of
    LanguageModelConfig, whose vocabulary is the fixed event vocabulary."""
    if data.melody:
        from rnnkit.data.music import TOKENS

        return LanguageModel(LanguageModelConfig(**{**settings, "vocab_size": len(TOKENS)}))
    return PianoRollModel(PianoRollModelConfig(**settings))


def build_task(data: MusicDataConfig, model_config: PianoRollModelConfig) -> MusicTask:
    """A new task: read and split the music, build the model."""
    splits = read_splits(data)
    data.fingerprint = fingerprint(splits.train)
    openings = [[note.pitch for note in piece.notes if note.start == 0] for piece in splits.train]
    task = MusicTask(data, build_model(data, asdict(model_config)), openings, splits)
    if not data.melody:
        task.model.start_at_frequencies(torch.from_numpy(key_frequencies(task.train_data)))
    return task


def key_frequencies(batches: PieceBatches) -> np.ndarray:
    """(K,) how often each key sounds in the predicted frames (2..T) of the training pieces."""
    return np.concatenate([roll[1:] for roll in batches.sequences]).mean(axis=0)


def from_run(run: Path, config: dict[str, Any], with_data: bool = False) -> MusicTask:
    """The task saved in `run` (untrained weights); with_data also re-reads the music, to resume."""
    run = Path(run)
    where = run / CONFIG
    data = config_from_json(MusicDataConfig, config["task_config"].get("data"), f"{where} data")
    model_class = LanguageModelConfig if data.melody else PianoRollModelConfig
    settings = config["task_config"].get("model")
    settings = asdict(config_from_json(model_class, settings, f"{where} model"))
    try:
        model = build_model(data, settings)
    except (ValueError, TypeError, RuntimeError, MemoryError) as error:
        raise RnnkitError(f"{where} has settings rnnkit cannot build ({error}); retrain") from None
    openings = [] if data.melody else _read_openings(run)
    if not with_data:
        return MusicTask(data, model, openings)
    splits = read_splits(data)
    if fingerprint(splits.train) != data.fingerprint:
        raise RnnkitError(
            f"{data.source} changed since this run started; restore it or start a new run"
        )
    return MusicTask(data, model, openings, splits)


def _read_openings(run: Path) -> list[list[int]]:
    try:
        openings = json.loads((run / OPENINGS).read_text(encoding="utf-8"))
        if not all(isinstance(p, int) for frame in openings for p in frame):
            raise ValueError
    except (OSError, ValueError, TypeError):
        raise RnnkitError(
            f"{run} has a missing or corrupt {OPENINGS}; the run folder is incomplete, retrain"
        ) from None
    return openings


# ---------------------------------------------------------------------------------------------
# Generating


def generate(task: MusicTask, steps: int, sampler: Sampler, prime: Piece | None = None) -> Piece:
    """`prime` continued by `steps` sampled grid steps, or a fresh piece of `steps` steps.

    Piano-roll: a fresh piece starts with the first chord of a training piece drawn by the
    sampler; each next frame is one Bernoulli draw per key (`Sampler.bernoulli`). Melody: a fresh
    piece starts from <bos>; tokens are drawn until `steps` grid steps are written (bar lines
    take no time).
    """
    if steps < 1:
        raise RnnkitError(f"--steps must be at least 1, got {steps}")
    task.model.eval()
    with torch.no_grad():
        if task.data.melody:
            return _generate_melody(task, steps, sampler, prime)
        return _generate_roll(task, steps, sampler, prime)


def _generate_roll(task: MusicTask, steps: int, sampler: Sampler, prime: Piece | None) -> Piece:
    from rnnkit.data.music import frames_to_roll, piece_to_roll, roll_to_piece

    if prime is not None:
        start = piece_to_roll(prime)
    else:
        if not task.openings:
            raise RnnkitError("this run saved no opening chords; give --prime PIECE")
        chosen = int(torch.randint(len(task.openings), (1,), generator=sampler.generator))
        start = frames_to_roll([task.openings[chosen]])
    frames = [torch.from_numpy(start)]  # (T, K) each
    model: PianoRollModel = task.model
    logits, state = model(frames[0][None].to(task.device), None)  # (1, T, K)
    last = logits[:, -1]  # (1, K): the next frame's logits
    for _ in range(steps if prime is not None else steps - 1):  # a fresh piece: `steps` in all
        frame = sampler.bernoulli(last)  # (1, K) of 0/1
        frames.append(frame)
        last, state = model.step(frame.to(task.device), state)
    roll = torch.cat(frames).numpy()  # (T + steps, K)
    spq = _steps_per_quarter(task)
    return roll_to_piece(roll, spq, "generated", range(0, len(roll), 4 * spq))


def _generate_melody(task: MusicTask, steps: int, sampler: Sampler, prime: Piece | None) -> Piece:
    from rnnkit.data.music import EventVocabulary, events_to_piece, piece_to_events

    vocab = EventVocabulary()
    tokens = piece_to_events(prime)[:-1] if prime is not None else ["<bos>"]  # without <eos>
    never = torch.tensor(vocab.encode(NEVER_SAMPLED), device=task.device)

    def step(ids: Tensor, state: Any) -> tuple[Tensor, Any]:
        logits, state = task.model(ids, state)
        return logits.index_fill(-1, never, -math.inf), state

    written = 0
    # A bar line takes no time: allow one per step, so that a model writing only bar lines stops.
    for token_id in stream(step, vocab.encode(tokens), 2 * steps, sampler, task.device):
        token = vocab.tokens[token_id]
        tokens.append(token)
        written += token != "bar"
        if written == steps:
            break
    return events_to_piece(tokens, _steps_per_quarter(task), "generated")


def _steps_per_quarter(task: MusicTask) -> int:
    from rnnkit.data.music import steps_per_quarter

    return steps_per_quarter(task.data.grid)


# ---------------------------------------------------------------------------------------------
# Evaluating: the loss on music, and statistics of generated music


def reference_pieces(task: MusicTask) -> list[Piece]:
    """The music the model learned from (melodies only, for a melody model): what generated
    music is compared with."""
    from rnnkit.data.music import melody

    pieces = training_pieces(task.data, read_splits(task.data))
    return [melody(piece) for piece in pieces] if task.data.melody else pieces


def read_pieces(path: str, grid: str) -> list[Piece]:
    """Every piece of a folder or music file; for a JSB-style JSON, its test split."""
    from rnnkit.data.music import load_music

    splits = load_music(path, grid, valid_fraction=0.0, test_fraction=0.0, cache=False)
    return list(splits.test if path.lower().endswith(".json") else splits.train)


def compare_generated(task: MusicTask, pieces: Sequence[Piece]) -> dict[str, float]:
    """Print the statistics of `pieces` beside those of the training data; return them."""
    from rnnkit.data.music import compare, format_comparison

    comparison = compare(pieces, reference_pieces(task))
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
    }


def evaluate_file(
    task: MusicTask, path: str | None, args: argparse.Namespace | None = None
) -> dict[str, float]:
    """What `rnnkit evaluate` prints for a music run:

    RUN [test | valid | train]   the loss on that split of the run's own data (default: test)
    RUN PATH                     the loss on the music in PATH (a JSON: its test split), and the
                                 statistics of that music beside the training data's
    RUN --generated DIR          only the statistics of the music in DIR
    """
    generated = getattr(args, "generated", None)
    if generated is not None:
        return compare_generated(task, read_pieces(generated, task.data.grid))
    if path is None or path in SPLITS:
        pieces = getattr(read_splits(task.data), path or "test")
        loss, count = task.score([task.encode(piece) for piece in pieces])
        return {"loss": loss, "pieces": len(pieces), "steps": count}
    pieces = read_pieces(path, task.data.grid)
    loss, count = task.score([task.encode(piece) for piece in pieces])
    metrics = compare_generated(task, pieces)
    return {"loss": loss, "pieces": len(pieces), "steps": count, **metrics}


# ---------------------------------------------------------------------------------------------
# Command-line hooks (registry.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, MusicDataConfig, source="--corpus", kind="--model")
    add_config_arguments(
        parser, PianoRollModelConfig, hidden_size="--hidden", num_layers="--layers"
    )


def from_args(args: argparse.Namespace) -> tuple[MusicTask, TrainConfig]:
    train_config = config_from_args(TrainConfig, args, **RECIPE_TRAIN).check()
    data = config_from_args(MusicDataConfig, args, seed=train_config.seed)
    if data.limit is not None and data.limit < 1:
        raise RnnkitError(f"--limit must be at least 1, got {data.limit}")
    if data.batch_size < 1:
        raise RnnkitError(f"--batch-size must be at least 1, got {data.batch_size}")
    return build_task(data, config_from_args(PianoRollModelConfig, args)), train_config


def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    """A music run adds no flags to `rnnkit sample`: it generates with `rnnkit generate`."""


def sample(task: MusicTask, args: argparse.Namespace) -> None:
    raise RnnkitError(
        "a music run writes MIDI files: use `rnnkit generate RUN --out song.mid` "
        "(see `rnnkit generate --help`)"
    )
