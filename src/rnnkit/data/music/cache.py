"""The parse cache: music21 is slow (about half a second a chorale), so each file is parsed once.

A file's pieces are stored as JSON under the cache folder, in a file named by a hash of

    (cache format version, absolute path, modification time in ns, size in bytes, grid)

so editing, replacing or touching a music file, or asking for another grid, parses it again, and
a stale entry is simply never read. Entries are plain JSON (never pickles) and written whole or not
at all; an unreadable entry is parsed again and rewritten. The folder is `$RNNKIT_CACHE_DIR`, else
`$XDG_CACHE_HOME/rnnkit/music`, else `~/.cache/rnnkit/music`; deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from rnnkit.data.music.piece import Piece
from rnnkit.data.music.score import read_music_file
from rnnkit.errors import RnnkitError
from rnnkit.files import absolute, write_file
from rnnkit.progress import bar

CACHE_VERSION = 1  # bump when parsing or quantisation changes, so old entries are not read


def default_cache_dir() -> Path:
    """Where parsed music is cached unless a folder is given (see the module docstring)."""
    if os.environ.get("RNNKIT_CACHE_DIR"):
        return Path(os.environ["RNNKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnkit" / "music"


def cache_key(path: str | Path, grid: str) -> str:
    """The hex name of `path`'s cache entry on `grid`."""
    path = absolute(path)
    try:
        status = path.stat()
    except OSError:
        raise RnnkitError(f"{path} does not exist") from None
    key = [CACHE_VERSION, str(path), status.st_mtime_ns, status.st_size, grid]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()


def read_cached(path: str | Path, grid: str, cache_dir: str | Path | None = None) -> list[Piece]:
    """The pieces of one music file on `grid`, parsed once and then read from the cache."""
    entry = Path(cache_dir or default_cache_dir()) / f"{cache_key(path, grid)}.json"
    try:
        return [Piece.from_dict(data) for data in json.loads(entry.read_text("utf-8"))["pieces"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no entry yet, or a damaged one: parse again
    pieces = read_music_file(path, grid)
    text = json.dumps({"source": str(path), "grid": grid, "pieces": [p.to_dict() for p in pieces]})
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RnnkitError(f"cannot create the cache folder {entry.parent}: {error}") from None
    write_file(entry, text)
    return pieces


def read_music_files(
    paths: Sequence[str | Path],
    grid: str = "quarter",
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> list[Piece]:
    """The pieces of many music files, in order, with a progress bar (cached unless told not to).

    One file of many that cannot be read (corrupt, or music21 cannot parse it) is skipped with
    one warning line naming it, and the count of skipped files is said at the end; when no file
    can be read, or there is only one, it is an error."""
    pieces: list[Piece] = []
    skipped: list[str] = []
    for path in bar(paths, show=progress, desc="reading music", unit="file"):
        try:
            pieces.extend(
                read_cached(path, grid, cache_dir) if cache else read_music_file(path, grid)
            )
        except RnnkitError as error:
            if len(paths) == 1:
                raise
            skipped.append(str(error))
            tqdm.write(f"warning: skipped a file: {error}", file=sys.stderr)
    if skipped and not pieces:
        raise RnnkitError(f"none of the {len(paths)} music files could be read: {skipped[0]}")
    if skipped:
        print(f"note: {len(skipped)} of {len(paths)} music files could not be read and were "
              "skipped", file=sys.stderr)  # fmt: skip
    return pieces
