"""The one error type meant for users.

Anything raised as `RnnkitError` is a problem with the user's input (a file, a flag, a run folder,
a shape) and its message says what is wrong and how to fix it. The command line prints it as
`error: <message>` and exits with status 2, without a traceback.
"""


class RnnkitError(ValueError):
    """A user-facing error: the message says what is wrong and how to fix it."""
