"""Time-series classification on every dataset aeon ships: rnnkit beside MiniRocket and 1-NN DTW.

    python -m bench classify                       # rnnkit at --time 60s on every dataset
    python -m bench classify --seconds 30 --only GunPoint,ArrowHead
    python -m bench classify --defaults            # rnnkit with no flags at all (its step budget)
    python -m bench classify --variant "--conv 0" --variant "--pooling max" --only ArrowHead
    python -m bench classify --smoke               # UnitTest, a few seconds, nothing written
    python -m bench classify --only OSULeaf --seeds 3 --base="--conv 32" --variant="--ensemble 1"
                                                   # the mean of seeds 1-3; --base under each row

Data: each classification dataset aeon ships (rnnkit.data.series.aeon_names), with the UCR/UEA
archive's own train/test split. rnnkit runs exactly `rnnkit train classify aeon:NAME --time
60s` (the recipe, then the flags), so model selection sees the training part only, and the test
part is scored once, at the end, with the weights the run kept. MiniRocket (aeon's
MiniRocketClassifier) and 1-NN DTW (aeon's KNeighborsTimeSeriesClassifier, full warping window)
fit the same training part, read by aeon's own .ts reader; each is timed after a warm-up fit, so
numba's compilation is not counted. rnnkit trains in a process of its own, as a user runs it.
Everything runs on `--threads` CPU threads (default 1).

The tables are printed and written to docs/BENCHMARKS.md with the machine: section `classify`
(the time budget), `classify-defaults` (--defaults) or `classify-options` (--variant).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from bench import machine, report
from rnnkit.data.series import aeon_names, open_series
from rnnkit.data.series.aeon_data import aeon_dataset
from rnnkit.tasks.registry import load_run
from rnnkit.tasks.resample_trial import view_name


@dataclass
class Result:
    accuracy: float | None  # None: the method refused the dataset
    seconds: float
    note: str = ""  # why it refused, or the training steps

    def cell(self) -> str:
        if self.accuracy is None:
            return f"refuses ({self.note})"
        extra = f", {self.note}" if self.note else ""
        return f"{self.accuracy:.3f} ({self.seconds:.0f} s{extra})"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench classify", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="rnnkit's --time")
    parser.add_argument("--only", help="comma-separated dataset names (default: all)")
    parser.add_argument("--defaults", action="store_true", help="rnnkit with no flags at all")
    parser.add_argument(
        "--variant", action="append", default=[], help="rnnkit flags to compare (repeatable)"
    )
    parser.add_argument(
        "--base", default="", help="with --variant: flags of the first row, under every variant"
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for every method")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--seeds", type=int, default=1, help="with --variant: the mean over seeds SEED, SEED+1, ..."
    )
    parser.add_argument("--smoke", action="store_true", help="UnitTest, 3 s, nothing written")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    try:
        import aeon  # noqa: F401
    except ImportError:
        print("error: the baselines need aeon: pip install 'rnnkit[series]'", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    names = ["UnitTest"] if args.smoke else (args.only.split(",") if args.only else aeon_names())
    seconds = 3.0 if args.smoke else args.seconds
    facts = machine.describe()
    if args.variant:
        body = compare_variants(names, args, seconds)
        section = "classify-options"
    else:
        body = compare_methods(names, args, seconds)
        section = "classify-defaults" if args.defaults else "classify"
    if not (args.no_write or args.smoke):
        report.write_section(section, body.replace("{machine}", machine.markdown(facts)))
    return 0


# ---- the side-by-side table ---------------------------------------------------------------------


def compare_methods(names: list[str], args: argparse.Namespace, seconds: float) -> str:
    flags = [] if args.defaults else ["--time", f"{seconds:g}s"]
    header = ["dataset", "train/test", "length", "D", "K", "1-NN DTW", "MiniRocket", "rnnkit"]
    rows, results = [], {}
    for name in names:
        train, test = (open_series(f"aeon:{name}/{part}") for part in ("train", "test"))
        dtw, rocket = run_baselines(name, args.seed)
        ours = run_rnnkit(name, [*flags, "--seed", str(args.seed)], args.threads)
        results[name] = (dtw, rocket, ours)
        lengths = sorted({len(s) for s in train.sequences + test.sequences})
        shown = str(lengths[0]) if len(lengths) == 1 else f"{lengths[0]}-{lengths[-1]}"
        rows.append(
            [
                name,
                f"{len(train)}/{len(test)}",
                shown,
                str(train.num_features),
                str(len(set(train.labels))),
                dtw.cell(),
                rocket.cell(),
                ours.cell(),
            ]
        )
        print(report.text_table(header, rows[-1:]), flush=True)
    print(report.text_table(header, rows))
    verdict = summary(results)
    print("\n".join(verdict))
    what = "no flags at all" if args.defaults else f"`--time {seconds:g}s`"
    return "\n\n".join(
        [
            f"## Classification: rnnkit ({what}) beside MiniRocket and 1-NN DTW "
            f"(`python -m bench classify{' --defaults' if args.defaults else ''}`)",
            "{machine}",
            f"Test accuracy on the archive's own split (seconds of fitting in brackets, rnnkit's "
            f"with its optimiser steps); every method on {args.threads} CPU thread(s), seed "
            f"{args.seed}. rnnkit: `{' '.join(['rnnkit train classify aeon:NAME', *flags])}`, "
            "the test part scored once with the weights the run kept; its seconds are the whole "
            "command's (start-up and reading the data too; `--time` counts training only). D: "
            "features per step; K: classes. Wall-clock times on a shared machine are noisy.",
            report.markdown_table(header, rows),
            "\n".join(f"- {line}" for line in verdict),
        ]
    )


def summary(results: dict[str, tuple[Result, Result, Result]]) -> list[str]:
    """The targets of issue 22, computed from the results."""
    beat = [n for n, (dtw, _, ours) in results.items() if ours.accuracy >= dtw.accuracy]
    lines = [f"rnnkit at or above 1-NN DTW on {len(beat)} of {len(results)} datasets"]
    behind = [n for n in results if n not in beat]
    if behind:
        lines[-1] += f" (below on {', '.join(behind)})"
    both = {n: r for n, r in results.items() if r[1].accuracy is not None}
    if both:
        rocket = statistics.mean(r[1].accuracy for r in both.values())
        ours = statistics.mean(r[2].accuracy for r in both.values())
        lines.append(
            f"mean accuracy over the {len(both)} datasets MiniRocket runs on: rnnkit "
            f"{ours:.3f}, MiniRocket {rocket:.3f} (difference {ours - rocket:+.3f})"
        )
    refused = [n for n in results if n not in both]
    for name in refused:
        ours, dtw = results[name][2].accuracy, results[name][0].accuracy
        lines.append(f"{name}: MiniRocket refuses it; rnnkit {ours:.3f}, 1-NN DTW {dtw:.3f}")
    return lines


# ---- the three methods ------------------------------------------------------------------------


def run_rnnkit(name: str, flags: list[str], threads: int) -> Result:
    """`rnnkit train classify aeon:NAME FLAGS` in a process of its own (as a user runs it, and
    clear of the thread pools numba leaves behind), then the test part scored here."""
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        argv = ["train", "classify", f"aeon:{name}", "--out", str(run), "--no-progress", *flags]
        command = [sys.executable, "-m", "rnnkit", *argv]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=threads_env(threads))
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{shlex.join(command)} failed:\n{done.stderr}")
        with contextlib.redirect_stdout(io.StringIO()):
            metrics = load_run(run).score("test")
        steps = int((run / "metrics.csv").read_text().splitlines()[-1].split(",")[0])
        data = json.loads((run / "config.json").read_text())["task_config"]["data"]
    note = f"{steps} steps"
    if data.get("trial"):  # --resample 0 chose how to read series of different lengths
        note += f", trial: {view_name(data['resample'])}"
    return Result(metrics["accuracy"], seconds, note)


def threads_env(threads: int) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def run_baselines(name: str, seed: int) -> tuple[Result, Result]:
    """1-NN DTW and MiniRocket, fitted on the training part and scored on the test part."""
    from aeon.classification.convolution_based import MiniRocketClassifier
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
    from aeon.datasets import load_from_ts_file

    folder = aeon_dataset(name)
    X, y = load_from_ts_file(str(folder / f"{name}_TRAIN.ts"))
    X_test, y_test = load_from_ts_file(str(folder / f"{name}_TEST.ts"))
    dtw = KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1)
    rocket = MiniRocketClassifier(random_state=seed)
    return fit_and_score(dtw, X, y, X_test, y_test), fit_and_score(rocket, X, y, X_test, y_test)


def fit_and_score(classifier, X, y, X_test, y_test) -> Result:
    """Accuracy and fitting-plus-predicting seconds, after an untimed warm-up (a fit and two
    predictions, which compile numba's kernels)."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            classifier.fit(X, y).predict(X_test[:2])
            start = time.perf_counter()
            predicted = classifier.fit(X, y).predict(X_test)
    except ValueError as error:
        reason = "unequal lengths" if "unequal length" in str(error) else str(error)[:60]
        return Result(None, 0.0, reason)
    accuracy = float((predicted == y_test).mean())
    return Result(accuracy, time.perf_counter() - start)


# ---- options, one at a time ---------------------------------------------------------------------


def compare_variants(names: list[str], args: argparse.Namespace, seconds: float) -> str:
    """rnnkit's recipe, then each --variant's flags on top, at the same time budget."""
    variants = ["", *args.variant]
    header = ["flags beside the recipe", *names, "mean"]
    rows = []
    seeds = range(args.seed, args.seed + args.seeds)
    for variant in variants:
        accuracies = []
        for name in names:
            scores = []
            for seed in seeds:
                given = shlex.split(args.base) + shlex.split(variant)
                flags = ["--time", f"{seconds:g}s", "--seed", str(seed), *given]
                result = run_rnnkit(name, flags, args.threads)
                print(f"  {name}, seed {seed}: {result.cell()}", flush=True)
                scores.append(result.accuracy)
            accuracies.append(statistics.mean(scores))
        rows.append(
            [
                f"`{variant or args.base}`" if variant or args.base else "(none: the recipe)",
                *(f"{a:.3f}" for a in accuracies),
                f"{statistics.mean(accuracies):.3f}",
            ]
        )
        print(report.text_table(header, rows[-1:]), flush=True)
    print(report.text_table(header, rows))
    return "\n\n".join(
        [
            "## Classification: rnnkit's options one at a time "
            "(`python -m bench classify --variant ...`)",
            "{machine}",
            f"Test accuracy of `rnnkit train classify aeon:NAME --time {seconds:g}s --seed S` "
            f"and the flags of each row, on {args.threads} CPU thread(s), the mean over seeds "
            f"S = {', '.join(map(str, seeds))}. On datasets of 36 to 200 training series, "
            "differences of a few points are within the noise of a single run.",
            report.markdown_table(header, rows),
        ]
    )
