"""The text a text run trains on: read in pieces, encoded in one pass, cached beside the run.

    TextSource(data)      the training text (a file or folder, the built-in corpus, or a string
                          given from Python) and the separate valid text, if any
    .fingerprint()        SHA-256 of the text: a resumed run refuses text that changed
    .encoded()            every token as a NumPy id, and every token's count (one pass)
    .ids(vocab)           the ids of a vocabulary: from RUN/data/ (memory-mapped) when that cache
                          holds this text, else encoded

RUN/data/ids.npy (and valid.npy) hold the ids of the whole text in the smallest unsigned type,
copied there when a run starts from the file encoding wrote them to (training maps them from
disk, never holding them in memory); data.json says which text (its fingerprint) and vocabulary
they are for. A resumed run then hashes the text (to check it is unchanged) but does not encode
it again.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

from rnnkit.data.text import (
    Encoded,
    Vocabulary,
    builtin_corpus,
    encode,
    text_files,
    text_pieces,
    vocabulary_digest,
)
from rnnkit.errors import RnnkitError
from rnnkit.files import absolute, read_json, write_json, write_with

BUILTIN = "builtin:python-docs"  # the source name of the built-in corpus in config.json
PYTHON_TEXT = "python:str"  # the source name of text given to TextModel.fit as a string
CACHE = "data"  # RUN/data/: the ids of the run's text
PARTS = ("ids", "valid")


class TextSource:
    """The text of a run's settings (`data`: a TextDataConfig), read only when asked for."""

    def __init__(self, data, text: str | None = None, cache: Path | None = None) -> None:
        self.data, self.text, self.cache = data, text, cache
        if data.source == PYTHON_TEXT and text is None:
            raise RnnkitError("this run was trained on text given from Python; resume it there")
        if data.source not in (BUILTIN, PYTHON_TEXT):
            data.source = str(absolute(data.source))  # resumable from any folder
            text_files(Path(data.source))  # a missing or empty folder: an error before any work
        if data.valid_file:
            data.valid_file = str(absolute(data.valid_file))
            text_files(Path(data.valid_file))
        self._encoded: dict[str, Encoded] = {}

    def pieces(self, part: str):
        """The normalised text of part "ids" (the training text) or "valid", in pieces."""
        if part == "valid":
            return text_pieces(self.data.valid_file)
        if self.text is not None:
            return [self.text]
        if self.data.source == BUILTIN:
            return [builtin_corpus()]
        return text_pieces(self.data.source)

    def fingerprint(self) -> str:
        """SHA-256 of the training text; hashed alone when the run's cache can give the ids."""
        if self._cache_meta() is not None and "ids" not in self._encoded:
            digest = hashlib.sha256()
            for piece in self.pieces("ids"):
                digest.update(piece.encode("utf-8"))
            return digest.hexdigest()
        return self.encoded("ids").fingerprint

    def encoded(self, part: str = "ids") -> Encoded:
        if part not in self._encoded:
            d = self.data
            self._encoded[part] = encode(self.pieces(part), d.level, d.lowercase, d.tokenizer)
        return self._encoded[part]

    def counts(self) -> dict[str, int]:
        """How often each token occurs in the training text and the valid text."""
        counts = self.encoded("ids").count_of()
        if self.data.valid_file:
            for token, n in self.encoded("valid").count_of().items():
                counts[token] = counts.get(token, 0) + n
        return counts

    def ids(self, vocab: Vocabulary) -> dict[str, np.ndarray]:
        """The ids of the whole training text (and the valid text) for `vocab`."""
        cached = self._cached(vocab)
        if cached is not None:
            return cached
        parts = ["ids", "valid"] if self.data.valid_file else ["ids"]
        return {part: self.encoded(part).ids_for(vocab, f"the {part} text") for part in parts}

    def _cache_meta(self) -> dict | None:
        if self.cache is None or not (self.cache / "data.json").is_file():
            return None
        return read_json(self.cache / "data.json", "text cache description")

    def _cached(self, vocab: Vocabulary) -> dict[str, np.ndarray] | None:
        """The ids in RUN/data/, memory-mapped, when they are this text's for this vocabulary."""
        meta = self._cache_meta()
        expected = {"fingerprint": self.data.fingerprint, "vocabulary": vocabulary_digest(vocab)}
        if meta is None or {k: meta.get(k) for k in expected} != expected:
            return None
        found = {}
        for part in meta.get("parts", []):
            if part not in PARTS:
                raise RnnkitError(f"{self.cache / 'data.json'} names an unknown part; retrain")
            try:
                ids = np.load(self.cache / f"{part}.npy", mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as error:
                raise RnnkitError(
                    f"{self.cache}/{part}.npy is unreadable ({error}); retrain"
                ) from None
            if ids.ndim != 1 or ids.dtype.kind != "u" or (len(ids) and ids.max() >= len(vocab)):
                raise RnnkitError(f"{self.cache}/{part}.npy does not hold this run's ids; retrain")
            found[part] = ids
        return found


def write_cache(folder: Path, fingerprint: str, vocab: Vocabulary, ids: dict[str, np.ndarray]):
    """RUN/data/: the ids, then data.json saying which text and vocabulary they are for."""
    folder.mkdir(exist_ok=True)
    for part, array in ids.items():
        write_with(folder / f"{part}.npy", lambda temp, array=array: _save(temp, array))
    meta = {"fingerprint": fingerprint, "vocabulary": vocabulary_digest(vocab), "parts": list(ids)}
    write_json(folder / "data.json", meta)


def _save(path: Path, array: np.ndarray) -> None:
    """A memory-mapped .npy file is copied as a file: saving the array would read all of it into
    memory."""
    mapped = isinstance(array, np.memmap) and array.filename
    if mapped and np.load(array.filename, mmap_mode="r").shape == array.shape:  # all of its file
        shutil.copyfile(array.filename, path)
        return
    with open(path, "wb") as file:
        np.save(file, np.asarray(array), allow_pickle=False)
