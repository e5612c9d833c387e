"""Writing a file whole or not at all: a half-written MIDI, PNG or cache file never replaces
a good one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rnnkit.errors import RnnkitError


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(partial)` on a temporary file beside `path`, then rename it to `path`."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    except OSError as error:
        raise RnnkitError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return path
