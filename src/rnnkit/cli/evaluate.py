"""`rnnkit evaluate RUN [DATA] [--generated DIR] [--cache N] [--confusion FILE.png]`: a run's
best model on any data.

The last line holds the numbers. Without DATA, the model is scored on a split of the run's own
data (test, or the split named: train, valid, test), where the run keeps one; a music run's
`--generated DIR` compares the pieces in DIR with its training data (no loss); a text run's
`--cache N` scores the model mixed with a continuous cache of the last N tokens (models/cache.py);
a classify run's `--confusion FILE.png` draws the confusion matrix it prints. Nothing else is
written.
"""

from __future__ import annotations

import argparse

from rnnkit.cli.outputs import check_file
from rnnkit.devices import add_device_argument
from rnnkit.errors import RnnkitError
from rnnkit.models.cache import LAMBDA, THETA, CacheSettings
from rnnkit.tasks.classify import ClassifyTask
from rnnkit.tasks.registry import load_run
from rnnkit.tasks.text import TextTask
from rnnkit.train.task import GeneratesMusic
from rnnkit.values import COUNT, NON_NEGATIVE, SHARE, path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained model on data",
        description="Loss of a run's best model on DATA or on a split of its own data (and bits "
        "per character, perplexity or accuracy, as the task reports them).",
    )
    parser.add_argument("run_dir", metavar="RUN", help="the run folder (rnnkit train --out)")
    parser.add_argument(
        "data",
        metavar="DATA",
        nargs="?",
        default=None,
        help="a file or folder to evaluate on, or train / valid / test: that split of the run's "
        "own data (default: test)",
    )
    parser.add_argument(
        "--generated",
        metavar="DIR",
        help="music: statistics of the pieces in DIR beside the training data",
    )
    parser.add_argument(
        "--cache",
        metavar="N",
        type=COUNT.parse,
        default=0,
        help="text: mix the model's predictions with a continuous cache of the last N tokens "
        "read (Grave et al. 2017; e.g. 1000); 0 = the model alone",
    )
    parser.add_argument(
        "--cache-theta",
        type=NON_NEGATIVE.parse,
        default=THETA,
        help=f"the cache's θ (default {THETA})",
    )
    parser.add_argument(
        "--cache-lambda", type=SHARE.parse, default=LAMBDA, help=f"the cache's λ (default {LAMBDA})"
    )
    parser.add_argument(
        "--confusion",
        metavar="FILE.png",
        type=path,
        help="classify: draw the confusion matrix as a heat map in FILE.png",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing FILE.png")
    add_device_argument(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.confusion is not None:  # before any work
        check_file(args.confusion, args.force, "--confusion", (".png",))
    elif args.force:
        raise RnnkitError("--force replaces the --confusion file: give --confusion FILE.png too")
    task = load_run(args.run_dir, args.device)
    if args.confusion is not None and not isinstance(task, ClassifyTask):
        raise RnnkitError(
            f"--confusion draws a classify run's confusion matrix; {args.run_dir} holds a "
            f"{task.name} model"
        )
    if args.generated is not None:
        if not isinstance(task, GeneratesMusic):
            raise RnnkitError(
                f"--generated compares generated music with a music run's data; {args.run_dir} "
                f"holds a {task.name} model"
            )
        metrics = task.compare_generated(args.generated)
    elif args.cache:
        if not isinstance(task, TextTask):
            raise RnnkitError(f"--cache is for text runs; {args.run_dir} holds a {task.name} model")
        cache = CacheSettings(args.cache, args.cache_theta, args.cache_lambda)
        metrics = task.score(args.data, cache)
    elif isinstance(task, ClassifyTask):
        metrics = task.score(args.data, args.confusion)
    else:
        metrics = task.score(args.data)
    print(f"{args.run_dir} on {args.generated or args.data or 'its test split'}:")
    print(
        "  ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
        )
    )
    return 0
