"""`rnnkit predict RUN DATA --out FILE.csv`: label every sequence of DATA with a trained classifier.

FILE.csv gets one row per sequence: its `id` and the predicted label in a column named
`prediction`. When DATA has labels, the accuracy on them is printed too. An existing FILE.csv is
never replaced unless --force is given, and never left half-written.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rnnkit.cli.output_file import check_output_file
from rnnkit.data.series import write_predictions
from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import read_config
from rnnkit.train.classify import ClassifyTask, predict_file
from rnnkit.train.registry import load_run


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
        "data", metavar="DATA", help="CSV file or folder, as for training; labels optional"
    )
    parser.add_argument(
        "--out", metavar="FILE.csv", type=Path, required=True, help="where to write the predictions"
    )
    parser.add_argument("--force", action="store_true", help="replace FILE.csv if it exists")
    return parser


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    check_output_file(out, args.force, "pred.csv")
    task = _load_classifier(args.run_dir)
    result = predict_file(task, args.data)
    _write_atomically(out, result.ids, result.labels)
    print(f"{len(result.ids)} predictions written to {out}")
    if result.scores is not None:
        total = int(result.scores.confusion.sum())
        print(f"accuracy {result.scores.accuracy:.4f} on the {total} labelled sequences")
    return 0


def _load_classifier(run: str) -> ClassifyTask:
    task_name = read_config(Path(run))["task"]
    if task_name != "classify":
        raise RnnkitError(
            f"{run} is a {task_name} run; predict needs a `rnnkit train classify` run"
        )
    _module, task, _config = load_run(run)
    return task


def _write_atomically(out: Path, ids: list[str], labels: list[str]) -> None:
    """Write to a hidden file beside `out`, then move it into place in one step."""
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        write_predictions(temp, ids, labels)
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
