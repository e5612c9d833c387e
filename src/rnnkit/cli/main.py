"""`rnnkit <command>`: the one entry point.

Each command lives in its own module under `rnnkit.cli` and exposes two functions:

    add_parser(subparsers) -> argparse.ArgumentParser   # declares the command and its flags
    run(args) -> int                                     # does the work, returns the exit status

and may expose `check_words(words)`, run on the command's words before argparse reads them, for
mistakes argparse would misreport (`rnnkit train --resume RUN --lr 0.1`: "invalid choice '0.1'").

User mistakes raise `RnnkitError`; they are printed as one line, `error: <what and how to fix>`,
with exit status 2 and no traceback (`--debug` shows it); a command line that asks for `--lang vi`
gets the line in Vietnamese where it has one (`lỗi: ...`, rnnkit.cli.language). A reader of
stdout that goes away (`| head`) stops the command quietly, with a shell's status for it (141).
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import itertools
import os
import re
import shlex
import signal
import sys

from rnnkit import progress
from rnnkit.cli.language import PREFIX, argparse_line, language_of
from rnnkit.errors import RnnkitError
from rnnkit.files import is_refusal, refused
from rnnkit.tasks.registry import TASKS
from rnnkit.version import __version__

# Command modules, in the order `rnnkit --help` lists them.
COMMANDS = [
    "rnnkit.cli.train",
    "rnnkit.cli.sample",
    "rnnkit.cli.evaluate",
    "rnnkit.cli.predict",
    "rnnkit.cli.generate",
    "rnnkit.cli.export",
    "rnnkit.cli.compare",
    "rnnkit.cli.explain",
    "rnnkit.cli.visualize",
]


class Parser(argparse.ArgumentParser):
    """argparse with rnnkit's error format: one line, what is wrong and where to read more.

    Subcommand parsers are created with the parent's class, so every command gets it.
    """

    help_for = ""  # main's guess of the command a top-level error is about (unknown flags)
    lang = "en"  # the language main found the command line asking for

    def error(self, message: str):
        print(argparse_line(message, self.help_for or self.prog, Parser.lang), file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rnnkit",
        description="Recurrent neural networks from the lecture: train, sample, explain, compare.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(name)
        sub = module.add_parser(subparsers)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    words = sys.argv[1:] if argv is None else list(argv)
    parser.help_for = command_of(words)  # argparse reports unknown flags at the top level
    lang = Parser.lang = language_of(words)
    try:
        check_words(words)
        args = parser.parse_args(words)
    except SystemExit as stop:  # --help, --version, or a flag refused with its one line
        return int(stop.code or 0)
    except RnnkitError as error:
        print(f"{PREFIX[lang]}: {error.said_in(lang)}", file=sys.stderr)
        return 2
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    lang = getattr(args, "lang", lang)  # as argparse read it (an abbreviation, the last --lang)
    progress.TERMINAL_ONLY = True  # a command's bars: only on a terminal, not in its log
    try:
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit, where Python prints it
        return status
    except BrokenPipeError:
        return reader_gone()
    except RnnkitError as error:
        if args.debug:
            raise
        print(f"{PREFIX[lang]}: {error.said_in(lang)}", file=sys.stderr)
        return 2
    except OSError as error:  # a path the system refused where no check foresaw it
        if args.debug or not is_refusal(error):
            raise  # (anything else is a bug in rnnkit: its traceback says where)
        print(f"{PREFIX[lang]}: {refused(error).said_in(lang)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        progress.TERMINAL_ONLY = False


def command_of(words: list[str]) -> str:
    """'rnnkit sample', 'rnnkit train text': the command the words name, as far as they do."""
    name = _command(words)
    if name is None:
        return "rnnkit"
    rest = [w for w in words[words.index(name) + 1 :] if not w.startswith("-")]
    if name == "train" and rest and rest[0] in TASKS:
        return f"rnnkit train {rest[0]}"
    return f"rnnkit {name}"


def check_words(words: list[str]) -> None:
    """A value that starts with a minus sign but is not one number (`--split -10/110`, `--x
    -1,2`): argparse takes it for a flag and says "expected one argument"; then the command
    module's own check of its words (after the command's name), if it has one."""
    for flag, value in itertools.pairwise(words):
        one_number = re.fullmatch(r"-\d+|-\d*\.\d+", value)
        # (argparse takes a value with a space in it, such as a --prime: it is no flag)
        if flag.startswith("--") and re.match(r"-\.?\d\S*$", value) and not one_number:
            written = shlex.quote(f"{flag}={value}")
            raise RnnkitError(
                f"{flag} {value}: a value that starts with a minus sign looks like a flag; "
                f"write {written}",
                f"{flag} {value}: giá trị bắt đầu bằng dấu trừ trông như một tùy chọn (flag); "
                f"hãy viết {written}",
            )
    name = _command(words)
    module = importlib.import_module(f"rnnkit.cli.{name}") if name else None
    check = getattr(module, "check_words", None)
    if check is not None:
        check(words[words.index(name) + 1 :])


def _command(words: list[str]) -> str | None:
    """The command the first word that is not a flag names, or None."""
    name = next((w for w in words if not w.startswith("-")), None)
    return name if f"rnnkit.cli.{name}" in COMMANDS else None


# A shell's status for a command whose pipe's reader went away (128 + SIGPIPE).
BROKEN_PIPE = 141


def _no_interrupt_at_exit() -> None:
    """The command has ended: a late Ctrl-C (the second of two, say) would only interrupt
    torch's own exit handlers, with a traceback. (atexit runs the last registered first.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


atexit.register(_no_interrupt_at_exit)


def reader_gone() -> int:
    """Stop quietly when stdout's reader has gone (`rnnkit sample RUN | head`), as `cat` does:
    stdout then points at /dev/null, so that the flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
