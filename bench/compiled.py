"""torch.compile against eager: one training step of each network on its automatic backend.

    python -m bench compiled [--shapes 32,64,128,2] [--variants lstm gru] [--repeats 7]

For each shape (batch B, steps T, hidden H, layers L; input size H) and variant, the network is
compiled (torch.compile, default mode) and its first call timed (wall time): compile time, which a
new input shape pays again, shorter when Inductor's cache on disk holds the graphs. Then the
compiled and the eager network run a training step (forward and backward of a fixed random
projection of the outputs) in alternation, round by round, so that a busy machine slows both
alike; times are this process's CPU time (the project's machine is shared: wall time there
measures the other jobs too; with OMP_NUM_THREADS=1, as docs/BENCHMARKS.md's run, idle threads
spin no CPU time in), and the ratio is eager's median over compiled's (above 1: the compiled step
is faster). Written to docs/BENCHMARKS.md, section "compiled".
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

import rnnkit
from bench import machine, report

SHAPES = ((32, 64, 128, 2), (16, 200, 256, 1))
VARIANTS = {
    "lstm": lambda H, L: rnnkit.LSTM(H, H, L),
    "gru": lambda H, L: rnnkit.GRU(H, H, L),
    "gru-after": lambda H, L: rnnkit.GRU(H, H, L, reset="after"),
    "rnn": lambda H, L: rnnkit.RNN(H, H, L),
    "lstm+layer_norm": lambda H, L: rnnkit.LSTM(H, H, L, layer_norm=True),
}


def training_step(network, x: torch.Tensor, probe: torch.Tensor) -> float:
    start = time.process_time()
    (network(x)[0] * probe).sum().backward()
    return time.process_time() - start


def measure(variant: str, shape: tuple[int, ...], repeats: int) -> list[str]:
    B, T, H, L = shape
    torch.manual_seed(0)
    eager = VARIANTS[variant](H, L).train()
    compiled = torch.compile(eager)
    x, probe = torch.randn(T, B, H), torch.randn(T, B, H)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        training_step(compiled, x, probe)
        compile_seconds = time.perf_counter() - start  # wall time: compiling waits on files too
        times = {"eager": [], "compiled": []}
        training_step(eager, x, probe)
        for _ in range(repeats):
            times["eager"].append(training_step(eager, x, probe))
            times["compiled"].append(training_step(compiled, x, probe))
    eager_s, compiled_s = (statistics.median(times[k]) for k in ("eager", "compiled"))
    return [
        ",".join(map(str, shape)),
        variant,
        eager.automatic_backend(training=True),
        f"{compile_seconds:.1f}",
        f"{eager_s * 1e3:.1f}",
        f"{compiled_s * 1e3:.1f}",
        f"{eager_s / compiled_s:.2f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench compiled", description=__doc__)
    parser.add_argument("--shapes", nargs="+", help="B,T,H,L each", default=None)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    shapes = [tuple(map(int, s.split(","))) for s in args.shapes] if args.shapes else SHAPES
    facts = machine.describe("cpu")
    print(machine.markdown(facts), flush=True)
    header = [
        "B,T,H,L",
        "variant",
        "backend",
        "compile s",
        "eager CPU ms",
        "compiled CPU ms",
        "ratio",
    ]
    rows = []
    for shape in shapes:
        for variant in args.variants or VARIANTS:
            rows.append(measure(variant, shape, args.repeats))
            print(report.text_table(header, rows[-1:]), flush=True)
    print(report.text_table(header, rows))
    if not args.no_write:
        note = "compile s: the first call's wall time (shorter with a warm Inductor cache)."
        body = (
            machine.markdown(facts) + "\n\n" + report.markdown_table(header, rows) + "\n\n" + note
        )
        report.write_section("compiled", "## torch.compile against eager\n\n" + body)
    return 0
