"""rnnkit.progress: bars off where a command's stderr is not a terminal, on when Python asks."""

import io
import sys

from rnnkit import progress


def test_a_bar_is_drawn_when_asked_and_kept_out_of_a_commands_log(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log file, whatever runs the tests
    assert progress.bar(range(3)).disable is False  # from Python (a notebook's stderr too)
    assert progress.bar(range(3), show=False).disable is True
    monkeypatch.setattr(progress, "TERMINAL_ONLY", True)  # as `rnnkit` sets it
    assert progress.bar(range(3)).disable is True  # not a terminal: no bar in the log

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert not progress.bar(range(3)).disable
