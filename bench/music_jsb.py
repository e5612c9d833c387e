"""JSB Chorales, quarter notes: tanh RNN, LSTM, GRU(before), GRU(after) against the papers.

    python -m bench music_jsb                    # 4 cells x 2 minutes (about 10 minutes)
    python -m bench music_jsb --seconds 60       # a shorter budget per cell
    python -m bench music_jsb --smoke            # 10 s per cell, to check that it runs
    python -m bench music_jsb --only lstm --set zoneout=0.1 layer_norm=true --no-write
                                                 # other model or training settings

Data: ../shared/data/jsb-chorales-quarter.json, the standard split (229/76/77 chorales). Each cell
is what `rnnkit train music --corpus FILE --cell CELL` runs with the settings below, on the one
training loop. Selection is on valid only: the settings were chosen from short runs of GRU(before)
on the valid split (docs/MUSIC.md), the loop keeps the weights of the evaluation with the lowest
valid NLL, and the test split is scored once, with those weights, at the end.

Scoring, as the reference code of Bai et al. 2018: each chorale predicts frames 2..T from the
frames before; Bernoulli NLL in nats summed over the 88 keys and over time, divided by the number
of predicted frames of the whole split (rnnkit.models.pianoroll).

Then the best model writes chorales (8 bars each, fresh starts, temperature 1) whose statistics are
set beside the training split's. The tables are printed and written to docs/BENCHMARKS.md
(section "music_jsb") with the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.settings import parse_setting, route
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.pianoroll import PianoRollModelConfig
from rnnkit.tasks.music import MusicTask
from rnnkit.tasks.pieces import MusicDataConfig
from rnnkit.train import checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import fit, seed_everything

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb-chorales-quarter.json"
CELLS = {"rnn": "tanh RNN", "lstm": "LSTM", "gru": "GRU(before)", "gru-after": "GRU(after)"}
MODEL = {"hidden_size": 200, "num_layers": 2, "dropout": 0.5}
TRAIN = {"lr": 2e-3, "weight_decay": 0.1, "eval_every": 50, "warmup": 20, "patience": 0}
TRAIN |= {"ema": 0.997}  # the weights are noisy after each step on 229 chorales (train/average.py)
BATCH = 4  # chorales per batch: smaller batches reached lower valid NLL (docs/MUSIC.md)
GENERATED = 10  # chorales written by the best model
GENERATED_STEPS = 32  # 8 bars of 4/4 on the quarter grid

# Test NLL (nats per predicted frame) in the papers, on the same split. Chung et al. use Cho et
# al.'s GRU (the reset gate before U: GRU(before)); Bai et al. use torch.nn.GRU (cuDNN's, after).
PAPERS = {
    "Chung et al. 2014": {"rnn": 9.10, "lstm": 8.67, "gru": 8.54},
    "Bai et al. 2018": {"rnn": 8.91, "lstm": 8.45, "gru-after": 8.43, "TCN": 8.10},
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench music_jsb", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=120.0, help="budget per cell")
    parser.add_argument("--only", help="comma-separated cells: " + ", ".join(CELLS))
    parser.add_argument("--smoke", action="store_true", help="10 s per cell, 20 chorales")
    parser.add_argument("--data", type=Path, default=DATA, help="jsb-chorales-quarter.json")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="change model or training settings, e.g. zoneout=0.1 lr=0.003 (implies --no-write)",
    )
    args = parser.parse_args(argv)
    args.settings = route(
        dict(parse_setting(item) for item in args.set),
        {"model": PianoRollModelConfig, "train": TrainConfig},
    )
    if not args.data.is_file():
        print(f"error: {args.data} is missing; see ../shared/data/README.md", file=sys.stderr)
        return 2
    seconds = 10.0 if args.smoke else args.seconds
    cells = [c for c in CELLS if not args.only or c in args.only.split(",")]
    header = ["model", "parameters", "steps", "epochs", "best valid", "test", "time"]
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for cell in cells:
            task, result = run_cell(cell, args, seconds, Path(folder) / cell)
            results[cell] = (task, result)
            rows.append(result["row"])
            print(report.text_table(header, rows[-1:]), flush=True)
        best = min(results, key=lambda c: results[c][1]["valid"])
        stats_header, stats_rows = generated_statistics(results[best][0], args.seed)
    papers = papers_table(results)
    print(report.text_table(header, rows))
    print(report.text_table(*papers))
    print(f"chorales written by {CELLS[best]}:")
    print(report.text_table(stats_header, stats_rows))
    if args.set:
        print("settings changed:", args.set)
    if not args.no_write and not args.smoke and not args.set:
        write_docs(header, rows, papers, best, stats_header, stats_rows, seconds)
    return 0


def run_cell(
    cell: str, args: argparse.Namespace, seconds: float, out: Path
) -> tuple[MusicTask, dict[str, Any]]:
    """Train one cell within `seconds`, then score its best-on-valid weights on test once."""
    seed_everything(args.seed)
    train = {**TRAIN, **args.settings["train"]}
    config = TrainConfig(time=seconds, seed=args.seed, **train).check()
    data = MusicDataConfig(
        source=str(args.data), limit=20 if args.smoke else None, seed=args.seed, batch_size=BATCH
    )
    model = {**MODEL, **args.settings["model"]}
    task = MusicTask.new(data, PianoRollModelConfig(cell=cell, **model))
    result = fit(task, config, out, show_progress=False)
    checkpoint.load_weights(task.model, out / checkpoint.BEST_MODEL)
    test = task.score("test")["loss"]
    last = result.history[-1]
    row = [
        CELLS[cell],
        f"{sum(p.numel() for p in task.model.parameters()):,}",
        str(result.step),
        f"{last['epoch']:.0f}",
        f"{result.best_loss:.3f}",
        f"{test:.3f}",
        f"{last['time']:.0f}s",
    ]
    return task, {"valid": result.best_loss, "test": test, "row": row}


def papers_table(results: dict[str, tuple[MusicTask, dict[str, Any]]]) -> tuple[list, list]:
    """Test NLL beside the papers' (lower is better)."""
    header = ["model", "rnnkit (here)", *PAPERS]
    rows = []
    for cell in [*CELLS, "TCN"]:
        ours = f"{results[cell][1]['test']:.2f}" if cell in results else ""
        quoted = [str(paper.get(cell, "")) for paper in PAPERS.values()]
        rows.append([CELLS.get(cell, cell), ours, *quoted])
    return header, rows


def generated_statistics(task: MusicTask, seed: int) -> tuple[list[str], list[list[str]]]:
    """Chorales written by `task`'s model beside the training chorales."""
    from rnnkit.data.music import compare

    sampler = Sampler(SamplerConfig(temperature=1.0, seed=seed))
    pieces = [task.generate(GENERATED_STEPS, sampler) for _ in range(GENERATED)]
    comparison = compare(pieces, task.reference())
    ours, theirs = comparison.generated, comparison.reference
    header = ["", "generated", "JSB training split"]
    rows = [
        ["pieces", str(ours.pieces), str(theirs.pieces)],
        ["polyphony (notes sounding)", f"{ours.polyphony:.2f}", f"{theirs.polyphony:.2f}"],
        ["note density (per quarter)", f"{ours.note_density:.2f}", f"{theirs.note_density:.2f}"],
        ["in-key fraction", f"{ours.in_key:.3f}", f"{theirs.in_key:.3f}"],
        ["pitch-class histogram distance", f"{comparison.pitch_class_distance:.3f}", "0"],
    ]
    return header, rows


def write_docs(
    header: list[str],
    rows: list[list[str]],
    papers: tuple[list, list],
    best: str,
    stats_header: list[str],
    stats_rows: list[list[str]],
    seconds: float,
) -> None:
    settings = ", ".join(f"{k} {v}" for k, v in {**MODEL, **TRAIN}.items())
    body = "\n\n".join(
        [
            "## Music: JSB Chorales, quarter notes (`python -m bench music_jsb`)",
            machine.markdown(machine.describe()),
            f"Each cell: `rnnkit train music --corpus jsb-chorales-quarter.json --cell CELL`, "
            f"{settings}, batch {BATCH}, {seconds:.0f} s of training; the weights with the best "
            "valid NLL are kept and scored once on test. NLL: nats per predicted frame, summed "
            "over the 88 keys; each chorale predicts frames 2..T; the split's sum is divided by "
            "its predicted frames (Bai et al.'s scoring; other normalisations shift results by "
            "whole nats).",
            report.markdown_table(header, rows),
            "Test NLL beside the papers (same split; Bai et al.'s scoring; Chung et al. use Cho et "
            "al.'s GRU, reset before U, and Bai et al. torch.nn.GRU, reset after):",
            report.markdown_table(*papers),
            f"Chorales written by the best model on valid ({CELLS[best]}), {GENERATED} pieces of "
            f"{GENERATED_STEPS} quarter notes each, fresh starts, temperature 1:",
            report.markdown_table(stats_header, stats_rows),
        ]
    )
    report.write_section("music_jsb", body)
