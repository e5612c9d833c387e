"""`rnnkit export RUN --format onnx --out model.onnx`: a trained model as a standard ONNX file.

The file holds the run's best model (rnnkit.export.to_onnx picks the graph from the model's
type: a language or piano-roll model as a step model, a classifier as (x, lengths) -> logits) and,
as metadata, the run's JSON files (config.json, vocab.json, labels.json, scaler.json, ...), so that
it is all a program needs. An existing file is replaced only with --force, and never left
half-written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.cli.outputs import check_file
from rnnkit.devices import add_device_argument
from rnnkit.export import OPSET, to_onnx
from rnnkit.export.graph import require_onnx
from rnnkit.tasks.registry import load_run
from rnnkit.values import path

FORMATS = ("onnx",)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export",
        help="write a trained model as an ONNX file",
        description="Write the best model of a run folder as an ONNX file (docs/DEPLOY.md).",
    )
    parser.add_argument("run_dir", metavar="RUN", help="the run folder (rnnkit train --out)")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="file format (onnx)")
    parser.add_argument(
        "--out", metavar="FILE.onnx", type=path, required=True, help="where to write the model"
    )
    parser.add_argument("--force", action="store_true", help="replace FILE.onnx if it exists")
    add_device_argument(parser)  # where the run loads; the file's weights are the same
    return parser


def run(args: argparse.Namespace) -> int:
    out = check_file(args.out, args.force, suffixes=(".onnx",))
    onnx = require_onnx()  # before loading the run: a missing package is the first thing said
    task = load_run(args.run_dir, args.device)
    to_onnx(task.model, out, metadata=run_metadata(Path(args.run_dir)))
    graph = onnx.load(out, load_external_data=False).graph
    inputs = ", ".join(value.name for value in graph.input)
    outputs = ", ".join(value.name for value in graph.output)
    print(
        f"{type(task.model).__name__} written to {out} (ONNX, operator set {OPSET}): "
        f"({inputs}) -> ({outputs}); see docs/DEPLOY.md"
    )
    return 0


def run_metadata(run: Path) -> dict[str, str]:
    """The run folder's JSON files (settings, vocabulary, labels, ...), by file name."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(run.glob("*.json"))}
