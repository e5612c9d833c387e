"""JSB Chorales, quarter notes: tanh RNN, LSTM, GRU(before), GRU(after) against the papers, with
the sigmoid output (independent keys) or the NADE output (RNN-NADE).

    python -m bench music_jsb                    # 4 cells x 2 minutes (about 10 minutes)
    python -m bench music_jsb --seconds 60       # a shorter budget per cell
    python -m bench music_jsb --output nade --only lstm --seconds 1200
                                                 # the RNN-NADE for 20 minutes
    python -m bench music_jsb --output sigmoid,nade   # both outputs, every cell
    python -m bench music_jsb --output nade,sigmoid --only lstm --keep runs/jsb
                                                 # keep the trained runs, to generate from
    python -m bench music_jsb --from-runs runs/jsb --pieces 50
                                                 # the chorale statistics again, from kept runs
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
GENERATED = 10  # chorales written by each model
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
# Recurrent dropout 0.3 (one mask per chorale on h_{t-1}): LSTM valid 8.251 against 8.393 without
# (120 s each; weight dropout 0.3 8.333, zoneout 0.1 8.459; BENCHMARKS.md).
SIGMOID = Settings(
    model={"hidden_size": 200, "num_layers": 2, "dropout": 0.5, "recurrent_dropout": 0.3},
    train={"lr": 2e-3, "weight_decay": 0.1, "eval_every": 50, "warmup": 20, "patience": 0}
    | {"ema": 0.997},
    batch=4,
)
# NADE: it overfits the 229 chorales after about 20 epochs; trained on them in all 12 keys it
# improves for about 17 epochs of those, and a larger network does better (docs/MUSIC.md, "The
# NADE output"). One epoch of the transposed chorales is 344 steps of 8.
NADE = Settings(
    model={
        "hidden_size": 300,
        "num_layers": 2,
        "dropout": 0.5,
        "output": "nade",
        "nade_hidden_size": 300,
    },
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
        "--from-runs",
        type=Path,
        metavar="KEEP",
        help="no training: the statistics of chorales written by the runs kept in KEEP",
    )
    parser.add_argument(
        "--pieces", type=int, default=GENERATED, help=f"chorales each model writes ({GENERATED})"
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
    if args.from_runs is not None:
        return kept_statistics(args)
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
    where = machine.describe()  # the load average at the start
    with keep_or_temporary(args.keep) as folder:
        for cell, output in runs:
            task, result = run_cell(cell, output, args, seconds, Path(folder) / f"{cell}-{output}")
            results[cell, output] = (task, result)
            rows.append(result["row"])
            print(report.text_table(header, rows[-1:]), flush=True)
        writers = {label(*run): task for run, (task, _result) in results.items()}
        stats = generated_statistics(writers, training_split(args), args.seed, args.pieces)
    papers = papers_table(results)
    print(report.text_table(header, rows))
    print(report.text_table(*papers))
    print(report.text_table(*stats))
    if args.set:
        print("settings changed:", args.set)
    if not args.no_write and not args.smoke and not args.set:
        flags = "".join(f" {arg}" for arg in argv)
        write_docs(header, rows, papers, stats, seconds, outputs, args.pieces, where, flags)
    return 0


def kept_statistics(args: argparse.Namespace) -> int:
    """--from-runs KEEP: the statistics table of chorales written by each run kept there."""
    from rnnkit.tasks.registry import load_run

    kept = {}
    for run in args.from_runs.iterdir():
        cell, output = run.name.rsplit("-", 1)  # CELL-OUTPUT, as --keep names them
        kept[cell, output] = run
    order = sorted(kept, key=lambda run: (OUTPUTS.index(run[1]), list(CELLS).index(run[0])))
    writers = {label(*run): load_run(kept[run]) for run in order}  # as training ordered them
    if not writers:
        print(f"error: {args.from_runs} holds no runs; train with --keep", file=sys.stderr)
        return 2
    stats = generated_statistics(writers, training_split(args), args.seed, args.pieces)
    print(report.text_table(*stats))
    print(report.markdown_table(*stats))
    return 0


def training_split(args: argparse.Namespace) -> list:
    """The training chorales as they are (not transposed): what generated ones are set beside."""
    from rnnkit.data.music import load_jsb_json

    return list(load_jsb_json(args.data, limit=20 if args.smoke else None).train)


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


def generated_statistics(
    writers: dict[str, MusicTask], reference: list, seed: int, count: int
) -> tuple[list[str], list[list[str]]]:
    """A column for the chorales each model writes (`count` fresh starts of GENERATED_STEPS
    quarter notes, temperature 1, the same seed), and one for the training chorales as they are.
    The pitch-class distance is given to those, and to what each model trained on (in all 12
    keys where it trained with --transpose; JSB's chorales are in C major or C minor)."""
    from rnnkit.data.music import collection_stats, pitch_class_distance

    theirs = collection_stats(reference)
    columns, own = {}, []
    for name, task in writers.items():
        sampler = Sampler(SamplerConfig(temperature=1.0, seed=seed))
        columns[name] = collection_stats([task.generate(GENERATED_STEPS, sampler)
                                          for _ in range(count)])  # fmt: skip
        own.append(collection_stats(task.reference()).pitch_class_histogram)
    columns["JSB training split"] = theirs
    own.append(theirs.pitch_class_histogram)
    histograms = [c.pitch_class_histogram for c in columns.values()]
    distances = [pitch_class_distance(h, theirs.pitch_class_histogram) for h in histograms]
    own_distances = [pitch_class_distance(h, o) for h, o in zip(histograms, own)]
    rows = [
        ["pieces", *(str(c.pieces) for c in columns.values())],
        ["polyphony (notes sounding)", *(f"{c.polyphony:.2f}" for c in columns.values())],
        ["note density (per quarter)", *(f"{c.note_density:.2f}" for c in columns.values())],
        ["in-key fraction", *(f"{c.in_key:.3f}" for c in columns.values())],
        ["major/minor triad steps", *(f"{c.triads:.3f}" for c in columns.values())],
        ["seventh-chord steps", *(f"{c.sevenths:.3f}" for c in columns.values())],
        ["triad or seventh steps", *(f"{c.triads + c.sevenths:.3f}" for c in columns.values())],
        ["pitch-class distance to the training split", *(f"{d:.3f}" for d in distances)],
        ["... to what the model trained on", *(f"{d:.3f}" for d in own_distances)],
    ]
    return ["", *columns], rows


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
    stats: tuple[list[str], list[list[str]]],
    seconds: float,
    outputs: list[str],
    pieces: int,
    where: dict[str, str],
    flags: str,
) -> None:
    settings = "; ".join(f"{output}: {describe(output)}" for output in outputs)
    body = "\n\n".join(
        [
            f"## Music: JSB Chorales, quarter notes (`python -m bench music_jsb{flags}`)",
            machine.markdown(where),
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
            f"Chorales written by each model with its best weights on valid, {pieces} pieces "
            f"of {GENERATED_STEPS} quarter notes each, fresh starts, temperature 1, beside the "
            "training chorales as they are (not transposed); statistics as "
            "rnnkit.data.music.stats defines them:",
            report.markdown_table(*stats),
        ]
    )
    # The sigmoid table of every cell and the NADE's keep their own sections.
    report.write_section("music_jsb" if outputs == ["sigmoid"] else "music_jsb-nade", body)
