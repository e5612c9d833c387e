"""Layer throughput: every rnnkit variant and backend against torch.nn's equivalent.

    python -m bench layers [--threads 2] [--repeats 7] [--device cuda] [--no-write]

For each shape (batch B, steps T, hidden H, layers L; input size H) and variant, every backend
that can run it and torch.nn's module (cuDNN on GPU) are timed in the same process, interleaved
round by round so that a busy machine slows them alike:

    train:      forward + backward of a fixed random projection of the outputs, tokens/s = B*T / s
    inference:  forward under torch.inference_mode, tokens/s = B*T / s

Each number is the median of the rounds after warm-up; ratio = rnnkit tokens/s / torch.nn's.
The table is printed and written to docs/BENCHMARKS.md with the machine (section "layers"),
followed by the TARGETS the run checks: those whose variant and backend it includes, with the
default shapes or when the target's shape is among --shapes; a target's shape that the table
lacks is measured for it (torch.nn and that backend only).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from unittest import mock

import torch
from torch import Tensor, nn

import rnnkit
from bench import machine, report
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
MATMUL = "fused, matmul GEMMs"

# Lowest training ratios to torch.nn, checked after the table: (variant, shape, backend, ratio).
TARGETS = (
    # The loop backend, which any cell runs on, within reach of a user's own eager loop (issue 14).
    ("lstm", (64, 100, 512, 1), "loop", 0.75),
)
TARGET_HEADER = [
    "B,T,H,L",
    "variant",
    "backend",
    "train ratio",
    "target",
    "met",
]  # the fused backend with torch's default matmul, for comparison


@dataclass
class Candidate:
    """One module to time: torch.nn's, or rnnkit's on one backend."""

    label: str
    module: nn.Module
    automatic: str = ""  # when rnnkit picks this backend by itself: "", "train", "infer", "both"
    gemms: Callable[[], object] = nullcontext  # context that sets the fused loop's products


@dataclass
class Timing:
    train: float  # seconds per forward + backward, median
    infer: float  # seconds per forward, median


def candidates(variant: str, shape: tuple[int, ...], device: str, only: set[str] | None):
    """torch.nn's module first, then rnnkit's network on each backend that can run it."""
    _, _, H, L = shape
    baseline = BASELINES[variant](H, H, L).to(device)
    found = [Candidate("torch.nn", baseline)]
    network = rnnkit.build_recurrent(variant, H, H, num_layers=L, batch_first=False).to(device)
    picks = {mode: network.automatic_backend(mode == "train") for mode in ("train", "infer")}
    available = network.available_backends()
    for backend in available:
        if only is None or backend in only:
            modes = [mode for mode, picked in picks.items() if picked == backend]
            automatic = "both" if len(modes) == 2 else "".join(modes)
            found.append(Candidate(backend, network, automatic))
    uses_onednn = onednn.prepare is onednn.onednn_product and device == "cpu"
    if uses_onednn and "fused" in available and (only is None or "fused" in only):
        to_matmul = lambda: mock.patch.object(onednn, "prepare", onednn.matmul_product)  # noqa: E731
        found.append(Candidate(MATMUL, network, gemms=to_matmul))
    return found


def run_once(candidate: Candidate, x: Tensor, probe: Tensor, train: bool) -> float:
    """Seconds for one forward (+ backward when training) of the candidate's module."""
    module = candidate.module
    if isinstance(module, RecurrentNetwork):
        module.backend = "fused" if candidate.label == MATMUL else candidate.label
    synchronize(x)
    start = time.perf_counter()
    with candidate.gemms():
        if train:
            output, _ = module(x)
            (output * probe).sum().backward()
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
    """Median seconds per candidate, rounds interleaved across candidates."""
    B, T, H, _ = shape
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, H, generator=generator).to(device)
    probe = torch.randn(T, B, H, generator=generator).to(device)
    times = {id(c): {True: [], False: []} for c in found}
    for round_ in range(warmup + repeats):
        for train in (True, False):
            for c in found:
                seconds = run_once(c, x, probe, train)
                if round_ >= warmup:
                    times[id(c)][train].append(seconds)
    return [
        Timing(statistics.median(times[id(c)][True]), statistics.median(times[id(c)][False]))
        for c in found
    ]


def rows_for(variant, shape, device, repeats, warmup, only) -> list[list[str]]:
    torch.manual_seed(0)
    found = candidates(variant, shape, device, only)
    timings = measure(found, shape, device, repeats, warmup)
    B, T = shape[0], shape[1]
    base = timings[0]
    rows = []
    for c, timing in zip(found, timings):
        label = c.label + {"": "", "both": " (auto)"}.get(c.automatic, f" (auto to {c.automatic})")
        rows.append(
            [
                ",".join(map(str, shape)),
                variant,
                label,
                f"{B * T / timing.train:,.0f}",
                f"{base.train / timing.train:.2f}",
                f"{B * T / timing.infer:,.0f}",
                f"{base.infer / timing.infer:.2f}",
            ]
        )
    return rows


HEADER = [
    "B,T,H,L",
    "variant",
    "backend",
    "train tok/s",
    "train ratio",
    "infer tok/s",
    "infer ratio",
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
    parser.add_argument("--variants", nargs="+", default=list(BASELINES), choices=list(BASELINES))
    parser.add_argument("--backends", nargs="+", default=None, help="only these rnnkit backends")
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
    rows = []
    for shape in args.shapes:
        for variant in args.variants:
            new = rows_for(variant, shape, args.device, args.repeats, args.warmup, only)
            print(report.text_table(HEADER, new), "\n", flush=True)
            rows += new
    checked = check_targets(rows, args, only)
    print(report.text_table(HEADER, rows))
    if checked:
        print("\ntargets (train ratio to torch.nn):\n" + report.text_table(TARGET_HEADER, checked))
    if not args.no_write:
        body = section(rows, checked, facts, args)
        print(f"\nwrote {report.write_section(args.section, body)}")
    return 0


def check_targets(
    rows: list[list[str]], args: argparse.Namespace, only: set[str] | None
) -> list[list[str]]:
    """One row per target this run checks; what `rows` lacks is measured and added to it."""
    checked = []
    for variant, shape, backend, target in targets_for(args, only):
        found = find_row(rows, variant, shape, backend)
        if found is None:
            new = rows_for(variant, shape, args.device, args.repeats, args.warmup, {backend})
            print(report.text_table(HEADER, new), "\n", flush=True)
            rows += new
            found = find_row(rows, variant, shape, backend)
        met = "yes" if float(found[4]) >= target else "no"
        checked.append([found[0], variant, backend, found[4], f">= {target}", met])
    return checked


def targets_for(args: argparse.Namespace, only: set[str] | None) -> list[tuple]:
    """The TARGETS this run checks (see the module docstring)."""
    default_shapes = args.shapes == SHAPES
    return [
        (variant, shape, backend, target)
        for variant, shape, backend, target in TARGETS
        if variant in args.variants
        and (only is None or backend in only)
        and (default_shapes or shape in args.shapes)
    ]


def find_row(rows: list[list[str]], variant: str, shape: tuple, backend: str) -> list[str] | None:
    """The table's row of `backend` (auto-picked or not) for this variant and shape."""
    name = ",".join(map(str, shape))
    for row in rows:
        if row[0] == name and row[1] == variant and row[2].split(" (")[0] == backend:
            return row
    return None


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
            "(auto) marks the backend a network picks by itself (to train or to infer, when those "
            "differ); variant `gru` is the lecture's "
            "GRU (reset before U_h), compared with torch.nn.GRU (reset after), which computes a "
            "different function at the same cost.",
            machine.markdown(facts),
            report.markdown_table(HEADER, rows),
            *targets,
        ]
    )
