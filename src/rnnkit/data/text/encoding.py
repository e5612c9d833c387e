"""Text of any size -> token ids in a NumPy array on disk, in one streaming pass.

    encode(pieces, level, lowercase, tokenizer) -> Encoded    every token's first-seen id (on
                                                             disk) and count
    encoded.ids_for(vocab)                                   the ids of a vocabulary (built from
                                                             the counts, or a run's own), as a
                                                             memory-mapped .npy file

The text comes in pieces (rnnkit.data.text.text_pieces, a few MiB each), and memory holds one
piece at a time, never the text nor its ids: each new token gets the next id when first seen, every
token is counted in the same pass, and each piece's first-seen ids are written to a scratch file in
the smallest unsigned type that fits at that point. The vocabulary is then built from the counts,
and `ids_for` reads the scratch file back piece by piece, maps first-seen ids to the vocabulary's
(pruned tokens to <unk>) and writes them to a .npy file, which training maps from disk. Holding
the ids in memory instead took 6.4 GiB for 1 GB of Python source (2 bytes an id, twice, and the
allocator keeps what the pieces freed).

The scratch files live in a temporary folder (TMPDIR chooses where), removed with the Encoded.
Characters are mapped through a table indexed by Unicode code point (0x110000 entries, built as
pieces arrive), NumPy vectorised; words through a dict.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.text.tokens import NEWLINE, WORD_PATTERN
from rnnkit.data.text.vocabulary import UNK, Vocabulary
from rnnkit.errors import RnnkitError

CODE_POINTS = 0x110000


def smallest_dtype(count: int) -> np.dtype:
    """The smallest unsigned integer type that holds ids 0..count - 1."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if count <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


class _Scratch:
    """First-seen ids, piece by piece, in a file of a temporary folder; and every id's count."""

    def __init__(self) -> None:
        with self.writing():
            self.folder = tempfile.TemporaryDirectory(
                prefix="rnnkit-ids-", ignore_cleanup_errors=True
            )
            self.path = Path(self.folder.name) / "first-seen.bin"
            self.file = open(self.path, "wb")  # noqa: SIM115 (closed by finish)
        self.pieces: list[tuple[np.dtype, int]] = []  # the type and length of each piece written
        self.counts = np.zeros(0, dtype=np.int64)

    def keep(self, ids: np.ndarray, known: int) -> None:
        """Write one piece's ids (each below `known`, the tokens seen so far) and count them."""
        ids = ids.astype(smallest_dtype(known), copy=False)
        ids.tofile(self.file)
        self.pieces.append((ids.dtype, len(ids)))
        self.counts = np.bincount(ids, minlength=known) + np.pad(
            self.counts, (0, known - len(self.counts))
        )

    def finish(self, tokens: list[str], fingerprint: str) -> Encoded:
        self.file.close()
        return Encoded(tokens, self.counts, fingerprint, self)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A full disk or an unwritable temporary folder: one line saying where and what to do."""
        try:
            yield
        except OSError as error:
            raise RnnkitError(
                f"cannot write the text's token ids to {tempfile.gettempdir()} "
                f"({error.strerror or error}); free some space there or set TMPDIR to a folder "
                "with room (encoding needs 2 to 8 bytes a token there)"
            ) from None

    def read(self) -> Iterator[np.ndarray]:
        """The pieces' ids again, one piece at a time."""
        with open(self.path, "rb") as file:
            for dtype, length in self.pieces:
                yield np.fromfile(file, dtype=dtype, count=length)


@dataclass
class Encoded:
    """A text's tokens in first-seen order, how often each occurs, and where their ids are."""

    tokens: list[str]  # first-seen id -> token
    counts: np.ndarray  # (len(tokens),) how often each token occurs
    fingerprint: str  # SHA-256 of the text (as UTF-8)
    scratch: _Scratch = field(repr=False)

    def __len__(self) -> int:
        return sum(length for _, length in self.scratch.pieces)

    def count_of(self) -> dict[str, int]:
        return dict(zip(self.tokens, self.counts.tolist(), strict=True))

    def ids_for(self, vocab: Vocabulary, what: str = "the text") -> np.ndarray:
        """The ids of `vocab` for the same tokens, memory-mapped from a .npy file; a token it
        lacks is <unk>, or an error when it has no <unk> (a character vocabulary not pruned)."""
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
        path = Path(self.scratch.folder.name) / f"ids-{vocabulary_digest(vocab)}.npy"
        header = {"descr": np.lib.format.dtype_to_descr(remap.dtype), "fortran_order": False}
        with self.scratch.writing(), open(path, "wb") as file:
            np.lib.format.write_array_header_1_0(file, {**header, "shape": (len(self),)})
            for first_seen in self.scratch.read():
                remap[first_seen].tofile(file)
        ids = np.load(path, mmap_mode="r", allow_pickle=False)
        ids.scratch = self.scratch  # the file lives as long as the array (and its views) does
        return ids


def vocabulary_digest(vocab: Vocabulary) -> str:
    """SHA-256 of a vocabulary: which vocabulary a file of ids is for."""
    return hashlib.sha256(vocab.to_json().encode("utf-8")).hexdigest()


def encode(pieces: Iterable[str], level: str, lowercase: bool, tokenizer: str) -> Encoded:
    """Every token of the text in `pieces`, in one pass (see the module docstring)."""
    encoder = _Characters() if level == "char" else _Words(tokenizer)
    digest = hashlib.sha256()
    with encoder.scratch.writing():
        for piece in pieces:
            digest.update(piece.encode("utf-8"))
            encoder.add(piece.lower() if lowercase else piece)
    return encoder.scratch.finish(encoder.tokens(), digest.hexdigest())


class _Characters:
    """Characters through a code-point table; ids grow from uint8 as new characters come."""

    def __init__(self) -> None:
        self.table = np.full(CODE_POINTS, -1, dtype=np.int64)  # code point -> first-seen id
        self.found: list[int] = []  # first-seen id -> code point
        self.scratch = _Scratch()

    def add(self, piece: str) -> None:
        points = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
        ids = self.table[points]
        if (ids < 0).any():
            new = np.unique(points[ids < 0])
            self.table[new] = np.arange(len(self.found), len(self.found) + len(new))
            self.found += new.tolist()
            ids = self.table[points]
        self.scratch.keep(ids, len(self.found))

    def tokens(self) -> list[str]:
        return [chr(c) for c in self.found]


class _Words:
    """Words (or whitespace-separated tokens with a line-end token) through a dict."""

    def __init__(self, tokenizer: str) -> None:
        self.tokenizer = tokenizer
        self.index: dict[str, int] = {}
        self.scratch = _Scratch()

    def add(self, piece: str) -> None:
        if self.tokenizer == "words":
            tokens = WORD_PATTERN.findall(piece)
        else:
            tokens = [t for line in piece.splitlines() for t in [*line.split(), NEWLINE]]
        index = self.index
        ids = [index.setdefault(token, len(index)) for token in tokens]
        self.scratch.keep(np.array(ids, dtype=np.int64), len(index))

    def tokens(self) -> list[str]:
        return list(self.index)
