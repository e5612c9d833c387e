"""The one error type meant for users.

Anything raised as `RnnkitError` is a problem with the user's input (a file, a flag, a run folder,
a shape) and its message says what is wrong and how to fix it. The command line prints it as
`error: <message>` and exits with status 2, without a traceback. An error a learner's command can
meet says it in Vietnamese too (`vi`), which the command line prints as `lỗi: <vi>` where it
asks for `--lang vi` (rnnkit.cli.language).
"""

from __future__ import annotations


class RnnkitError(ValueError):
    """A user-facing error: the message says what is wrong and how to fix it (and `vi`, where
    given, says the same in Vietnamese)."""

    def __init__(self, message: str, vi: str | None = None) -> None:
        super().__init__(message)
        self.vi = vi

    def said_in(self, lang: str) -> str:
        """The message in `lang` ("en" or "vi"), English where it has no Vietnamese."""
        return self.vi if lang == "vi" and self.vi else str(self)


class NotFinite(RnnkitError):
    """Numbers became nan or inf (a loss, weights, a model's outputs): training diverged.
    `cause`: what became nan, without the advice the training loop adds to the message."""

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause or message
