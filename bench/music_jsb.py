"""JSB Chorales, quarter notes: tanh RNN, LSTM, GRU(before), GRU(after) against the papers, with
the sigmoid output (independent keys) or the NADE output (RNN-NADE).

    python -m bench music_jsb                    # 4 cells x 2 minutes (about 10 minutes)
    python -m bench music_jsb --seconds 60       # a shorter budget per cell
    python -m bench music_jsb --output nade --only lstm --seconds 1200
                                                 # the RNN-NADE for 20 minutes
    python -m bench music_jsb --output sigmoid,nade   # both outputs, every cell
    python -m bench music_jsb --output nade,sigmoid --only lstm --keep runs/jsb
                                                 # keep the trained runs, to generate from
    python -m bench music_jsb --smoke            # 10 s per cell, to check that it runs
    python -m bench music_jsb --only lstm --set zoneout=0.1 layer_norm=true --no-write
                                                 # other model or training settings

Data: ../shared/data/jsb-chorales-quarter.json, the standard split (229/76/77 chorales). Each row
is what `rnnkit train music --corpus FILE --cell CELL --output OUTPUT` runs with that output's
settings below, on the one training loop. Selection is on valid only: the settings were chosen
from short runs on the valid split (docs/MUSIC.md; sigmoid: GRU(before), nade: LSTM), the loop
keeps the weights of the evaluation with the lowest valid NLL, and the test split is scored once,
with those weights, at the end.

Scoring, as the reference code of Bai et al. 2018: each chorale predicts frames 2..T from the
frames before; Bernoulli NLL in nats summed over the 88 keys and over time, divided by the number
of predicted frames of the whole split (rnnkit.models.pianoroll).

Then the best model writes chorales (8 bars each, fresh starts, temperature 1) whose statistics are
set beside the training split's. The tables are printed and written to docs/BENCHMARKS.md
(section "music_jsb") with the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.settings import parse_setting, route
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.pianoroll import OUTPUTS, PianoRollModelConfig
from rnnkit.tasks.music import MusicTask
from rnnkit.tasks.pieces import MusicDataConfig
from rnnkit.train import checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import fit, seed_everything

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb-chorales-quarter.json"
CELLS = {"rnn": "tanh RNN", "lstm": "LSTM", "gru": "GRU(before)", "gru-after": "GRU(after)"}
GENERATED = 10  # chorales written by the best model
GENERATED_STEPS = 32  # 8 bars of 4/4 on the quarter grid


@dataclass(frozen=True)
class Settings:
    """What one output trains with: PianoRollModelConfig and TrainConfig fields, the batch size,
    and whether the training chorales are transposed into all 12 keys (--transpose)."""

    model: dict[str, Any]
    train: dict[str, Any]
    batch: int
    transpose: bool = False


# Sigmoid: the weights are noisy after each step on 229 chorales, so the loop evaluates a moving
# average of them (ema, train/average.py); smaller batches reached lower valid NLL (docs/MUSIC.md).
SIGMOID = Settings(
    model={"hidden_size": 200, "num_layers": 2, "dropout": 0.5},
    train={"lr": 2e-3, "weight_decay": 0.1, "eval_every": 50, "warmup": 20, "patience": 0}
    | {"ema": 0.997},
    batch=4,
)
# NADE: it overfits the 229 chorales after about 20 epochs; trained on them in all 12 keys it
# improves for about 17 epochs of those, and a larger network does better (docs/MUSIC.md, "The
# NADE output"). One epoch of the transposed chorales is 344 steps of 8.
NADE = Settings(
    model={**SIGMOID.model, "hidden_size": 300, "output": "nade", "nade_hidden_size": 300},
    train={**SIGMOID.train, "lr": 1e-2, "ema": 0.99, "eval_every": 172},
    batch=8,
    transpose=True,
)
SETTINGS = {"sigmoid": SIGMOID, "nade": NADE}

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
    parser.add_argument("--seconds", type=float, help="budget per run (default 120; smoke: 10)")
    parser.add_argument("--only", help="comma-separated cells: " + ", ".join(CELLS))
    parser.add_argument(
        "--output", default="sigmoid", help="comma-separated outputs: " + ", ".join(OUTPUTS)
    )
    parser.add_argument("--smoke", action="store_true", help="20 chorales, 10 s per run")
    parser.add_argument("--data", type=Path, default=DATA, help="jsb-chorales-quarter.json")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each run's folder (KEEP/CELL-OUTPUT) for `rnnkit generate music --run`",
    )
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
    outputs = args.output.split(",")
    if not set(outputs) <= set(OUTPUTS):
        print(f"error: --output takes {', '.join(OUTPUTS)}, got {args.output}", file=sys.stderr)
        return 2
    seconds = args.seconds or (10.0 if args.smoke else 120.0)
    cells = [c for c in CELLS if not args.only or c in args.only.split(",")]
    runs = [(cell, output) for output in outputs for cell in cells]
    header = ["model", "output", "parameters", "steps", "epochs", "best valid", "test"]
    header += ["frames/s", "time"]
    rows, results = [], {}
    with keep_or_temporary(args.keep) as folder:
        for cell, output in runs:
            task, result = run_cell(cell, output, args, seconds, Path(folder) / f"{cell}-{output}")
            results[cell, output] = (task, result)
            rows.append(result["row"])
            print(report.text_table(header, rows[-1:]), flush=True)
        best = min(results, key=lambda run: results[run][1]["valid"])
        stats_header, stats_rows = generated_statistics(results[best][0], args.seed)
    papers = papers_table(results)
    print(report.text_table(header, rows))
    print(report.text_table(*papers))
    print(f"chorales written by {label(*best)}:")
    print(report.text_table(stats_header, stats_rows))
    if args.set:
        print("settings changed:", args.set)
    if not args.no_write and not args.smoke and not args.set:
        write_docs(header, rows, papers, label(*best), stats_header, stats_rows, seconds, outputs)
    return 0


def keep_or_temporary(keep: Path | None) -> contextlib.AbstractContextManager[str]:
    """The folder that holds the runs: `keep` (created), or a temporary one removed at the end."""
    if keep is None:
        return tempfile.TemporaryDirectory()
    keep.mkdir(parents=True, exist_ok=True)
    return contextlib.nullcontext(str(keep))


def label(cell: str, output: str) -> str:
    return CELLS[cell] + (" + NADE" if output == "nade" else "")


def run_cell(
    cell: str, output: str, args: argparse.Namespace, seconds: float, out: Path
) -> tuple[MusicTask, dict[str, Any]]:
    """Train one cell with one output within `seconds`, then score its best-on-valid weights on
    test once."""
    settings = SETTINGS[output]
    seed_everything(args.seed)
    train = {**settings.train, **args.settings["train"]}
    config = TrainConfig(time=seconds, seed=args.seed, **train).check()
    data = MusicDataConfig(
        source=str(args.data),
        limit=20 if args.smoke else None,
        seed=args.seed,
        batch_size=settings.batch,
        transpose=settings.transpose,
    )
    model = {**settings.model, **args.settings["model"]}
    task = MusicTask.new(data, PianoRollModelConfig(cell=cell, **model))
    result = fit(task, config, out, show_progress=False)
    checkpoint.load_weights(task.model, out / checkpoint.BEST_MODEL)
    test = task.score("test")["loss"]
    last = result.history[-1]
    row = [
        CELLS[cell],
        output,
        f"{sum(p.numel() for p in task.model.parameters()):,}",
        str(result.step),
        f"{last['epoch']:.0f}",
        f"{result.best_loss:.3f}",
        f"{test:.3f}",
        f"{last['items_per_s']:,}",
        f"{last['time']:.0f}s",
    ]
    return task, {"valid": result.best_loss, "test": test, "row": row}


def papers_table(results: dict[tuple[str, str], tuple[MusicTask, dict[str, Any]]]) -> tuple:
    """Test NLL beside the papers (lower is better): the sigmoid rows beside the papers' models
    with independent outputs, then the NADE rows (the papers quoted have none)."""
    header = ["model", "rnnkit (here)", *PAPERS]
    rows = []
    for cell in [*CELLS, "TCN"]:
        ours = results.get((cell, "sigmoid"))
        quoted = [str(paper.get(cell, "")) for paper in PAPERS.values()]
        rows.append([CELLS.get(cell, cell), f"{ours[1]['test']:.2f}" if ours else "", *quoted])
    for (cell, output), (_task, result) in results.items():
        if output == "nade":
            rows.append([label(cell, output), f"{result['test']:.2f}"] + [""] * len(PAPERS))
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
        ["major/minor triad steps", f"{ours.triads:.3f}", f"{theirs.triads:.3f}"],
        ["seventh-chord steps", f"{ours.sevenths:.3f}", f"{theirs.sevenths:.3f}"],
        ["pitch-class histogram distance", f"{comparison.pitch_class_distance:.3f}", "0"],
    ]
    return header, rows


def describe(output: str) -> str:
    """One output's settings, as the flags of `rnnkit train music` name them."""
    settings = SETTINGS[output]
    values = {**settings.model, **settings.train, "batch": settings.batch}
    text = ", ".join(f"{k} {v}" for k, v in values.items())
    return text + (", training chorales in all 12 keys (--transpose)" if settings.transpose else "")


def write_docs(
    header: list[str],
    rows: list[list[str]],
    papers: tuple[list, list],
    best: str,
    stats_header: list[str],
    stats_rows: list[list[str]],
    seconds: float,
    outputs: list[str],
) -> None:
    settings = "; ".join(f"{output}: {describe(output)}" for output in outputs)
    body = "\n\n".join(
        [
            "## Music: JSB Chorales, quarter notes (`python -m bench music_jsb`)",
            machine.markdown(machine.describe()),
            "Each row: `rnnkit train music --corpus jsb-chorales-quarter.json --cell CELL "
            f"--output OUTPUT`, {seconds:.0f} s of training, with the settings of its output "
            f"({settings}); the weights with the best valid NLL are kept and scored once on "
            "test. NLL: nats per predicted frame, summed over the 88 keys; each chorale predicts "
            "frames 2..T; the split's sum is divided by its predicted frames (Bai et al.'s "
            "scoring; other normalisations shift results by whole nats). frames/s: predicted "
            "frames trained on per second of training steps.",
            report.markdown_table(header, rows),
            "Test NLL beside the papers (same split; Bai et al.'s scoring; Chung et al. use Cho et "
            "al.'s GRU, reset before U, and Bai et al. torch.nn.GRU, reset after):",
            report.markdown_table(*papers),
            f"Chorales written by the best model on valid ({best}), {GENERATED} pieces of "
            f"{GENERATED_STEPS} quarter notes each, fresh starts, temperature 1:",
            report.markdown_table(stats_header, stats_rows),
        ]
    )
    report.write_section("music_jsb", body)
