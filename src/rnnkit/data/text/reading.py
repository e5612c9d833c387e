"""Reading text: UTF-8 files or folders of .txt files -> NFC text with "\\n" line ends.

    read_text(path)      the whole text, for what is small (a file to evaluate, a prime)
    text_pieces(path)    the same text in pieces of about PIECE_BYTES, for what may be large
                         (training text): "".join(text_pieces(p)) == read_text(p)

Why NFC: Vietnamese (and many other scripts) can write "ế" as one code point or as "e" plus two
combining marks; without normalisation the same letter becomes several different symbols.

A piece ends right after a "\\n" (normalisation never combines across a line end, and "\\r\\n"
stays whole), or, in a line longer than a piece, between two ASCII characters (which never
combine either); so normalising the pieces one by one gives the normalised whole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.files import check_not_a_pipe, check_text_bytes, read_text_file

NEWLINE = "\n"
PIECE_BYTES = 8 * 2**20  # 8 MiB: large enough to be fast, small enough to stay flat in memory
HINT = "pass a UTF-8 text file"
HINT_VI = "hãy đưa một tệp văn bản UTF-8"


def read_text(path: str | Path) -> str:
    """Read a UTF-8 text file, or every .txt file under a folder (sorted, joined by line ends).

    The result is NFC-normalised, with "\\r\\n" and "\\r" line ends turned into "\\n" and a leading
    byte-order mark removed. Raises RnnkitError for a missing, empty, binary or non-UTF-8 input.
    """
    files = text_files(Path(path))
    parts = [_read_file(f) for f in files]
    if len(files) == 1:
        return parts[0]
    return "".join(p if p.endswith(NEWLINE) else p + NEWLINE for p in parts)


def text_files(path: Path) -> list[Path]:
    """The file, or the .txt files under a folder, sorted; one error if there are none."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise RnnkitError(
                f"folder {path} has no .txt files; pass a text file or such a folder",
                f"thư mục {path} không có tệp .txt nào; hãy đưa một tệp văn bản hoặc một thư mục "
                "như vậy",
            )
        return files
    check_not_a_pipe(path)
    if not path.exists():
        raise RnnkitError(
            f"{path} does not exist; pass a UTF-8 text file or a folder of .txt files",
            f"{path} không tồn tại; hãy đưa một tệp văn bản UTF-8 hoặc một thư mục chứa các "
            "tệp .txt",
        )
    return [path]


def _read_file(path: Path) -> str:
    text = read_text_file(path, HINT, HINT_VI)
    if not text.strip():
        raise empty_file(path)
    return normalize(text)


def empty_file(path: Path) -> RnnkitError:
    """The error for a text file with nothing but white space in it."""
    if Path(path).stat().st_size:
        return RnnkitError(
            f"{path} holds only white space (spaces, tabs, line ends); pass a file that holds "
            "some text",
            f"tệp {path} chỉ có khoảng trắng (dấu cách, tab, xuống dòng); hãy đưa một tệp có "
            "chứa văn bản",
        )
    return RnnkitError(
        f"{path} is empty; pass a file that holds some text",
        f"tệp {path} trống; hãy đưa một tệp có chứa văn bản",
    )


def normalize(text: str) -> str:
    """NFC-normalise and unify line ends to "\\n" (see the module docstring for why)."""
    text = text.replace("\r\n", NEWLINE).replace("\r", NEWLINE)
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def text_pieces(path: str | Path, piece_bytes: int = PIECE_BYTES) -> Iterator[str]:
    """The normalised text of a file or folder (as read_text gives it) in pieces."""
    files = text_files(Path(path))
    for file in files:
        ends_with_newline, empty = True, True
        for piece in _file_pieces(file, piece_bytes):
            empty = empty and not piece.strip()
            ends_with_newline = piece.endswith(NEWLINE)
            yield piece
        if empty:
            raise empty_file(file)
        if len(files) > 1 and not ends_with_newline:
            yield NEWLINE  # files of a folder are joined by line ends


def _file_pieces(path: Path, piece_bytes: int) -> Iterator[str]:
    """One file's normalised text, piece by piece, with read_text_file's checks on each piece."""
    offset = 0
    with open(path, "rb") as file:
        carry = b""
        while True:
            block = file.read(piece_bytes)
            data = carry + block
            if not data:
                return
            if b"\0" in data:  # binary: said before any bad byte ahead of it (as a whole file)
                check_text_bytes(path, data, HINT, HINT_VI, start=offset == 0, offset=offset)
            cut = len(data) if not block else _safe_cut(data)
            piece, carry = data[:cut], data[cut:]
            text = check_text_bytes(path, piece, HINT, HINT_VI, start=offset == 0, offset=offset)
            yield normalize(text)
            offset += cut


def _safe_cut(data: bytes) -> int:
    """Where to end a piece: after the last line end, else between two ASCII bytes."""
    newline = data.rfind(b"\n")
    if newline >= 0:
        return newline + 1
    for at in range(len(data) - 1, 0, -1):
        if data[at] < 0x80 and data[at - 1] < 0x80:
            return at
    return len(data)  # no safe place: one long run of non-ASCII text, kept whole


def builtin_corpus() -> str:
    """The built-in corpus: the Python documentation text shipped with CPython (pydoc_data.topics).

    About 465,000 characters of English prose and code examples, in the same order on every
    machine (topics sorted by name). Nothing is downloaded.
    """
    from pydoc_data.topics import topics

    return normalize("\n".join(topics[name] for name in sorted(topics)))
