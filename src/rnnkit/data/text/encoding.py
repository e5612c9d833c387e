"""Text of any size -> token ids in a NumPy array, in one streaming pass.

    encode(pieces, level, lowercase, tokenizer) -> Encoded    the ids, in first-seen order, and
                                                             the count of every token
    encoded.ids_for(vocab)                                   the ids of a vocabulary (built from
                                                             the counts, or a run's own)

The text comes in pieces (rnnkit.data.text.text_pieces, a few MiB each), so memory holds one
piece and the ids, never the text: ids take the smallest unsigned type that fits (1 byte a
character for most texts, where a Python list of ints takes 8 plus the int). Each new token gets
the next id when first seen, and every token is counted in the same pass; the vocabulary is then
built from the counts, and `ids_for` maps first-seen ids to the vocabulary's in one vectorised
pass (pruned tokens to <unk>).

Characters are mapped through a table indexed by Unicode code point (0x110000 entries, built as
pieces arrive), NumPy vectorised; words through a dict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rnnkit.data.text.tokens import NEWLINE, WORD_PATTERN
from rnnkit.data.text.vocabulary import UNK, Vocabulary
from rnnkit.errors import RnnkitError

CODE_POINTS = 0x110000
MAP_PIECE = 16 * 2**20  # ids remapped this many at a time (a bounded temporary)


def smallest_dtype(count: int) -> np.dtype:
    """The smallest unsigned integer type that holds ids 0..count - 1."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if count <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


@dataclass
class Encoded:
    """A text's tokens as ids in first-seen order, with every token's count."""

    ids: np.ndarray  # (N,) first-seen ids, smallest unsigned type
    tokens: list[str]  # first-seen id -> token
    counts: np.ndarray  # (len(tokens),) how often each token occurs
    fingerprint: str  # SHA-256 of the text (as UTF-8)

    def count_of(self) -> dict[str, int]:
        return dict(zip(self.tokens, self.counts.tolist(), strict=True))

    def ids_for(self, vocab: Vocabulary, what: str = "the text") -> np.ndarray:
        """The ids of `vocab` for the same tokens; a token it lacks is <unk>, or an error when
        it has no <unk> (a character vocabulary that was not pruned)."""
        index = {token: i for i, token in enumerate(vocab.tokens)}
        unk = index.get(UNK)
        missing = [t for t in self.tokens if t not in index]
        if missing and unk is None:
            shown = ", ".join(repr(t) for t in missing[:10])
            raise RnnkitError(
                f"{what} has characters the model never saw ({shown}); remove them or train on "
                "text that contains them"
            )
        remap = np.array([index.get(t, unk) for t in self.tokens] or [0])
        remap = remap.astype(smallest_dtype(len(vocab)))
        out = np.empty(len(self.ids), dtype=remap.dtype)
        for start in range(0, len(self.ids), MAP_PIECE):
            part = slice(start, start + MAP_PIECE)
            out[part] = remap[self.ids[part]]
        return out


def encode(pieces: Iterable[str], level: str, lowercase: bool, tokenizer: str) -> Encoded:
    """Every token of the text in `pieces`, in one pass (see the module docstring)."""
    encoder = _Characters() if level == "char" else _Words(tokenizer)
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece.encode("utf-8"))
        encoder.add(piece.lower() if lowercase else piece)
    return encoder.finish(digest.hexdigest())


class _Characters:
    """Characters through a code-point table; ids grow from uint8 as new characters come."""

    def __init__(self) -> None:
        self.table = np.full(CODE_POINTS, -1, dtype=np.int64)  # code point -> first-seen id
        self.found: list[int] = []  # first-seen id -> code point
        self.parts: list[np.ndarray] = []
        self.counts = np.zeros(0, dtype=np.int64)

    def add(self, piece: str) -> None:
        points = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
        ids = self.table[points]
        if (ids < 0).any():
            new = np.unique(points[ids < 0])
            self.table[new] = np.arange(len(self.found), len(self.found) + len(new))
            self.found += new.tolist()
            ids = self.table[points]
        self.parts.append(ids.astype(smallest_dtype(len(self.found))))
        self.counts = np.bincount(ids, minlength=len(self.found)) + np.pad(
            self.counts, (0, len(self.found) - len(self.counts))
        )

    def finish(self, fingerprint: str) -> Encoded:
        dtype = smallest_dtype(len(self.found))
        ids = _concatenate(self.parts, dtype)
        return Encoded(ids, [chr(c) for c in self.found], self.counts, fingerprint)


class _Words:
    """Words (or whitespace-separated tokens with a line-end token) through a dict."""

    def __init__(self, tokenizer: str) -> None:
        self.tokenizer = tokenizer
        self.index: dict[str, int] = {}
        self.parts: list[np.ndarray] = []

    def add(self, piece: str) -> None:
        if self.tokenizer == "words":
            tokens = WORD_PATTERN.findall(piece)
        else:
            tokens = [t for line in piece.splitlines() for t in [*line.split(), NEWLINE]]
        index = self.index
        ids = [index.setdefault(token, len(index)) for token in tokens]
        self.parts.append(np.array(ids, dtype=np.uint32))

    def finish(self, fingerprint: str) -> Encoded:
        ids = _concatenate(self.parts, smallest_dtype(len(self.index)))
        counts = np.bincount(ids, minlength=len(self.index))
        return Encoded(ids, list(self.index), counts, fingerprint)


def _concatenate(parts: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """The parts as one array of `dtype`, freeing each part as it is copied."""
    out = np.empty(sum(len(p) for p in parts), dtype=dtype)
    at = 0
    while parts:
        part = parts.pop(0)
        out[at : at + len(part)] = part
        at += len(part)
    return out
