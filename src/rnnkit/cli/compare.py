"""`rnnkit compare --out DIR [--html] [--budget STEPS] [--seeds N] [--seed S] [--jobs N] [--quick]
[--resume] [--lang vi]`: RNN vs LSTM vs GRU, measured here.

Runs the study of rnnkit.studies.compare (gradient flow, memory over a distance, parameter counts)
and writes its tables, plots and verdict into DIR (see rnnkit.studies.report); with --html also
DIR/results.html, all of it as one self-contained page. Each model is kept in DIR/pieces/ as it
finishes, until the report is written (studies/saved_pieces.py): after Ctrl-C, the same command
with --resume goes on.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys

from rnnkit.cli.language import lang_value
from rnnkit.cli.outputs import check_folder
from rnnkit.errors import RnnkitError
from rnnkit.studies.compare import CompareConfig, run_compare
from rnnkit.studies.report import PAGE, write_report
from rnnkit.studies.saved_pieces import SavedPieces, holds_study
from rnnkit.studies.verdict import LANGS
from rnnkit.values import COUNT, POSITIVE_INT, path

DEFAULT = CompareConfig()
QUICK = CompareConfig.quick()
MOST_SEEDS = 1000


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "compare",
        help="compare RNN, LSTM and GRU: gradient flow, memory over a distance, weights",
        description="Train RNN, LSTM and GRU on the adding problem and copy memory at several "
        "lags with the same budget on several seeds, measure gradient flow, and write tables, "
        "plots and a verdict (English and Vietnamese). The default needs about 8 CPU-minutes: "
        "4 minutes on 2 idle CPU cores.",
    )
    parser.add_argument("--out", type=path, required=True, help="folder for tables and plots")
    parser.add_argument(
        "--force", action="store_true", help="write into a folder that is not empty"
    )
    parser.add_argument(
        "--html", action="store_true", help=f"also write OUT/{PAGE}: everything as one page"
    )
    parser.add_argument(
        "--budget",
        type=POSITIVE_INT.parse,
        metavar="STEPS",
        help=f"Adam steps per cell, task, lag and seed (default {DEFAULT.steps}; "
        f"--quick {QUICK.steps})",
    )
    parser.add_argument(
        "--seeds",
        type=POSITIVE_INT.parse,
        metavar="N",
        help=f"how many seeds, each its own weights and data (default {len(DEFAULT.seeds)}; "
        f"--quick {len(QUICK.seeds)})",
    )
    parser.add_argument(
        "--seed",
        type=COUNT.parse,
        default=0,
        metavar="S",
        help="the first seed; the others follow (default 0)",
    )
    parser.add_argument(
        "--jobs",
        type=POSITIVE_INT.parse,
        metavar="N",
        help="models trained at once, each in its own process with one thread (default: one "
        "per CPU core; --quick 1)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a seconds-long run that only checks the pipeline"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with the study interrupted in --out: give the flags it ran with",
    )
    parser.add_argument(
        "--lang",
        type=lang_value,
        choices=LANGS,
        default="en",
        help="the verdict and messages printed: en (default) or vi (Tiếng Việt); the report in "
        "--out has both",
    )
    return parser


# What the command prints besides the study's own lines, in each language of --lang.
WORDS = {
    "en": {
        "earlier": "models finished by the earlier run: {count}, read from {folder}",
        "interrupted": "interrupted: the finished models are kept in {folder}; the same command "
        "with --resume goes on from there",
        "written": "tables and plots in {out}",
        "page": ", the page in {page}",
    },
    "vi": {
        "earlier": "{count} mô hình đã xong từ lần chạy trước, đọc từ {folder}",
        "interrupted": "đã dừng: các mô hình đã xong được giữ trong {folder}; chạy lại đúng "
        "lệnh đó với --resume để tiếp tục",
        "written": "bảng và biểu đồ trong {out}",
        "page": ", trang HTML trong {page}",
    },
}


def run(args: argparse.Namespace) -> int:
    config = QUICK if args.quick else DEFAULT
    count = args.seeds or len(config.seeds)
    if count > MOST_SEEDS:  # each seed is a whole study: more would never finish
        raise RnnkitError(
            f"--seeds must be at most {MOST_SEEDS}, got {count}",
            f"--seeds phải nhiều nhất là {MOST_SEEDS}, nhận được {count}",
        )
    if holds_study(args.out) and not (args.resume or args.force):
        raise RnnkitError(
            f"{args.out} holds an interrupted study: add --resume to go on (--force starts it "
            "again, discarding the models it finished)",
            f"{args.out} chứa một nghiên cứu đang dở: thêm --resume để tiếp tục (--force sẽ chạy "
            "lại từ đầu, bỏ các mô hình đã xong)",
        )
    check_folder(args.out, args.force or args.resume)
    config = dataclasses.replace(
        config,
        steps=args.budget or config.steps,
        seeds=tuple(range(args.seed, args.seed + count)),
    )
    saved = SavedPieces(args.out, config)
    done = saved.load() if args.resume else {}  # (before anything is written)
    if not args.resume:
        saved.start()
    jobs = args.jobs or (1 if args.quick else cores())
    print(f"compare: {config}, {jobs} job(s)", flush=True)
    words = WORDS[args.lang]
    if done:
        print(words["earlier"].format(count=len(done), folder=saved.folder))
    try:
        results = run_compare(
            config, lambda line: print(line, flush=True), jobs, done=done, keep=saved.save
        )
    except KeyboardInterrupt:
        print(words["interrupted"].format(folder=saved.folder), file=sys.stderr)
        return 130
    command = spelled(args, config, jobs)
    print(write_report(results, args.out, command, html=args.html, lang=args.lang))
    saved.remove()  # (the tables hold everything they held)
    page = words["page"].format(page=args.out / PAGE) if args.html else ""
    print(words["written"].format(out=args.out) + page)
    return 0


def cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def spelled(args: argparse.Namespace, config: CompareConfig, jobs: int) -> str:
    """The command line that repeats this run, every setting spelled out."""
    words = ["rnnkit", "compare", "--out", str(args.out)]
    words += ["--quick"] * args.quick + ["--html"] * args.html
    words += ["--budget", str(config.steps), "--seeds", str(len(config.seeds))]
    words += ["--seed", str(args.seed), "--jobs", str(jobs)]
    return shlex.join(words)
