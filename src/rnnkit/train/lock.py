"""One writer per run folder: RUN/.lock, held while `rnnkit train` trains into the folder.

The lock file is created with O_CREAT | O_EXCL (the one atomic "create if absent" every POSIX
filesystem gives) and holds who took it: process id, host, and the process's start time. A second
`rnnkit train` on the same folder finds it and stops with one line, changing nothing. A lock left
by a process that no longer runs (killed with -9, a power cut) is stale: the next writer on the
same host takes it over and says so in one line; the start time tells a reused process id from
the process that took the lock. A lock from another host cannot be checked from here, so it is
refused with the line that says how to remove it.

Readers (sample, evaluate, generate, export, ...) take no lock: every file is replaced atomically
(rnnkit.files), so they never see half of one.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rnnkit.errors import RnnkitError

LOCK = ".lock"


@contextmanager
def exclusive(run: Path) -> Iterator[None]:
    """Hold RUN/.lock for the duration of the block (see the module docstring)."""
    path = Path(run) / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(), "start": start_time(os.getpid())}
    while True:
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            holder = _read(path)
            if holder is not None and _running(holder):
                raise RnnkitError(
                    f"{run} is being trained by process {holder['pid']} on {holder['host']}; "
                    "wait for it, or stop it. If it is not running, delete "
                    f"{path} and try again"
                ) from None
            who = "an unfinished lock" if holder is None else f"process {holder['pid']}'s lock"
            print(f"note: {run} held {who}, which no process holds any more; taking it over",
                  file=sys.stderr)  # fmt: skip
            path.unlink(missing_ok=True)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(me, file)
        file.flush()
        os.fsync(file.fileno())
    try:
        yield
    finally:
        if _read(path) == me:
            path.unlink(missing_ok=True)


def _read(path: Path) -> dict | None:
    """Who holds the lock, or None when the file cannot be read as a lock (a writer killed
    between creating and filling it)."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fields = {"pid": int, "host": str, "start": (int, type(None))}
    if not isinstance(holder, dict) or not all(
        isinstance(holder.get(k), kind) for k, kind in fields.items()
    ):
        return None
    return holder


def _running(holder: dict) -> bool:
    """Is the process that took the lock still running? (Unknowable on another host: yes.)"""
    if holder["host"] != socket.gethostname():
        return True
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return holder["start"] is None or start_time(holder["pid"]) == holder["start"]


def start_time(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot (Linux), to tell a process from a
    later one that reuses its id; None where /proc does not say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, after the command name
    except (OSError, ValueError, IndexError):
        return None
