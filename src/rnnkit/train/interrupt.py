"""Ctrl-C during training: the first finishes the current step, saves and stops; a second aborts.

The loop installs StopFlag's handler for SIGINT while it trains (signals reach the main thread
only; elsewhere, e.g. in a test's thread, nothing is installed) and puts back the handler that was
there before, whatever it was (default_int_handler in a terminal; SIG_IGN in a background job).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm


class StopFlag:
    """Ctrl-C asks the loop to stop after the current step; a second Ctrl-C aborts at once."""

    def __init__(self) -> None:
        self.requested = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        tqdm.write(
            "stopping after this step (Ctrl-C again to abort without saving)", file=sys.stderr
        )

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Our SIGINT handler while training (signals reach the main thread only), then the old."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
