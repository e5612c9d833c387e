"""Where a command writes, checked before any work: every command that writes a file asks here.

A path is refused, with one line that names it, when it is a folder, when its folder does not
exist, when it has the wrong ending, when it exists and --force was not given, and always when it
is one of a run folder's own files (weights, settings, vocabulary, training state, metrics):
only `rnnkit train` on that run writes those. The write itself is atomic (rnnkit.files), so a
failed write leaves the old file whole.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.files import blocked_by
from rnnkit.train.checkpoint import BEST_MODEL, CONFIG, TRAINING

# What `rnnkit train` writes into a run folder (besides training/): the run's own files.
RUN_FILES = {
    CONFIG,
    BEST_MODEL,
    "vocab.json",
    "labels.json",
    "scaler.json",
    "openings.json",
    "metrics.csv",
    "loss.png",
    "samples.txt",
    "scores.txt",
    "scores.json",
    "confusion.png",
}


def check_file(
    path: Path, force: bool, flag: str = "--out", suffixes: tuple[str, ...] = ()
) -> Path:
    """`path` as a file a command may write (see the module docstring), or one RnnkitError."""
    if path.is_symlink() or (path.exists() and not path.is_file() and not path.is_dir()):
        # the write replaces the file whole (rnnkit.files), which would replace a link, a device
        # or a pipe itself rather than write to it
        raise RnnkitError(
            f"{flag} {path} is not a regular file (a link, a device or a pipe); give a file path",
            f"{flag} {path} không phải một tệp thông thường (liên kết, thiết bị hay pipe); hãy "
            "đưa đường dẫn của một tệp",
        )
    if path.is_dir():
        example = path / f"out{suffixes[0] if suffixes else ''}"
        raise RnnkitError(
            f"{flag} {path} is a folder; give a file name such as {example}",
            f"{flag} {path} là một thư mục; hãy đưa tên một tệp, ví dụ {example}",
        )
    if suffixes and path.suffix.lower() not in suffixes:
        raise RnnkitError(
            f"{flag} {path} must end in {' or '.join(suffixes)}",
            f"{flag} {path} phải có đuôi {' hoặc '.join(suffixes)}",
        )
    if not path.parent.is_dir():
        raise RnnkitError(
            f"the folder {path.parent} does not exist; create it or choose another {flag}",
            f"thư mục {path.parent} không tồn tại; hãy tạo nó hoặc chọn {flag} khác",
        )
    if not os.access(path.parent, os.W_OK):  # (else found after the work, at the write)
        raise RnnkitError(
            f"cannot write in the folder {path.parent}; make it writable or choose another {flag}",
            f"không ghi được vào thư mục {path.parent}; hãy cấp quyền ghi hoặc chọn {flag} khác",
        )
    run = run_folder_of(path)
    if run is not None:
        raise RnnkitError(
            f"{path} is one of the run folder {run}'s own files, which only `rnnkit train` on "
            f"that run writes; choose another {flag}",
            f"{path} là một tệp riêng của thư mục huấn luyện {run}, chỉ `rnnkit train` trên "
            f"lần chạy đó được ghi; hãy chọn {flag} khác",
        )
    if path.exists() and not force:
        raise RnnkitError(
            f"{path} already exists; choose another {flag} or add --force",
            f"{path} đã tồn tại; hãy chọn {flag} khác hoặc thêm --force",
        )
    return path


def check_folder(path: Path, force: bool, flag: str = "--out") -> Path:
    """`path` as a folder a command fills: new, empty, or (with --force) one whose files it may
    replace; never a run folder."""
    if path.exists() and not path.is_dir():
        raise RnnkitError(
            f"{flag} {path} is a file; give a new or empty folder",
            f"{flag} {path} là một tệp; hãy đưa một thư mục mới hoặc rỗng",
        )
    above = blocked_by(path)
    if above is not None:
        file = not above.is_dir()
        raise RnnkitError(
            f"{flag} {path}: {above} {'is a file' if file else 'cannot be written to'}; give a "
            "folder where one can be made",
            f"{flag} {path}: {above} {'là một tệp' if file else 'không ghi được'}; hãy đưa một "
            "thư mục có thể tạo được",
        )
    if (path / CONFIG).is_file():
        raise RnnkitError(
            f"{path} is a run folder; give {flag} a folder of its own",
            f"{path} là thư mục của một lần huấn luyện; hãy cho {flag} một thư mục riêng",
        )
    if path.is_dir() and any(path.iterdir()) and not force:
        raise RnnkitError(
            f"{path} is not empty; give a new or empty folder to {flag}, or add --force",
            f"{path} không rỗng; hãy cho {flag} một thư mục mới hoặc rỗng, hoặc thêm --force",
        )
    return path


def run_folder_of(path: Path) -> Path | None:
    """The run folder `path` belongs to as one of its own files, or None."""
    folder = path.parent
    if folder.name == TRAINING and (folder.parent / CONFIG).is_file():
        return folder.parent
    if path.name in RUN_FILES and (folder / CONFIG).is_file():
        return folder
    return None
