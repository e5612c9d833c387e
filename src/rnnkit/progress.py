"""Progress bars, one switch for all of them: `--no-progress` (or a Python caller) turns off
every bar rnnkit draws in this process, the training loop's and the music reader's alike. On the
command line no bar is drawn where stderr is not a terminal (a log file, a pipe, CI): its
carriage returns would fill the log with one long line. (From Python, a bar asked for is drawn:
a notebook's stderr is no terminal either, and shows bars.)"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

SHOWN = True  # set False by `--no-progress`
TERMINAL_ONLY = False  # set True by the command line: bars only where stderr is a terminal


def bar(iterable: Any = None, *, show: bool = True, **options: Any) -> tqdm:
    """A tqdm bar on stderr, drawn unless `show` is False, bars are off for the process, or (on
    the command line) stderr is not a terminal (tqdm's disable=None)."""
    disable = True if not (show and SHOWN) else (None if TERMINAL_ONLY else False)
    return tqdm(iterable, disable=disable, file=sys.stderr, **options)
