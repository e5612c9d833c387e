"""`rnnkit predict RUN DATA --out FILE.csv`: label every sequence of DATA with a trained classifier.

DATA is what training takes (a CSV, TSV or .ts file, a folder, one part of an archive folder or
of aeon:NAME, e.g. aeon:GunPoint/test), or train, valid or test: that part of the run's own data
(valid: the series of the training part that were validated on, each predicted by the model of
the committee that did not learn it, or, held out with --valid-fraction, by the whole committee).

FILE.csv gets one row per sequence: its `id` and the predicted label in a column named
`prediction`; with --probabilities, then a column p_CLASS per class, the model's probability of
that class (a committee's: the mean of its members'). When DATA has labels, the accuracy on them is
printed too. An existing FILE.csv is never replaced unless --force is given, and never left
half-written.
"""

from __future__ import annotations

import argparse

from rnnkit.cli.outputs import check_file
from rnnkit.data.series import write_predictions
from rnnkit.devices import add_device_argument
from rnnkit.tasks.registry import load_run
from rnnkit.train.task import Predicts, require
from rnnkit.values import path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict",
        help="label sequences with a trained classifier",
        description="Predict the label of every sequence of DATA with a classify run's best model.",
    )
    parser.add_argument(
        "run_dir", metavar="RUN", help="the run folder (rnnkit train classify --out)"
    )
    parser.add_argument(
        "data",
        metavar="DATA",
        help="series as for training (a file, a folder, aeon:NAME/test), or train, valid or test: "
        "that part of the run's own data; labels optional",
    )
    parser.add_argument(
        "--out", metavar="FILE.csv", type=path, required=True, help="where to write the predictions"
    )
    parser.add_argument(
        "--probabilities",
        action="store_true",
        help="add a column p_CLASS per class: the model's probability of that class",
    )
    parser.add_argument("--force", action="store_true", help="replace FILE.csv if it exists")
    add_device_argument(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    out = check_file(args.out, args.force)
    task = load_run(args.run_dir, args.device)
    require(task, Predicts, args.run_dir)
    result = task.predict(args.data)
    probabilities = result.probabilities if args.probabilities else None
    write_predictions(out, result.ids, result.labels, probabilities, result.classes)
    print(f"{len(result.ids)} predictions written to {out}")
    if result.scores is not None:
        total = int(result.scores.confusion.sum())
        print(f"accuracy {result.scores.accuracy:.4f} on the {total} labelled sequences")
    return 0
