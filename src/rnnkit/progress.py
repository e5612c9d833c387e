"""Progress bars, one switch for all of them: `--no-progress` (or a Python caller) turns off
every bar rnnkit draws in this process, the training loop's and the music reader's alike. Where
stderr is not a terminal (a log file, a pipe, CI) no bar is drawn either: its carriage returns
would fill the log with one long line."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

SHOWN = True  # set False by `--no-progress`


def bar(iterable: Any = None, *, show: bool = True, **options: Any) -> tqdm:
    """A tqdm bar on stderr, drawn unless `show` is False, bars are off for the process, or
    stderr is not a terminal (tqdm's disable=None)."""
    return tqdm(
        iterable, disable=True if not (show and SHOWN) else None, file=sys.stderr, **options
    )
