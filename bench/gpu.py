"""`python -m bench gpu`: the layer benchmark and a short language-model training on one CUDA GPU.

    python -m bench gpu                     # layers (default shapes), then char-71s: minutes
    python -m bench gpu --repeats 3 --runs char-71s,word-examples-size

Runs `python -m bench layers --device cuda` (cuDNN's torch.nn beside every rnnkit backend) and
`python -m bench lm_text --device cuda --only RUNS`, each written to its own section of
docs/BENCHMARKS.md ("gpu-layers", "gpu-lm_text") with the GPU's name and cuDNN's version, so the
CPU sections stay. Without a CUDA device it says so in one line and runs nothing (status 2).
"""

from __future__ import annotations

import argparse
import sys

import torch

from bench import layers, lm_text

REFUSAL = (
    "error: python -m bench gpu needs a CUDA GPU and torch sees none "
    "(torch.cuda.is_available() is False); on the CPU run python -m bench layers"
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", default="5", help="timed rounds per layer candidate")
    parser.add_argument("--runs", default="char-71s", help="lm_text runs, comma-separated")
    parser.add_argument("--no-write", action="store_true", help="print only, keep BENCHMARKS.md")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(REFUSAL, file=sys.stderr)
        return 2
    keep = ["--no-write"] if args.no_write else []
    status = layers.main(
        ["--device", "cuda", "--repeats", args.repeats, "--section", "gpu-layers", *keep]
    )
    lm = ["--device", "cuda", "--only", args.runs, "--section", "gpu-lm_text", *keep]
    return status or lm_text.main(lm)
