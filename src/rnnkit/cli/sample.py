"""`rnnkit sample RUN`: generate text from a trained model, streamed to stdout as it is written."""

from __future__ import annotations

import argparse
import io
import sys

from rnnkit.cli.outputs import check_file
from rnnkit.devices import add_device_argument
from rnnkit.files import write_file
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.tasks.registry import load_run
from rnnkit.train.task import SamplesText, require
from rnnkit.values import COUNT, MASS, NON_NEGATIVE, POSITIVE_INT, path

SEPARATOR = "-" * 40  # between samples, with --num


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sample",
        help="generate text from a trained model",
        description="Generate from the best weights of a text run, streamed as it is written.",
    )
    parser.add_argument("run_dir", metavar="RUN", help="the run folder (rnnkit train --out)")
    parser.add_argument(
        "--temperature",
        type=NON_NEGATIVE.parse,
        default=0.8,
        help="< 1 safer, > 1 wilder; 0 greedy (default 0.8)",
    )
    parser.add_argument(
        "--top-k", type=POSITIVE_INT.parse, help="sample among the k likeliest only"
    )
    parser.add_argument("--top-p", type=MASS.parse, help="sample within this probability mass")
    parser.add_argument(
        "--seed", type=COUNT.parse, default=None, help="the same seed gives the same sample"
    )
    parser.add_argument(
        "--num", type=POSITIVE_INT.parse, default=1, help="how many samples (default 1)"
    )
    parser.add_argument(
        "--prime", default=None, help="the text to continue (default: a line start)"
    )
    parser.add_argument(
        "--length", type=POSITIVE_INT.parse, default=500, help="tokens to generate (default 500)"
    )
    parser.add_argument("--out", type=path, metavar="FILE", help="write to FILE, not the terminal")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_device_argument(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_file(args.out, args.force)
    task = load_run(args.run_dir, args.device)
    require(task, SamplesText, args.run_dir)
    config = SamplerConfig(args.temperature, args.top_k, args.top_p, args.seed)
    sampler = Sampler(config)
    out = io.StringIO() if args.out is not None else sys.stdout
    for index in range(args.num):
        if index:
            out.write(f"\n{SEPARATOR}\n")
        pieces = task.sample_text(args.prime, args.length, sampler)  # a bad prime: nothing out
        out.write(args.prime or "")
        for piece in pieces:
            out.write(piece)
            out.flush()
    out.write("\n")
    if args.out is not None:
        write_file(args.out, out.getvalue())
        print(f"wrote {args.num} sample{'s' * (args.num > 1)} to {args.out}")
    return 0
