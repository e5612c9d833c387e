"""`rnnkit evaluate RUN FILE`: a run's best model on any data; the last line holds the numbers."""

from __future__ import annotations

import argparse

from rnnkit.train.registry import load_run


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained model on a file",
        description="Loss of a run's best model on FILE (and bits per character or perplexity).",
    )
    parser.add_argument("run_dir", metavar="RUN", help="the run folder (rnnkit train --out)")
    parser.add_argument("file", metavar="FILE", help="the data to evaluate on")
    return parser


def run(args: argparse.Namespace) -> int:
    module, task, _config = load_run(args.run_dir)
    metrics = module.evaluate_file(task, args.file, args)
    print(f"{args.run_dir} on {args.file}:")
    print(
        "  ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
        )
    )
    return 0
