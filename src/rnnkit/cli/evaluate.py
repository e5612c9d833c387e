"""`rnnkit evaluate RUN [FILE] [--generated DIR]`: a run's best model on any data.

The last line holds the numbers. A music run without FILE scores its own test split, and
`--generated DIR` compares the pieces in DIR with its training data (no loss).
"""

from __future__ import annotations

import argparse

from rnnkit.errors import RnnkitError
from rnnkit.train.registry import load_run

# Tasks whose evaluate_file knows what to do without FILE (their own test split, --generated).
WITHOUT_FILE = ("music",)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained model on a file",
        description="Loss of a run's best model on FILE (and bits per character, perplexity or "
        "accuracy, as the task reports them).",
    )
    parser.add_argument("run_dir", metavar="RUN", help="the run folder (rnnkit train --out)")
    parser.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        default=None,
        help="the data to evaluate on (music: default the run's test split)",
    )
    parser.add_argument(
        "--generated",
        metavar="DIR",
        help="music: statistics of the pieces in DIR beside the training data",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    module, task, config = load_run(args.run_dir)
    if config["task"] not in WITHOUT_FILE:
        if args.generated is not None:
            raise RnnkitError("--generated is for music runs; give FILE to evaluate on")
        if args.file is None:
            raise RnnkitError(f"give FILE to evaluate {args.run_dir} on")
    metrics = module.evaluate_file(task, args.file, args)
    print(f"{args.run_dir} on {args.generated or args.file or 'its test split'}:")
    print(
        "  ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
        )
    )
    return 0
