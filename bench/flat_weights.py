"""The native backend with its weights in one flat buffer against separate tensors, side by side.

    python -m bench flat_weights [--device cpu] [--repeats 9] [--shapes 32,64,128,2 ...]

Networks flatten by themselves only on CUDA (rnnkit/backends/flat_weights.py), where cuDNN would
otherwise copy the weights on every call. This suite times the same network on the native backend
twice, its parameters in one flat buffer and as separate tensors, in one process, interleaved
round by round (bench/layers.py's `measure`): ratio = flat tokens/s / separate tokens/s, for
training (forward + backward) and inference. Printed, not written: it is the check that
flattening would not slow the CPU down (docs/PERFORMANCE.md quotes a run).
"""

from __future__ import annotations

import argparse
import copy
from unittest import mock

import torch

import rnnkit
from bench import layers, machine, report
from rnnkit.backends import flat_weights

VARIANTS = ("lstm", "rnn")
HEADER = ["B,T,H,L", "variant", "train tok/s sep.", "flat", "ratio", "infer tok/s sep.", "flat"]
HEADER += ["ratio"]


def pair(variant: str, shape: tuple[int, ...], device: str) -> tuple[torch.nn.Module, ...]:
    """(separate, flat): one network twice, the same weights, only the flat one flattened."""
    _, _, H, L = shape
    torch.manual_seed(0)
    with mock.patch.object(flat_weights, "DEVICES", ()):
        separate = rnnkit.build_recurrent(variant, H, H, num_layers=L, batch_first=False)
        separate.to(device)
        flat = copy.deepcopy(separate)
    with mock.patch.object(flat_weights, "DEVICES", (torch.device(device).type,)):
        flat.flatten_parameters()
    assert separate.kernel_weights() is None and flat.kernel_weights() is not None
    return separate, flat


def row(variant: str, shape: tuple[int, ...], args: argparse.Namespace) -> list[str]:
    found = [layers.Candidate("native", module) for module in pair(variant, shape, args.device)]
    separate, flat = layers.measure(found, shape, args.device, args.repeats, args.warmup)
    tokens = shape[0] * shape[1]
    cells = [",".join(map(str, shape)), variant]
    for mode in ("train", "infer"):
        a, b = getattr(separate, mode), getattr(flat, mode)
        cells += [f"{tokens / a:,.0f}", f"{tokens / b:,.0f}", f"{a / b:.3f}"]
    return cells


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench flat_weights", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds per network")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--shapes", nargs="+", default=None, metavar="B,T,H,L")
    args = parser.parse_args(argv)
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes or []] or layers.SHAPES
    print(machine.markdown(machine.describe(args.device)), flush=True)
    rows = []
    for shape in shapes:
        for variant in VARIANTS:
            rows.append(row(variant, shape, args))
            print(report.text_table(HEADER, rows[-1:]), flush=True)
    print("\n" + report.text_table(HEADER, rows))
    return 0
