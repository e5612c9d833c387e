"""Every file rnnkit writes goes through here: written whole or not at all, read back with checks.

    write_file(path, data)          bytes or text
    write_with(path, write)         anything a library writes to a path (a PNG, MIDI, safetensors)
    write_json(path, value)         JSON, UTF-8, indented
    read_json(path, what)           a JSON object from a file that may be damaged or hostile
    read_text_file(path, hint, hint_vi)  UTF-8 text, one clear line for binary, UTF-16 or bad bytes
    absolute(path)                  a user's path as a run stores it (a pipe or a link loop refused)
    refused(error)                  the one line for a path the system refused (a name too long)

A write goes to a hidden temporary file beside `path` (the same folder, so the same filesystem),
is flushed to disk (fsync), then moved onto `path` in one step (os.replace): a reader sees the old
file or the new one, never a mix, and a crash or a full disk leaves the old file whole. A failed
write is one RnnkitError line saying which file and why.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError

_UMASK = os.umask(0o022)  # read once, at import (the only way to read it is to set it)
os.umask(_UMASK)
NEW_FILE_MODE = 0o666 & ~_UMASK  # the mode open() gives a new file here
MAX_JSON_BYTES = 64 * 2**20  # config.json, state.json, vocab.json: larger is not from rnnkit
TEMPORARY = ".*.tmp"  # the glob of the temporary files a crash can leave behind


def write_file(path: str | Path, data: bytes | str) -> Path:
    """Write `data` (text is written as UTF-8) to `path` atomically; returns the path."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return write_with(path, lambda temp: temp.write_bytes(raw))


_FULL = ("free some disk space", "hãy giải phóng dung lượng đĩa")
_LOCKED = ("make the folder writable", "hãy cấp quyền ghi cho thư mục")
# What to do about a failed write, by the error's number (None: any other).
WRITE_ADVICE = {
    errno.ENOSPC: _FULL,
    errno.EDQUOT: _FULL,
    errno.EACCES: _LOCKED,
    errno.EPERM: _LOCKED,
    errno.EROFS: _LOCKED,
    errno.ENOENT: ("its folder is gone: make it", "thư mục của nó không còn: hãy tạo lại"),
    None: ("check the disk and the folder", "hãy kiểm tra ổ đĩa và thư mục"),
}


# What to do about a path the system refused in any other use (reading, listing, locking).
USE_ADVICE = {
    **WRITE_ADVICE,
    errno.ENAMETOOLONG: (
        "use a shorter name (at most 255 bytes for each file or folder name)",
        "hãy dùng tên ngắn hơn (mỗi tên tệp hay thư mục tối đa 255 byte)",
    ),
    errno.ELOOP: (
        "a symbolic link in it leads back to itself: give the real path",
        "một liên kết tượng trưng trong đó trỏ vòng lại chính nó: hãy đưa đường dẫn thật",
    ),
    errno.EACCES: ("make it readable and writable", "hãy cấp quyền đọc và ghi cho nó"),
    errno.EPERM: ("make it readable and writable", "hãy cấp quyền đọc và ghi cho nó"),
}


def is_refusal(error: OSError) -> bool:
    """Is `error` the system refusing a path the user gave (a name too long, a link loop, no
    permission, a read-only or full disk), rather than a bug?"""
    return error.filename is not None and error.errno in REFUSALS


REFUSALS = {
    errno.ENAMETOOLONG,
    errno.ELOOP,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOSPC,
    errno.EDQUOT,
}


def refused(error: OSError) -> RnnkitError:
    """The one line for a path the system refused where no check foresaw it."""
    where = error.filename if error.filename is not None else "a file"
    reason = error.strerror or str(error)
    advice, advice_vi = USE_ADVICE.get(error.errno, USE_ADVICE[None])
    return RnnkitError(
        f"cannot use {where} ({reason}); {advice} and try again",
        f"không dùng được {where} ({reason_vi(error)}); {advice_vi} rồi thử lại",
    )


def write_with(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """`write(temp)` a temporary file beside `path`, flush it to disk, move it onto `path`."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temp)
        with open(temp, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        reason = error.strerror or error
        advice, advice_vi = WRITE_ADVICE.get(error.errno, WRITE_ADVICE[None])
        raise RnnkitError(
            f"cannot write {path} ({reason}); {advice} and try again "
            "(a file that was there is unchanged)",
            f"không ghi được {path} ({reason}); {advice_vi} rồi thử lại "
            "(tệp đã có ở đó không bị thay đổi)",
        ) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def remove_temporary_files(folder: str | Path) -> None:
    """Delete the temporary files of writes that a crash interrupted."""
    for temp in Path(folder).glob(TEMPORARY):
        temp.unlink(missing_ok=True)


def write_json(path: str | Path, value: Any) -> Path:
    return write_file(path, json.dumps(value, indent=1, ensure_ascii=False) + "\n")


def read_json(path: str | Path, what: str) -> dict[str, Any]:
    """A JSON object from a file that may be damaged or hostile: at most MAX_JSON_BYTES, UTF-8,
    any decoding problem (bad syntax, absurd nesting or numbers) reported as one RnnkitError that
    calls the file `what` (e.g. "vocabulary")."""
    path = Path(path)
    check_not_a_pipe(path)
    try:
        size = path.stat().st_size
        if size <= MAX_JSON_BYTES:
            value = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise RnnkitError(f"{path} is not a readable {what} ({short(error)}); retrain") from None
    if size > MAX_JSON_BYTES:
        raise RnnkitError(
            f"{path} is {size:,} bytes, more than any {what} rnnkit writes "
            f"({MAX_JSON_BYTES:,}); the run folder is damaged or not from rnnkit"
        )
    if not isinstance(value, dict):
        raise RnnkitError(f"{path} is not a {what} (not a JSON object); retrain")
    return value


# Byte-order marks of the Unicode encodings that are not UTF-8 (UTF-32 before UTF-16: it starts
# with the same two bytes).
OTHER_ENCODINGS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


def blocked_by(path: Path) -> Path | None:
    """What stops `path` from being made as a folder: its nearest existing parent where that is
    not a writable folder, else None."""
    parent = Path(path).absolute()
    while not parent.exists():
        parent = parent.parent
    return None if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK) else parent


def check_not_a_pipe(path: str | Path) -> None:
    """Refuse a pipe or a socket (`<(command)`, mkfifo): reading one waits for a writer, and
    the data is read more than once."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return  # missing, or a name the system refuses: the reader says so
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise RnnkitError(
            f"{path} is a pipe, not a file; save what it gives to a file and give that file",
            f"{path} là một pipe, không phải tệp; hãy lưu nội dung vào một tệp rồi đưa tệp đó",
        )


def absolute(path: str | Path) -> Path:
    """`path` made absolute, its symbolic links followed (a run stores its data this way, to
    resume from any folder); a pipe, or a link that loops, is one RnnkitError."""
    check_not_a_pipe(path)
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError) as error:  # RuntimeError: a link loop (Python < 3.13)
        raise RnnkitError(
            f"{path} does not lead to a file ({short(error)}); give the file or folder itself",
            f"{path} không dẫn tới một tệp ({short(error)}); hãy đưa chính tệp hoặc thư mục đó",
        ) from None


def read_text_file(path: str | Path, hint: str, hint_vi: str | None = None) -> str:
    """The text of a UTF-8 file (a UTF-8 byte-order mark removed). A file in another Unicode
    encoding, a binary file or bytes that are not UTF-8 are one RnnkitError each, ending in
    `hint`, what to give instead (e.g. "pass a UTF-8 text file"; `hint_vi` in Vietnamese, which
    the error then carries too)."""
    path = Path(path)
    check_not_a_pipe(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise RnnkitError(
            f"cannot read {path} ({reason}); {hint}",
            hint_vi and f"không đọc được {path} ({reason_vi(error)}); {hint_vi}",
        ) from None
    return check_text_bytes(path, data, hint, hint_vi)


def check_text_bytes(
    path: Path,
    data: bytes,
    hint: str,
    hint_vi: str | None = None,
    start: bool = True,
    offset: int = 0,
) -> str:
    """`data`, bytes of `path` from byte `offset` on, as text (see read_text_file); `start` says
    the bytes begin the file, where a byte-order mark would be."""
    encoding = None
    if start:
        encoding = next(
            (name for mark, name in OTHER_ENCODINGS.items() if data.startswith(mark)), None
        )
        if encoding is None and len(data) >= 4 and data[1:4:2] == b"\0\0" and data[0:4:2].isascii():
            encoding = "UTF-16"  # little-endian without a mark: ASCII letters with NULs between
    if encoding is not None:
        iconv = f"`iconv -f {encoding} -t UTF-8`"
        raise RnnkitError(
            f"{path} is {encoding} text; re-save it as UTF-8 (e.g. {iconv})",
            hint_vi and f"{path} là văn bản {encoding}; hãy lưu lại thành UTF-8 (ví dụ {iconv})",
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise RnnkitError(
            f"{path} looks binary (NUL byte at offset {offset + nul}); {hint}",
            hint_vi
            and f"{path} trông như tệp nhị phân (byte NUL ở vị trí {offset + nul}); {hint_vi}",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        where = f"0x{data[error.start]:02x}"
        raise RnnkitError(
            f"{path} is not valid UTF-8 (byte {where} at offset {offset + error.start}); "
            "re-save it as UTF-8",
            hint_vi
            and f"{path} không phải UTF-8 hợp lệ (byte {where} ở vị trí {offset + error.start}); "
            "hãy lưu lại thành UTF-8",
        ) from None
    return text.removeprefix("\ufeff") if start else text


# Why a file could not be read, in Vietnamese, by the error's number (else the system's words).
REASONS_VI = {
    errno.ENOENT: "không tìm thấy tệp",
    errno.EACCES: "không có quyền đọc",
    errno.EISDIR: "đây là một thư mục",
}


def reason_vi(error: OSError) -> str:
    """Why `error` happened, in Vietnamese where REASONS_VI knows it."""
    return REASONS_VI.get(error.errno, error.strerror or str(error))


def short(error: BaseException) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
