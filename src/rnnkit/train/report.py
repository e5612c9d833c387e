"""What a run shows about itself: metrics.csv, loss.png and samples.txt, rebuilt from the history
(one entry per evaluation) so that a resumed run's files equal an uninterrupted run's."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from rnnkit.files import write_file

METRICS = "metrics.csv"
PLOT = "loss.png"
SAMPLES = "samples.txt"


def write_reports(run: Path, history: list[dict[str, Any]], plot: bool = True) -> None:
    """All three files; `plot=False` skips loss.png (drawing it costs more than a tiny step)."""
    write_metrics(run / METRICS, history)
    write_samples(run / SAMPLES, history)
    if plot:
        plot_losses(run / PLOT, history)


def write_metrics(path: Path, history: list[dict[str, Any]]) -> None:
    rows = [{k: v for k, v in entry.items() if k != "sample"} for entry in history]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_file(path, out.getvalue())


def write_samples(path: Path, history: list[dict[str, Any]]) -> None:
    parts = [f"--- step {e['step']}\n{e['sample']}\n" for e in history if e.get("sample")]
    if parts:
        write_file(path, "".join(parts))


def plot_losses(path: Path, history: list[dict[str, Any]]) -> None:
    """Train and valid loss against steps, as a PNG. A bare Figure (no pyplot) renders with
    matplotlib's Agg backend: no display needed, and the user's own backend is left alone."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=100)
    axes = figure.add_subplot()
    steps = [e["step"] for e in history]
    for key, label in (
        ("train_loss", "train (mean since the last evaluation)"),
        ("valid_loss", "valid"),
    ):
        points = [
            (s, e[key]) for s, e in zip(steps, history, strict=True) if e.get(key) is not None
        ]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", markersize=3, label=label)
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats per item)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_file(path, buffer.getvalue())
