"""The token <-> id mapping of a language model, saved as vocab.json in a run folder."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.text.tokens import LEVELS, TOKENIZERS, detokenize, tokenize
from rnnkit.errors import RnnkitError
from rnnkit.files import read_json

UNK = "<unk>"
VOCAB_FORMAT = 1


@dataclass(frozen=True)
class Vocabulary:
    """The token <-> id mapping, saved as vocab.json in a run folder.

    Character vocabularies are the sorted set of characters (deterministic on every machine); a
    text with a character the model never saw is an error unless the vocabulary was pruned
    (--max-vocab, --min-count), which gives it <unk> at id 0. Word vocabularies hold <unk> at id
    0, then the most frequent words (ties in string order).
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
        min_count: int | None = None,
    ) -> Vocabulary:
        """The vocabulary of `text` (see `from_counts`)."""
        tokens = tokenize(text, level, lowercase, tokenizer) if level in LEVELS else []
        return cls.from_counts(Counter(tokens), level, lowercase, max_size, tokenizer, min_count)

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        level: str = "char",
        lowercase: bool = False,
        max_size: int | None = None,
        tokenizer: str = "words",
        min_count: int | None = None,
    ) -> Vocabulary:
        """The vocabulary of tokens seen `counts[token]` times.

        Characters: sorted (the same ids on every machine). Words: by frequency, ties in string
        order. `max_size` keeps the max_size - 1 most frequent and `min_count` those seen at least
        that often; either one adds <unk> at id 0, which every other token is read as (word
        vocabularies always have it: a new text has new words).
        """
        if level not in LEVELS:
            raise RnnkitError(f"unknown level {level!r}; use 'char' or 'word'")
        if tokenizer not in TOKENIZERS:
            raise RnnkitError(f"unknown tokenizer {tokenizer!r}; use 'words' or 'whitespace'")
        if max_size is not None and max_size < 2:
            raise RnnkitError(f"--max-vocab {max_size} is too small; use at least 2")
        ranked = sorted((t for t in counts if t != UNK), key=lambda t: (-counts[t], t))
        if min_count is not None:
            ranked = [t for t in ranked if counts[t] >= min_count]
            if not ranked:  # a model of <unk> alone predicts nothing (and sampled nothing)
                most = max((counts[t] for t in counts if t != UNK), default=0)
                raise RnnkitError(
                    f"--min-count {min_count} keeps no token: the most frequent one is seen "
                    f"{most} times; give --min-count {most} or less"
                )
        if max_size is not None:
            ranked = ranked[: max_size - 1]
        pruned = max_size is not None or min_count is not None
        if level == "char":
            kept = tuple(sorted(ranked))
            return cls(level, (UNK, *kept) if pruned else kept, lowercase)
        return cls(level, (UNK, *ranked), lowercase, tokenizer)

    def __len__(self) -> int:
        return len(self.tokens)

    def unknown(self, text: str) -> list[str]:
        """The distinct tokens of `text` that are not in the vocabulary, in order of appearance."""
        index = self._index
        return list(dict.fromkeys(t for t in self.tokenize(text) if t not in index))

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self.level, self.lowercase, self.tokenizer)

    def encode(self, text: str, what: str = "the text", what_vi: str = "văn bản") -> list[int]:
        """Token ids of `text`. Unknown tokens become <unk> where the vocabulary has it; else an
        unknown character is an error (its message calls the text `what`, e.g. "the prime", and
        `what_vi` in Vietnamese)."""
        index = self._index
        tokens = self.tokenize(text)
        if UNK in index:
            unk = index[UNK]
            return [index.get(t, unk) for t in tokens]
        try:
            return [index[t] for t in tokens]
        except KeyError:
            shown = ", ".join(repr(c) for c in self.unknown(text)[:10])
            raise RnnkitError(
                f"{what} has characters the model never saw ({shown}); "
                "remove them or train on text that contains them",
                f"{what_vi} có những ký tự mà mô hình chưa từng thấy ({shown}); hãy bỏ chúng đi "
                "hoặc huấn luyện trên văn bản có chứa chúng",
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
