"""Progress bars, one switch for all of them: `--no-progress` (or a Python caller) turns off
every bar rnnkit draws in this process, the training loop's and the music reader's alike."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

SHOWN = True  # set False by `--no-progress`


def bar(iterable: Any = None, *, show: bool = True, **options: Any) -> tqdm:
    """A tqdm bar on stderr, drawn unless `show` is False or bars are off for the process."""
    return tqdm(iterable, disable=not (show and SHOWN), file=sys.stderr, **options)
