"""Melody event tokens: a melody as a sentence the language model can read and write.

The melody is the piece's top line (the highest note sounding at each grid step: the soprano of a
chorale, the tune of a folk song). Each grid step becomes exactly one token, and a bar token comes
before the first step of each bar:

    on_P    a note of MIDI pitch P starts at this step (P = 21..108, the piano's keys)
    hold    the note sounding at the previous step goes on
    rest    nothing sounds
    bar     a bar line (takes no time); only where the source knows its meter

A piece is wrapped as `<bos> ... <eos>`. Example, 4/4 on the quarter grid, C4 for a half note,
E4, a rest, then G4 for a whole note:

    <bos> bar on_60 hold on_64 rest bar on_67 hold hold hold <eos>

The vocabulary is fixed, so it is the same for every corpus and every run, in this order:

    0 <pad>   1 <bos>   2 <eos>   3 rest   4 hold   5 bar   6 on_21   7 on_22 ...   93 on_108

Decoding is forgiving, because a model may write anything: `hold` with no note sounding is a rest,
tokens after `<eos>` are ignored, `<bos>` and `<pad>` take no time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rnnkit.data.music.pianoroll import HIGHEST_PITCH, LOWEST_PITCH
from rnnkit.data.music.piece import Note, Piece
from rnnkit.errors import RnnkitError
from rnnkit.files import write_file

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
REST, HOLD, BAR = "rest", "hold", "bar"
NOTE_PREFIX = "on_"
NOTE_TOKENS = tuple(f"{NOTE_PREFIX}{pitch}" for pitch in range(LOWEST_PITCH, HIGHEST_PITCH + 1))
TOKENS: tuple[str, ...] = (PAD, BOS, EOS, REST, HOLD, BAR, *NOTE_TOKENS)
_TOKEN_SET = frozenset(TOKENS)
VOCABULARY_KIND = "rnnkit melody events"


def note_token(pitch: int) -> str:
    """The token that starts a note of MIDI `pitch`."""
    return f"{NOTE_PREFIX}{pitch}"


def melody(piece: Piece) -> Piece:
    """The top line of a piece: at each step the highest sounding piano-range note.

    Where the top line changes to another note, a new note starts there (the higher voice ending
    uncovers a lower note that is still held: it starts again in the melody).
    """
    top: list[Note | None] = [None] * piece.length
    for note in piece.notes:
        if not LOWEST_PITCH <= note.pitch <= HIGHEST_PITCH:
            continue
        for step in range(note.start, note.end):
            current = top[step]
            if current is None or note.pitch > current.pitch:
                top[step] = note
    notes: list[Note] = []
    for step, note in enumerate(top):
        if note is None:
            continue
        if step > 0 and top[step - 1] is note:
            notes[-1] = Note(notes[-1].start, note.pitch, notes[-1].duration + 1)
        else:
            notes.append(Note(step, note.pitch, 1))
    return Piece(piece.name, tuple(notes), piece.steps_per_quarter, piece.length, piece.bar_starts)


def piece_to_events(piece: Piece) -> list[str]:
    """The event tokens of a piece's melody, from `<bos>` to `<eos>`."""
    line = melody(piece)
    step_tokens = [REST] * line.length
    for note in line.notes:
        step_tokens[note.start] = note_token(note.pitch)
        step_tokens[note.start + 1 : note.end] = [HOLD] * (note.duration - 1)
    bars = set(line.bar_starts)
    tokens = [BOS]
    for step, token in enumerate(step_tokens):
        if step in bars:
            tokens.append(BAR)
        tokens.append(token)
    tokens.append(EOS)
    return tokens


def events_to_piece(tokens: Sequence[str], steps_per_quarter: int, name: str = "melody") -> Piece:
    """The melody that event tokens play (the inverse of `piece_to_events`)."""
    notes: list[Note] = []
    bar_starts: list[int] = []
    sounding = False  # whether notes[-1] still sounds at the current step
    step = 0
    for token in tokens:
        if token == EOS:
            break
        if token in (BOS, PAD):
            continue
        if token == BAR:
            bar_starts.append(step)
            continue
        if token == HOLD and sounding:
            notes[-1] = Note(notes[-1].start, notes[-1].pitch, notes[-1].duration + 1)
        elif token.startswith(NOTE_PREFIX) and token in _TOKEN_SET:
            notes.append(Note(step, int(token.removeprefix(NOTE_PREFIX)), 1))
        elif token not in (REST, HOLD):
            raise RnnkitError(
                f"unknown melody event token {token!r}; tokens are listed in docs/MUSIC.md"
            )
        sounding = token != REST and (token != HOLD or sounding)
        step += 1
    bars = tuple(sorted({bar for bar in bar_starts if bar < step}))  # a final bar line starts none
    return Piece(name, tuple(notes), steps_per_quarter, step, bars)


@dataclass(frozen=True)
class EventVocabulary:
    """Token <-> id, saved as JSON beside a model (vocab.json)."""

    tokens: tuple[str, ...] = TOKENS

    def __post_init__(self) -> None:
        unknown = [token for token in self.tokens if token not in _TOKEN_SET]
        if unknown or len(set(self.tokens)) != len(self.tokens):
            raise RnnkitError(
                f"not a melody event vocabulary (unknown or repeated tokens: {unknown[:3]}); "
                "rebuild it with EventVocabulary()"
            )

    def __len__(self) -> int:
        return len(self.tokens)

    @cached_property
    def ids(self) -> dict[str, int]:
        """Token -> id."""
        return {token: index for index, token in enumerate(self.tokens)}

    @property
    def pad_id(self) -> int:
        return self.ids[PAD]

    @property
    def bos_id(self) -> int:
        return self.ids[BOS]

    @property
    def eos_id(self) -> int:
        return self.ids[EOS]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token strings -> ids."""
        try:
            return [self.ids[token] for token in tokens]
        except KeyError as error:
            raise RnnkitError(f"unknown melody event token {error.args[0]!r}") from None

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Ids -> token strings."""
        if any(not 0 <= index < len(self.tokens) for index in ids):
            raise RnnkitError(f"a token id is outside 0..{len(self.tokens) - 1}")
        return [self.tokens[index] for index in ids]

    def to_json(self) -> str:
        """vocab.json's text (the same shape of method as the text Vocabulary's)."""
        return json.dumps({"kind": VOCABULARY_KIND, "tokens": list(self.tokens)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> EventVocabulary:
        """The inverse of `to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise RnnkitError(f"vocab.json is corrupt ({error}); retrain the model") from None
        if not isinstance(data, dict) or data.get("kind") != VOCABULARY_KIND:
            raise RnnkitError("vocab.json is not a melody event vocabulary; check the run folder")
        return cls(tuple(data.get("tokens", ())))

    def save(self, path: str | Path) -> None:
        """Write vocab.json (whole or not at all)."""
        write_file(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> EventVocabulary:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise RnnkitError(f"cannot read vocabulary {path}: {error}") from None
        return cls.from_json(text)
