"""Layer throughput: every rnnkit variant and backend against torch.nn's equivalent.

    python -m bench layers [--threads 2] [--repeats 7] [--device cuda] [--no-write]
    python -m bench layers --variants lstm lstm+layer_norm     # some variants only

For each shape (batch B, steps T, hidden H, layers L; input size H) and variant, every backend
that can run it and torch.nn's module (cuDNN on GPU) are timed in the same process, interleaved
round by round so that a busy machine slows them alike, each round in another order (the
candidates rotated by one): a call runs slower or faster after some calls than after others,
and in a fixed order that landed on the same candidate in every round (measured on an Intel
Xeon, 2 threads: torch.nn.LSTM timed first in each round trained at 0.81 of the speed of the
very same kernel timed second, "native", and the fused LSTM timed after native at 0.88 of its
speed after torch.nn).

    train:      forward + backward of a fixed random projection of the outputs, tokens/s = B*T / s
    inference:  forward under torch.inference_mode, tokens/s = B*T / s

Each mode is timed in runs of calls one after another, as a model runs step after step: a run
of TRAIN_CALLS training calls, then one of INFER_CALLS inference calls, per candidate and round.
"train" and "infer" are the mean of a run's calls after the first, "first train" and "first
infer" its first call, after another candidate's calls (with only two candidates, a round's
first training run follows its own inference run of the round before). That first call costs
more, rnnkit's more than torch.nn's: the input product W x_t of a whole sequence (4 MB at
(32,64,128)) is written into memory that another model's work pushed out of the CPU's caches
(MKL's, oneDNN's and torch.mm's product alike took 1.4-1.7x as long after a call of the loop
backend or of torch.nn.LSTM as right after another such product, Intel Xeon, 2 threads); the
fused LSTM's training at (32,64,128,2) ran its first call at 0.89-0.92 of torch.nn.LSTM's speed
and the next ones at 0.99-1.00 (in a training loop with AdamW's step between calls, 1.19-1.33).

Variants are the cells (as `rnnkit train --cell` spells them) and the LSTM with each of its
options (lstm+layer_norm, ...: OPTION_VARIANTS), whose baseline is torch.nn.LSTM without them:
what the option costs against the fastest plain LSTM there is; likewise the lecture's GRU with
layer norm and with zoneout against torch.nn.GRU (rows without targets: issue 14's are the
LSTM's). The layer-norm LSTM is also timed
as a user writes it in eager PyTorch (bench/eager.py, "eager LayerNorm loop").

Each number is the median of the rounds after warm-up; ratio = rnnkit tokens/s / torch.nn's.
The table is printed and written to docs/BENCHMARKS.md with the machine (section "layers"),
followed by the TARGETS the run checks: those whose variant and backends it includes, with the
default shapes or when the target's shape is among --shapes; a target's shape that the table
lacks is measured for it (the baseline, the backend and what the target compares it with).
A target's backend "auto" is the one the network picks by itself for the target's mode.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, fields
from unittest import mock

import torch
from torch import Tensor, nn

import rnnkit
from bench import eager, machine, report
from rnnkit.backends import onednn
from rnnkit.layers import RecurrentNetwork

SHAPES = ((64, 100, 512, 2), (32, 64, 128, 2), (16, 200, 256, 1))

# Variant (as `rnnkit train --cell` spells it) -> torch.nn's module for the same job.
BASELINES: dict[str, Callable[..., nn.Module]] = {
    "lstm": nn.LSTM,
    "gru": nn.GRU,  # the lecture's GRU (reset before U_h): torch has only reset after
    "gru-after": nn.GRU,
    "rnn": nn.RNN,
}
# A cell with one option (rnnkit/cells/options.py), "cell+option" -> its options at hidden size
# H; the baseline is the cell's torch.nn module without it.
OPTION_VARIANTS: dict[str, Callable[[int], dict]] = {
    "lstm+layer_norm": lambda H: {"layer_norm": True},
    "lstm+recurrent_dropout": lambda H: {"recurrent_dropout": 0.25},
    "lstm+weight_dropout": lambda H: {"weight_dropout": 0.5},
    "lstm+locked_dropout": lambda H: {"input_dropout": 0.25, "output_dropout": 0.25},
    "lstm+zoneout": lambda H: {"zoneout": 0.1, "zoneout_c": 0.1},
    "lstm+proj": lambda H: {"proj_size": H // 2},
    "gru+layer_norm": lambda H: {"layer_norm": True},
    "gru+zoneout": lambda H: {"zoneout": 0.1},
}
VARIANTS = [*BASELINES, *OPTION_VARIANTS]
MATMUL = "fused, matmul GEMMs"  # the fused backend with torch's default matmul, for comparison
EAGER = "eager LayerNorm loop"  # bench/eager.py: the layer-norm LSTM a user writes


@dataclass(frozen=True)
class Target:
    """The lowest ratio of `backend`'s tokens/s to `against`'s, in `mode`, at `shape`."""

    variant: str
    shape: tuple[int, ...]
    backend: str  # a backend, or "auto": the network's own pick for `mode`
    ratio: float
    against: str = "torch.nn"
    mode: str = "train"


def _issue_14_targets() -> list[Target]:
    """Issue 14: the fused plain LSTM >= 0.9 of torch.nn.LSTM; each option on its fast path
    >= 0.75 of torch.nn.LSTM without it and >= 3 times the loop backend with it; inference with
    an option >= 0.9 of the plain network's (torch.nn.LSTM's kernel, which the plain rnnkit.LSTM
    runs); the layer-norm LSTM >= 1.5 times a user's eager one."""
    targets = [Target("lstm", shape, "fused", 0.9) for shape in SHAPES]
    for variant in (v for v in OPTION_VARIANTS if v.startswith("lstm+")):
        for shape in SHAPES:
            targets += [
                Target(variant, shape, "auto", 0.75),
                Target(variant, shape, "auto", 3.0, against="loop"),
                Target(variant, shape, "auto", 0.9, mode="infer"),
            ]
    return targets + [Target("lstm+layer_norm", shape, "auto", 1.5, EAGER) for shape in SHAPES]


# Checked after the table.
TARGETS = (
    # The loop backend, which any cell runs on, within reach of a user's own eager loop (issue 14).
    Target("lstm", (64, 100, 512, 1), "loop", 0.75),
    *_issue_14_targets(),
)
TARGET_HEADER = ["B,T,H,L", "variant", "backend", "mode", "against", "ratio", "target", "met"]


@dataclass
class Candidate:
    """One module to time: torch.nn's, or rnnkit's on one backend."""

    label: str
    module: nn.Module
    automatic: str = ""  # when rnnkit picks this backend by itself: "", "train", "infer", "both"
    gemms: Callable[[], object] = nullcontext  # context that sets the fused loop's products
    modes: tuple[str, ...] = ("train", "infer")  # what it can run: native runs a network with
    # dropout options only in evaluation


# Calls in a row per candidate, mode and round: the first, then the steady ones (so at least 2).
TRAIN_CALLS = 2
INFER_CALLS = 4


@dataclass
class Timing:
    train: float  # seconds per forward + backward after the first of a run (its mean), median
    infer: float  # seconds per forward after the first of a run (the run's mean), median
    first_train: float  # seconds of a run's first forward + backward, median
    first_infer: float  # seconds of a run's first forward, median


def candidates(variant: str, shape: tuple[int, ...], device: str, only: set[str] | None):
    """torch.nn's module first, then rnnkit's network on each backend that can run it (and, for
    the layer-norm LSTM, the eager one); `only` keeps some of them (torch.nn always)."""
    _, _, H, L = shape
    cell, options = _cell_and_options(variant, H)
    baseline = BASELINES[cell](H, H, L).to(device)
    found = [Candidate("torch.nn", baseline)]
    network = rnnkit.build_recurrent(cell, H, H, num_layers=L, batch_first=False, **options)
    network.to(device)
    # Each mode as it is really run: training in train mode, inference in eval mode.
    picks = {"train": network.train().automatic_backend(True)}
    runs = {"train": network.available_backends()}
    picks["infer"] = network.eval().automatic_backend(False)
    runs["infer"] = network.available_backends()
    available = [b for b in ("native", "fused", "loop") if b in runs["train"] + runs["infer"]]
    for backend in available:
        if only is None or backend in only:
            modes = [mode for mode, picked in picks.items() if picked == backend]
            automatic = "both" if len(modes) == 2 else "".join(modes)
            can = tuple(mode for mode in ("train", "infer") if backend in runs[mode])
            found.append(Candidate(backend, network, automatic, modes=can))
    uses_onednn = onednn.prepare is onednn.onednn_product and device == "cpu"
    if uses_onednn and not options and "fused" in available and (only is None or "fused" in only):
        to_matmul = lambda: mock.patch.object(onednn, "prepare", onednn.matmul_product)  # noqa: E731
        found.append(Candidate(MATMUL, network, gemms=to_matmul))
    if cell == "lstm" and options.get("layer_norm") and (only is None or EAGER in only):
        found.append(Candidate(EAGER, eager.LayerNormLSTM(H, H, L).to(device)))
    return found


def _cell_and_options(variant: str, hidden_size: int) -> tuple[str, dict]:
    if variant in OPTION_VARIANTS:
        return variant.partition("+")[0], OPTION_VARIANTS[variant](hidden_size)
    return variant, {}


def run_once(candidate: Candidate, x: Tensor, probe: Tensor, train: bool) -> float:
    """Seconds for one forward (+ backward when training, in train mode; in eval mode otherwise)
    of the candidate's module; nan for a mode its backend cannot run."""
    module = candidate.module.train(train)
    if ("train" if train else "infer") not in candidate.modes:
        return float("nan")
    if isinstance(module, RecurrentNetwork):
        module.backend = "fused" if candidate.label == MATMUL else candidate.label
    synchronize(x)
    start = time.perf_counter()
    with candidate.gemms():
        if train:
            output, _ = module(x)
            (output * probe[..., : output.shape[-1]]).sum().backward()
        else:
            with torch.inference_mode():
                module(x)
    synchronize(x)
    elapsed = time.perf_counter() - start
    module.zero_grad(set_to_none=True)
    return elapsed


def synchronize(x: Tensor) -> None:
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)


def measure(found: list[Candidate], shape, device: str, repeats: int, warmup: int):
    """Median seconds per candidate, rounds interleaved across candidates (in rotated order)."""
    B, T, H, _ = shape
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, H, generator=generator).to(device)
    probe = torch.randn(T, B, H, generator=generator).to(device)
    times = {id(c): {field.name: [] for field in fields(Timing)} for c in found}
    for round_ in range(warmup + repeats):
        order = found[round_ % len(found) :] + found[: round_ % len(found)]
        for mode, calls in (("train", TRAIN_CALLS), ("infer", INFER_CALLS)):
            for c in order:
                first, *steady = (run_once(c, x, probe, mode == "train") for _ in range(calls))
                if round_ >= warmup:
                    times[id(c)][f"first_{mode}"].append(first)
                    times[id(c)][mode].append(statistics.mean(steady))
    return [Timing(**{k: statistics.median(v) for k, v in times[id(c)].items()}) for c in found]


# What a run measured: (shape, variant, label) -> the timing; "auto to train" / "auto to infer"
# -> the label of the backend picked for that mode.
Measured = dict[tuple[tuple[int, ...], str, str], "Timing | str"]


def rows_for(variant, shape, device, repeats, warmup, only, measured: Measured):
    """The table's rows for one variant at one shape, each timing also kept in `measured`."""
    torch.manual_seed(0)
    found = candidates(variant, shape, device, only)
    timings = measure(found, shape, device, repeats, warmup)
    B, T = shape[0], shape[1]
    base = timings[0]
    rows = []
    for c, timing in zip(found, timings):
        measured[shape, variant, c.label] = timing
        for mode in ("train", "infer"):
            if c.automatic in (mode, "both"):
                measured[shape, variant, f"auto to {mode}"] = c.label
        label = c.label + {"": "", "both": " (auto)"}.get(c.automatic, f" (auto to {c.automatic})")
        rows.append(
            [
                ",".join(map(str, shape)),
                variant,
                label,
                f"{B * T / timing.train:,.0f}",
                f"{base.train / timing.train:.2f}",
                f"{base.first_train / timing.first_train:.2f}",
                f"{B * T / timing.infer:,.0f}",
                f"{base.infer / timing.infer:.2f}",
                f"{base.first_infer / timing.first_infer:.2f}",
            ]
        )
    return rows


HEADER = [
    "B,T,H,L",
    "variant",
    "backend",
    "train tok/s",
    "train ratio",
    "first train ratio",
    "infer tok/s",
    "infer ratio",
    "first infer ratio",
]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench layers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per candidate")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument(
        "--shapes", nargs="+", default=None, metavar="B,T,H,L", help=f"default: {SHAPES}"
    )
    parser.add_argument("--variants", nargs="+", default=VARIANTS, choices=VARIANTS)
    parser.add_argument(
        "--backends", nargs="+", default=None, help=f"only these rnnkit backends (or {EAGER!r})"
    )
    parser.add_argument("--no-write", action="store_true", help="print only, keep BENCHMARKS.md")
    parser.add_argument(
        "--section", default="layers", help="BENCHMARKS.md section to write (another keeps both)"
    )
    args = parser.parse_args(argv)
    try:
        args.shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes or []] or SHAPES
    except ValueError:
        parser.error("--shapes takes B,T,H,L groups of four integers, e.g. 64,100,512,2")
    if any(len(shape) != 4 for shape in args.shapes):
        parser.error("--shapes takes B,T,H,L groups of four integers, e.g. 64,100,512,2")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    only = set(args.backends) if args.backends else None
    facts = machine.describe(args.device)
    print(machine.markdown(facts), flush=True)
    rows: list[list[str]] = []
    measured: Measured = {}
    for shape in args.shapes:
        for variant in args.variants:
            new = rows_for(variant, shape, args.device, args.repeats, args.warmup, only, measured)
            print(report.text_table(HEADER, new), "\n", flush=True)
            rows += new
    checked = check_targets(rows, measured, args, only)
    print(report.text_table(HEADER, rows))
    if checked:
        print("\ntargets (ratio of tokens/s):\n" + report.text_table(TARGET_HEADER, checked))
    if not args.no_write:
        body = section(rows, checked, facts, args)
        print(f"\nwrote {report.write_section(args.section, body)}")
    return 0


def check_targets(
    rows: list[list[str]], measured: Measured, args: argparse.Namespace, only: set[str] | None
) -> list[list[str]]:
    """One row per target this run checks; what the run lacks is measured (rows and `measured`
    grow)."""
    checked = []
    for target in targets_for(args, only):
        if not _has(measured, target):
            # "auto": every backend, to know which one the network picks
            needed = None if target.backend == "auto" else {target.backend, target.against}
            new = rows_for(
                target.variant,
                target.shape,
                args.device,
                args.repeats,
                args.warmup,
                needed,
                measured,
            )
            print(report.text_table(HEADER, new), "\n", flush=True)
            rows += new
        backend = _resolve(measured, target)
        ratio = _ratio(measured, target, backend)
        met = "yes" if ratio >= target.ratio else "no"
        checked.append(
            [
                ",".join(map(str, target.shape)),
                target.variant,
                backend if target.backend != "auto" else f"{backend} (auto)",
                target.mode,
                target.against,
                f"{ratio:.2f}",
                f">= {target.ratio}",
                met,
            ]
        )
    return checked


def _resolve(measured: Measured, target: Target) -> str:
    """The target's backend, "auto" replaced by the label of the backend the network picked."""
    if target.backend != "auto":
        return target.backend
    return measured[target.shape, target.variant, f"auto to {target.mode}"]


def _has(measured: Measured, target: Target) -> bool:
    key = (target.shape, target.variant)
    if target.backend == "auto" and (*key, f"auto to {target.mode}") not in measured:
        return False
    return all((*key, label) in measured for label in (_resolve(measured, target), target.against))


def _ratio(measured: Measured, target: Target, backend: str) -> float:
    """tokens/s of `backend` over tokens/s of `against` = the inverse ratio of their seconds."""
    key = (target.shape, target.variant)
    mine, theirs = measured[(*key, backend)], measured[(*key, target.against)]
    return getattr(theirs, target.mode) / getattr(mine, target.mode)


def targets_for(args: argparse.Namespace, only: set[str] | None) -> list[Target]:
    """The TARGETS this run checks (see the module docstring)."""
    default_shapes = args.shapes == SHAPES
    return [
        target
        for target in TARGETS
        if target.variant in args.variants
        and (only is None or {target.backend, target.against} - {"torch.nn"} <= only)
        and (default_shapes or target.shape in args.shapes)
    ]


def section(
    rows: list[list[str]], checked: list[list[str]], facts: dict[str, str], args: argparse.Namespace
) -> str:
    targets = [report.markdown_table(TARGET_HEADER, checked)] if checked else []
    return "\n\n".join(
        [
            f"## Layers: rnnkit against torch.nn, {torch.get_num_threads()} thread(s)",
            f"`python -m bench layers` on {args.device}: median of {args.repeats} interleaved "
            f"rounds after {args.warmup} warm-up; tokens/s = B*T per second; ratio = rnnkit / "
            "torch.nn (above 1: rnnkit faster). Train = forward + backward; input size = H. "
            f"Each round runs {TRAIN_CALLS} training calls in a row per candidate, then "
            f"{INFER_CALLS} inference calls: train and infer are the mean of those after the "
            "first; first train and first infer the first, after another candidate's "
            "(bench/layers.py). "
            "(auto) marks the backend a network picks by itself (to train or to infer, when those "
            "differ); variant `gru` is the lecture's "
            "GRU (reset before U_h), compared with torch.nn.GRU (reset after), which computes a "
            "different function at the same cost.",
            machine.markdown(facts),
            report.markdown_table(HEADER, rows),
            *targets,
        ]
    )
