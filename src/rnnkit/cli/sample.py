"""`rnnkit sample RUN`: generate from a trained model, streamed to stdout as it is generated."""

from __future__ import annotations

import argparse

from rnnkit.train.registry import load_run


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sample",
        help="generate from a trained model",
        description="Generate from the best weights of a run folder (text, ...).",
    )
    parser.add_argument("run_dir", metavar="RUN", help="the run folder (rnnkit train --out)")
    parser.add_argument(
        "--temperature", type=float, default=0.8, help="< 1 safer, > 1 wilder; 0 greedy"
    )
    parser.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest only")
    parser.add_argument(
        "--top-p", type=float, default=None, help="sample within this probability mass"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="the same seed gives the same sample"
    )
    parser.add_argument("--num", type=int, default=1, help="how many samples (default 1)")
    parser.add_argument(
        "--prime",
        default=None,
        help="what to start from: text for text models (default: a line start)",
    )
    parser.add_argument("--length", type=int, default=500, help="tokens or steps to generate")
    return parser


def run(args: argparse.Namespace) -> int:
    module, task, _config = load_run(args.run_dir)
    module.sample(task, args)
    return 0
