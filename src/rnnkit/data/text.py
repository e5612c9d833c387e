"""Text for language models: files -> normalised text -> token ids -> batches for truncated BPTT.

Shape legend: B batch rows, T time steps (the BPTT chunk), V vocabulary size.

The pipeline, each step one function or class below:

    read_text(path)            UTF-8 file or folder of .txt files -> NFC text with "\\n" line ends
    Vocabulary.build(text)     characters (sorted) or words (by frequency, capped, with <unk>)
    vocab.encode(text)         list of token ids
    split_ids(ids, fractions)  contiguous train / valid / test parts
    TokenBatches(ids, B, T)    B contiguous streams in chunks of T steps; resumable position

Why NFC: Vietnamese (and many other scripts) can write "ế" as one code point or as "e" plus two
combining marks; without normalisation the same letter becomes several different symbols.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.errors import RnnkitError
from rnnkit.files import read_json, read_text_file

UNK = "<unk>"
NEWLINE = "\n"
VOCAB_FORMAT = 1

# Word tokeniser: a line end, a word (letters/digits/underscore, with inner apostrophes such as
# "don't" or "o'er"), or any other single non-space symbol (punctuation, an emoji code point).
WORD_PATTERN = re.compile(r"\n|\w+(?:['’]\w+)*|[^\w\s]")
# Decoding puts a space between tokens except after an opener and before a closer.
NO_SPACE_BEFORE = set(".,;:!?)]}'’”%")
NO_SPACE_AFTER = set("([{‘“")


# ---------------------------------------------------------------------------------------------
# Reading


def read_text(path: str | Path) -> str:
    """Read a UTF-8 text file, or every .txt file under a folder (sorted, joined by line ends).

    The result is NFC-normalised, with "\\r\\n" and "\\r" line ends turned into "\\n" and a leading
    byte-order mark removed. Raises RnnkitError for a missing, empty, binary or non-UTF-8 input.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise RnnkitError(f"folder {path} has no .txt files; pass a text file or such a folder")
        parts = [_read_file(f) for f in files]
        return "".join(p if p.endswith(NEWLINE) else p + NEWLINE for p in parts)
    if not path.exists():
        raise RnnkitError(
            f"{path} does not exist; pass a UTF-8 text file or a folder of .txt files"
        )
    return _read_file(path)


def _read_file(path: Path) -> str:
    text = read_text_file(path, "pass a UTF-8 text file")
    if not text.strip():
        raise RnnkitError(f"{path} is empty; pass a file that holds some text")
    return normalize(text)


def normalize(text: str) -> str:
    """NFC-normalise and unify line ends to "\\n" (see the module docstring for why)."""
    text = text.replace("\r\n", NEWLINE).replace("\r", NEWLINE)
    return unicodedata.normalize("NFC", text)


def builtin_corpus() -> str:
    """The built-in corpus: the Python documentation text shipped with CPython (pydoc_data.topics).

    About 465,000 characters of English prose and code examples, in the same order on every
    machine (topics sorted by name). Nothing is downloaded.
    """
    from pydoc_data.topics import topics

    return normalize("\n".join(topics[name] for name in sorted(topics)))


# ---------------------------------------------------------------------------------------------
# Tokenising


def tokenize(text: str, level: str, lowercase: bool = False, tokenizer: str = "words") -> list[str]:
    """Split text into tokens.

    level "char": every character is a token (line ends included).
    level "word", tokenizer "words": WORD_PATTERN (words, single punctuation marks, line ends).
    level "word", tokenizer "whitespace": the words between spaces, and a line-end token per line
    (the tokenisation of pytorch/examples' word_language_model, with "\\n" for its "<eos>").
    """
    if lowercase:
        text = text.lower()
    if level == "char":
        return list(text)
    if tokenizer == "words":
        return WORD_PATTERN.findall(text)
    return [token for line in text.splitlines() for token in [*line.split(), NEWLINE]]


def detokenize(tokens: list[str], level: str) -> str:
    """Join tokens back into text: characters as they are; words with spaces between them except
    around line ends, before closing punctuation and after opening brackets."""
    if level == "char":
        return "".join(tokens)
    out: list[str] = []
    previous = NEWLINE
    for token in tokens:
        glue = (
            previous == NEWLINE
            or token == NEWLINE
            or token in NO_SPACE_BEFORE
            or previous in NO_SPACE_AFTER
        )
        out.append(token if glue else " " + token)
        previous = token
    return "".join(out)


@dataclass(frozen=True)
class Vocabulary:
    """The token <-> id mapping, saved as vocab.json in a run folder.

    Character vocabularies are the sorted set of characters (deterministic on every machine) and
    have no <unk>: text with a character the model never saw is an error. Word vocabularies hold
    <unk> at id 0, then the most frequent words (ties in string order), capped at max_size.
    """

    level: str  # "char" or "word"
    tokens: tuple[str, ...]  # id -> token
    lowercase: bool = False  # lower-case text before tokenising
    tokenizer: str = "words"  # word level only: "words" (with punctuation) or "whitespace"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {token: i for i, token in enumerate(self.tokens)})

    @classmethod
    def build(
        cls,
        text: str,
        level: str = "char",
        lowercase: bool = False,
        max_size: int | None = None,
        tokenizer: str = "words",
    ) -> Vocabulary:
        """Build the vocabulary of `text` (max_size caps word vocabularies, <unk> included)."""
        if level not in ("char", "word"):
            raise RnnkitError(f"unknown level {level!r}; use 'char' or 'word'")
        if tokenizer not in ("words", "whitespace"):
            raise RnnkitError(f"unknown tokenizer {tokenizer!r}; use 'words' or 'whitespace'")
        tokens = tokenize(text, level, lowercase, tokenizer)
        if level == "char":
            return cls(level, tuple(sorted(set(tokens))), lowercase)
        counts = Counter(tokens)
        ranked = sorted(counts, key=lambda t: (-counts[t], t))
        if max_size is not None:
            if max_size < 2:
                raise RnnkitError(f"--max-vocab {max_size} is too small; use at least 2")
            ranked = ranked[: max_size - 1]
        return cls(level, (UNK, *(t for t in ranked if t != UNK)), lowercase, tokenizer)

    def __len__(self) -> int:
        return len(self.tokens)

    def unknown(self, text: str) -> list[str]:
        """The distinct tokens of `text` that are not in the vocabulary, in order of appearance."""
        index = self._index
        return list(dict.fromkeys(t for t in self.tokenize(text) if t not in index))

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self.level, self.lowercase, self.tokenizer)

    def encode(self, text: str, what: str = "the text") -> list[int]:
        """Token ids of `text`. Unknown words become <unk>; an unknown character is an error
        (its message calls the text `what`, e.g. "the prime")."""
        index = self._index
        tokens = self.tokenize(text)
        if self.level == "word":
            unk = index[UNK]
            return [index.get(t, unk) for t in tokens]
        try:
            return [index[t] for t in tokens]
        except KeyError:
            shown = ", ".join(repr(c) for c in self.unknown(text)[:10])
            raise RnnkitError(
                f"{what} has characters the model never saw ({shown}); "
                "remove them or train on text that contains them"
            ) from None

    def decode(self, ids: list[int]) -> str:
        return detokenize([self.tokens[i] for i in ids], self.level)

    def to_dict(self) -> dict:
        return {
            "format": VOCAB_FORMAT,
            "level": self.level,
            "lowercase": self.lowercase,
            "tokenizer": self.tokenizer,
            "tokens": list(self.tokens),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, data: object, where: str = "vocab.json") -> Vocabulary:
        """The vocabulary in `data`, checked field by field (a run folder may be damaged or
        hostile): one RnnkitError naming `where` if anything is off."""
        tokens = data.get("tokens") if isinstance(data, dict) else None
        valid = (
            isinstance(data, dict)
            and data.get("format") == VOCAB_FORMAT
            and data.get("level") in ("char", "word")
            and isinstance(data.get("lowercase"), bool)
            and data.get("tokenizer") in ("words", "whitespace")
            and isinstance(tokens, list)
            and all(isinstance(t, str) and t for t in tokens)
            and len(set(tokens)) == len(tokens) > 0
        )
        if not valid:
            raise RnnkitError(
                f"{where} is not a vocabulary of format {VOCAB_FORMAT} (level, lowercase, "
                "tokenizer and distinct non-empty tokens); retrain"
            )
        return cls(data["level"], tuple(tokens), data["lowercase"], data["tokenizer"])

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """vocab.json of a run folder, checked field by field (it may be damaged or hostile)."""
        return cls.from_dict(read_json(path, "vocabulary"), str(path))

    @classmethod
    def from_json(cls, text: str, where: str = "vocab.json") -> Vocabulary:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise RnnkitError(f"{where} is corrupt ({error}); retrain the model") from None
        return cls.from_dict(data, where)


# ---------------------------------------------------------------------------------------------
# Splitting and batching


def split_ids(ids: list[int], fractions: tuple[float, ...]) -> list[list[int]]:
    """Cut `ids` into contiguous parts of the given fractions (e.g. (0.9, 0.05, 0.05)), in order."""
    if any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise RnnkitError(f"split fractions {fractions} must be >= 0 and sum to 1, e.g. 90/5/5")
    bounds = [round(len(ids) * sum(fractions[:i])) for i in range(len(fractions) + 1)]
    return [ids[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass
class TokenBatch:
    """One chunk of B contiguous streams: predict targets[b, t] from inputs[b, :t+1]."""

    inputs: torch.Tensor  # (B, T) token ids
    targets: torch.Tensor  # (B, T) the next token of each input
    reset: bool  # first chunk of an epoch: start from a zero state


class TokenBatches:
    """Contiguous streams for truncated backpropagation through time.

    The ids are cut into B rows of L = (N - 1) // B tokens; row b covers ids[b*L : b*L + L + 1]
    (one token of overlap, so every token from ids[1] to ids[B*L] is a target exactly once per
    epoch). Each epoch walks the rows left to right in chunks of T steps (the last one shorter),
    so the recurrent state at the end of a chunk is the right start for the next one.

    The position (epoch, chunk) is the whole state: `state_dict()` / `load_state_dict()` resume
    exactly. For data-parallel training each of `world_size` ranks reads its own B / world_size
    rows.
    """

    def __init__(
        self,
        ids: list[int] | torch.Tensor,
        batch_size: int,
        seq_len: int,
        rank: int = 0,
        world_size: int = 1,
        name: str = "text",
    ) -> None:
        ids = torch.as_tensor(ids, dtype=torch.long)
        if batch_size < 1 or seq_len < 1:
            raise RnnkitError("--batch-size and --seq-len must be at least 1")
        if batch_size % world_size:
            raise RnnkitError(f"--batch-size {batch_size} must be a multiple of {world_size} ranks")
        length = (len(ids) - 1) // batch_size
        if length < seq_len:
            raise RnnkitError(
                f"the {name} has {len(ids)} tokens, fewer than one batch ({batch_size} rows x "
                f"{seq_len} steps + 1); use a smaller --batch-size or --seq-len, or more text"
            )
        rows = ids[: batch_size * length + 1].unfold(0, length + 1, length)  # (B, L + 1)
        shard = batch_size // world_size
        self.rows = rows[rank * shard : (rank + 1) * shard]
        self.seq_len = seq_len
        self.epoch = 0
        self.index = 0  # next chunk within the epoch

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil((self.rows.shape[1] - 1) / self.seq_len)

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.index / self.batches_per_epoch

    def chunk(self, index: int) -> TokenBatch:
        start = index * self.seq_len
        stop = min(start + self.seq_len, self.rows.shape[1] - 1)
        return TokenBatch(
            inputs=self.rows[:, start:stop],
            targets=self.rows[:, start + 1 : stop + 1],
            reset=index == 0,
        )

    def __iter__(self):
        """One full pass from the first chunk (for evaluation; does not move the position)."""
        return (self.chunk(i) for i in range(self.batches_per_epoch))

    def next_batch(self) -> TokenBatch:
        """The chunk at the current position; then advance (wrapping into the next epoch)."""
        batch = self.chunk(self.index)
        self.index += 1
        if self.index == self.batches_per_epoch:
            self.epoch, self.index = self.epoch + 1, 0
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
