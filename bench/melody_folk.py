"""Folk melodies: the melody model (event tokens, a language model) on a music21 folk corpus.

    python -m bench melody_folk                              # O'Neill's on the 8th grid, 10 min
    python -m bench melody_folk --corpus ryans --seconds 300
    python -m bench melody_folk --keep runs/folk             # keep the run, to generate from
    python -m bench melody_folk --smoke                      # one file, 20 s, to check it runs

It measures the time to parse the corpus with an empty parse cache (music21 reading every ABC
file), and to read the parsed tunes back from that cache; then trains what `rnnkit train melody
--corpus CORPUS --grid GRID` trains (the music recipe: GRU 2 x 200, dropout 0.5, lr 2e-3) for the
budget, keeps the weights with the lowest valid loss, and scores the test split once with them.

Test NLL is given two ways: nats per event token (what the model predicts: note starts, holds,
rests and bar lines; its training loss), and nats per note, the split's summed NLL divided by the
notes of its melodies (what writing a tune costs, note by note, whatever the grid). Tokens/s:
event tokens trained on per second of training steps. The split is by tune, seeded
(rnnkit.data.music.splits). The table is printed and written to docs/BENCHMARKS.md (section
"melody_folk") with the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import machine, report
from rnnkit.models.language import LanguageModelConfig
from rnnkit.tasks.melody import MelodyTask
from rnnkit.tasks.music import RECIPE
from rnnkit.tasks.pieces import MusicDataConfig
from rnnkit.train import checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import fit, seed_everything

FOLK = ("oneills", "ryans", "essen")
BATCH = 16  # `rnnkit train melody`'s default


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench melody_folk", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--corpus", default="oneills", choices=FOLK)
    parser.add_argument("--grid", default="8th", choices=("quarter", "8th", "16th"))
    parser.add_argument("--seconds", type=float, help="training budget (default 600; smoke: 20)")
    parser.add_argument("--smoke", action="store_true", help="the first file, 20 s of training")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the run folder here (KEEP/CORPUS-GRID)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    seconds = args.seconds or (20.0 if args.smoke else 600.0)
    where = machine.describe()  # the load average at the start
    limit = 1 if args.smoke else None
    with tempfile.TemporaryDirectory() as cache, keep_or_temporary(args.keep) as runs:
        splits, parse_s, cached_s = timed_reads(args.corpus, args.grid, limit, Path(cache))
        result = train_and_score(args, splits, seconds, limit, Path(runs))
    header = ["corpus", "grid", "tunes train/valid/test", "parse", "from cache"]
    header += ["parameters", "steps", "epochs", "best valid", "test /token", "test /note"]
    header += ["tokens/s", "time"]
    row = [
        args.corpus,
        args.grid,
        "/".join(str(len(part)) for part in (splits.train, splits.valid, splits.test)),
        f"{parse_s:.0f}s",
        f"{cached_s:.1f}s",
        *result,
    ]
    print(report.text_table(header, [row]))
    if not args.no_write and not args.smoke:
        write_docs(header, row, args, seconds, where)
    return 0


def keep_or_temporary(keep: Path | None) -> contextlib.AbstractContextManager[str]:
    """The folder that holds the run: `keep` (created), or a temporary one removed at the end."""
    if keep is None:
        return tempfile.TemporaryDirectory()
    keep.mkdir(parents=True, exist_ok=True)
    return contextlib.nullcontext(str(keep))


def timed_reads(corpus: str, grid: str, limit: int | None, cache: Path) -> tuple[Any, float, float]:
    """The corpus's splits, the seconds to parse it into the empty cache `cache`, and the seconds
    to read it back from there."""
    from rnnkit.data.music import load_music

    start = time.perf_counter()
    splits = load_music(corpus, grid, limit=limit, cache_dir=cache, progress=False)
    parsed = time.perf_counter()
    again = load_music(corpus, grid, limit=limit, cache_dir=cache, progress=False)
    cached = time.perf_counter()
    if again != splits:
        raise RuntimeError("the parse cache gave other pieces than parsing did")
    return splits, parsed - start, cached - parsed


def train_and_score(
    args: argparse.Namespace, splits: Any, seconds: float, limit: int | None, runs: Path
) -> list[str]:
    """Train within `seconds`, score the best-on-valid weights on test once; the row's cells."""
    from rnnkit.data.music import melody

    seed_everything(args.seed)
    config = TrainConfig(time=seconds, seed=args.seed, **RECIPE.train).check()
    data = MusicDataConfig(
        source=args.corpus, grid=args.grid, limit=limit, seed=args.seed, batch_size=BATCH
    )
    task = MelodyTask.new(data, LanguageModelConfig(**RECIPE.model), splits)
    out = runs / f"{args.corpus}-{args.grid}"
    result = fit(task, config, out, show_progress=False)
    checkpoint.load_weights(task.model, out / checkpoint.BEST_MODEL)
    # The test split read above (task.score would read the corpus again, through the default
    # parse cache, which the timed reads did not fill).
    loss, tokens = task.score_sequences([task.encode(piece) for piece in splits.test])
    notes = sum(len(melody(piece).notes) for piece in splits.test)
    last = result.history[-1]
    return [
        f"{sum(p.numel() for p in task.model.parameters()):,}",
        str(result.step),
        f"{last['epoch']:.1f}",
        f"{result.best_loss:.3f}",
        f"{loss:.3f}",
        f"{loss * tokens / notes:.3f}",
        f"{last['items_per_s']:,}",
        f"{last['time']:.0f}s",
    ]


def write_docs(
    header: list[str],
    row: list[str],
    args: argparse.Namespace,
    seconds: float,
    where: dict[str, str],
) -> None:
    settings = ", ".join(f"{k} {v}" for k, v in {**RECIPE.model, **RECIPE.train}.items())
    body = "\n\n".join(
        [
            "## Melody: folk tunes (`python -m bench melody_folk`)",
            machine.markdown(where),
            f"`python -m bench melody_folk --corpus {args.corpus} --grid {args.grid} --seconds "
            f"{seconds:.0f}`: `rnnkit train melody --corpus {args.corpus} --grid {args.grid}` "
            f"({settings}, batch {BATCH}), {seconds:.0f} s of training; the weights with the "
            "best valid loss scored once on test. parse: music21 parsing the corpus into an "
            "empty parse cache; from cache: reading it back. NLL in nats per event token (the "
            "training loss; holds, rests and bar lines are tokens) and per note (the test "
            "split's summed NLL over the notes of its melodies). tokens/s: event tokens trained "
            "on per second of training steps.",
            report.markdown_table(header, [row]),
        ]
    )
    report.write_section("melody_folk", body)
