"""`rnnkit compare --out DIR [--quick] [--seed S] [--steps N]`: RNN vs LSTM vs GRU, measured here.

Runs the study of rnnkit.studies.compare (gradient flow, memory over a distance, parameter counts)
and writes its tables, plots and verdict into DIR (see rnnkit.studies.report).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from rnnkit.cli.outputs import check_folder
from rnnkit.studies.compare import CompareConfig, run_compare
from rnnkit.studies.report import write_report
from rnnkit.values import COUNT, POSITIVE_INT


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "compare",
        help="compare RNN, LSTM and GRU: gradient flow, memory over a distance, weights",
        description="Train RNN, LSTM and GRU on the adding problem and copy memory at several "
        "lags with the same budget, measure gradient flow, and write tables, plots and a verdict.",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for tables and plots")
    parser.add_argument(
        "--force", action="store_true", help="write into a folder that is not empty"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a seconds-long run that only checks the pipeline"
    )
    parser.add_argument(
        "--seed", type=COUNT.parse, default=0, help="seed of weights and data (default 0)"
    )
    parser.add_argument(
        "--steps",
        type=POSITIVE_INT.parse,
        help="Adam steps per cell, task and lag (default 250; --quick 5)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    check_folder(args.out, args.force)
    config = CompareConfig.quick(args.seed) if args.quick else CompareConfig(seed=args.seed)
    if args.steps is not None:
        config = dataclasses.replace(config, steps=args.steps)
    print(f"compare: {config}", flush=True)
    results = run_compare(config, log=lambda line: print(line, flush=True))
    verdict = write_report(results, args.out)
    print(verdict)
    print(f"tables and plots in {args.out}")
    return 0
