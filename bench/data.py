"""Data that scales: wall time and peak memory of short runs on large inputs, against targets.

    python -m bench data                      # 100 MB and 1 GB of text (char and word), 5,000
                                              # MIDI files, a 200,000-row CSV (about 20 minutes)
    python -m bench data --only text-100MB-char,csv-200k --no-write

Each row is one real `rnnkit train ...` process (a few steps, so the time is the data's: reading,
vocabulary, encoding, batching, plus a few tiny steps), timed from start to exit, with its peak
resident memory (the child's ru_maxrss). The inputs are made in a temporary folder first:

    text   Python source: the standard library's .py files, repeated to the size (UTF-8)
    MIDI   5,000 short files of random notes in C major (mido), 1 to 4 bars each
    CSV    2,000 sequences x 100 steps in the long layout (id,time,x,y,label)

Targets (issue 17): 100 MB in <= 60 s with peak RSS <= 1.5 GB; 1 GB in <= 6 minutes with peak
RSS <= 3 GB; the same at word level. Written to docs/BENCHMARKS.md (section "data").
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import machine, report

MB = 2**20
TEXT_RUN = ["--steps", "20", "--split", "99.9/0.1", "--hidden", "128", "--layers", "1"]
QUICK = ["--no-progress", "--device", "cpu"]


@dataclass
class Row:
    name: str
    make: str  # what input to make: "text", "midi" or "csv"
    size: int  # bytes of text, files, or rows
    argv: list[str]  # after `rnnkit train`, with {DATA} for the input
    seconds: float | None = None  # target
    memory: float | None = None  # target, GiB


ROWS = [
    Row("text-100MB-char", "text", 100 * MB, ["text", "{DATA}", *TEXT_RUN], 60, 1.5),
    Row(
        "text-100MB-word",
        "text",
        100 * MB,
        ["text", "{DATA}", "--level", "word", *TEXT_RUN, "--output", "adaptive"],
        60,
        1.5,
    ),
    Row("text-1GB-char", "text", 1024 * MB, ["text", "{DATA}", *TEXT_RUN], 360, 3.0),
    Row(
        "text-1GB-word",
        "text",
        1024 * MB,
        ["text", "{DATA}", "--level", "word", *TEXT_RUN, "--output", "adaptive"],
        360,
        3.0,
    ),
    Row(
        "midi-5000",
        "midi",
        5000,
        ["music", "--corpus", "{DATA}", "--steps", "2", "--hidden", "32", "--layers", "1"],
    ),
    Row("csv-200k", "csv", 200_000, ["classify", "{DATA}", "--steps", "2", "--hidden", "16"]),
]


def make_text(path: Path, size: int) -> Path:
    """Python's standard library source, repeated to `size` bytes (whole files, then cut)."""
    sources = sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))
    written = 0
    with open(path, "wb") as out:
        while written < size:
            for source in sources:
                data = source.read_bytes()
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                out.write(data[: size - written])
                written += min(len(data), size - written)
                if written >= size:
                    break
    return path


def make_midi(folder: Path, count: int) -> Path:
    import mido

    rng = np.random.default_rng(0)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    folder.mkdir()
    for n in range(count):
        midi, track = mido.MidiFile(), mido.MidiTrack()
        midi.tracks.append(track)
        for _ in range(int(rng.integers(4, 17))):
            pitch = int(rng.choice(scale))
            track.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
        midi.save(folder / f"{n:05d}.mid")
    return folder


def make_csv(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    steps, sequences = 100, rows // 100
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "time", "x", "y", "label"])
        for s in range(sequences):
            label = "up" if s % 2 else "down"
            drift = 0.05 if s % 2 else -0.05
            x = np.cumsum(rng.normal(drift, 1, steps))
            y = rng.normal(0, 1, steps)
            writer.writerows(
                [f"s{s}", t, f"{x[t]:.4f}", f"{y[t]:.4f}", label] for t in range(steps)
            )
    return path


def make(kind: str, size: int, folder: Path) -> Path:
    """The input of a row, made in `folder`."""
    if kind == "midi":
        return make_midi(folder / f"midi-{size}", size)
    if kind == "csv":
        return make_csv(folder / f"series-{size}.csv", size)
    return make_text(folder / f"text-{size}.txt", size)


def measure(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (GiB) and exit status of `rnnkit train ARGV` in a new process."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "train", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not all children's
    seconds = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(process.stderr.read().decode()[-2000:], file=sys.stderr)
    return seconds, usage.ru_maxrss / 2**20, code  # ru_maxrss: KiB on Linux


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench data", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--only", help="comma-separated rows: " + ", ".join(r.name for r in ROWS))
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    chosen = [r for r in ROWS if not args.only or r.name in args.only.split(",")]
    header = ["input", "wall time", "target", "peak RSS", "target", "met"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        made: dict[tuple[str, int], Path] = {}
        for row in chosen:
            key = (row.make, row.size)
            if key not in made:
                made[key] = make(row.make, row.size, Path(folder))
            run = [word.replace("{DATA}", str(made[key])) for word in row.argv]
            out = Path(folder) / f"run-{row.name}"
            seconds, peak, status = measure([*run, *QUICK, "--out", str(out)])
            met = status == 0 and all(
                target is None or value <= target
                for value, target in ((seconds, row.seconds), (peak, row.memory))
            )
            outcome = ("yes" if met else "NO") if status == 0 else f"failed ({status})"
            time_target = f"<= {row.seconds} s" if row.seconds else "-"
            memory_target = f"<= {row.memory} GiB" if row.memory else "-"
            rows.append([row.name, f"{seconds:.1f} s", time_target, f"{peak:.2f} GiB"])
            rows[-1] += [memory_target, outcome]
            print(report.text_table(header, rows[-1:]), flush=True)
    print(report.text_table(header, rows))
    if not args.no_write:
        body = "\n\n".join(
            [
                "## Data that scales (`python -m bench data`)",
                machine.markdown(machine.describe()),
                "Each row: one `rnnkit train` process from start to exit, a few steps, so the time "
                "is the data's (reading, vocabulary, encoding, batches); peak RSS of the process. "
                f"Text rows: `rnnkit train text FILE {' '.join(TEXT_RUN)}` on Python source.",
                report.markdown_table(header, rows),
            ]
        )
        report.write_section("data", body)
    return 0
