"""Language models on Tiny Shakespeare: best valid loss against wall time, next to quoted baselines.

    python -m bench lm_text                        # every run (about an hour on 2 cores)
    python -m bench lm_text --only char-71s,word   # some of them
    python -m bench lm_text --smoke                # 10 s per run, to check that it runs
    python -m bench lm_text --only char-600s --set hidden_size=640 dropout=0.15 --no-write
                                                   # try other settings on a recipe's run
    python -m bench lm_text --only char-600s --seconds 180 --set zoneout=0.1
                                                   # ... for a shorter time (exploring)

Character level (nanoGPT's split: first 90% train, last 10% valid; loss in nats per character on
the whole valid split): each run is a recipe of rnnkit.train.recipes, exactly what
`rnnkit train text FILE --time T` trains, given the budget of the baseline it is set against.
Word level (pytorch/examples' word_language_model setting: lines split 90/5/5 in order,
whitespace tokens with a line-end token): their model's size (LSTM 2x200, bptt 35, batch 20,
trained by rnnkit) for the tokens/s comparison at equal size, and rnnkit's word recipe, both for
230 s.

One difference in the word setting: rnnkit's vocabulary comes from train + valid (24,861 tokens
with the line end), pytorch/examples' also from test (25,671); the 810 test-only words never occur
in train or valid, so they only widen the other softmax.

The baselines are quoted as measured on this project's 2-core CPU (issue 4), not run here. The
table is printed and written to docs/BENCHMARKS.md (section "lm_text") with the machine.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.settings import parse_setting, route
from rnnkit import TextModel
from rnnkit.models.language import LanguageModelConfig
from rnnkit.tasks.text import TextDataConfig
from rnnkit.train.config import Recipe, TrainConfig
from rnnkit.train.recipes import recipe_for

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
STEP_SLACK = 1.0  # seconds: longer than any recipe's training step here (see best_by)


@dataclass
class Run:
    name: str
    recipe: Recipe
    seconds: float  # the budget of this run
    checkpoints: tuple[float, ...]  # wall times (s) at which to report the best valid metric
    baseline: str  # the quoted result it is set against
    baseline_rate: float | None = None  # the quoted tokens/s, for a ratio at the same size
    against: str | None = None  # or the run (of this invocation) whose tokens/s it is set against
    cache: int = 0  # N > 0: also the best model's valid perplexity with a continuous cache of N


# pytorch/examples' word model (LSTM 2 x 200, E = 200, bptt 35, batch 20, dropout 0.2) trained by
# rnnkit, with the adaptive softmax and AdamW (theirs: the full softmax and SGD at lr 20): the
# tokens/s comparison at the same size.
EXAMPLES_SIZE = Recipe(
    "word-examples-size",
    seconds=230,
    data={"batch_size": 20, "seq_len": 35},
    model={
        "cell": "lstm",
        "hidden_size": 200,
        "num_layers": 2,
        "dropout": 0.2,
        "output": "adaptive",
    },
    train={"lr": 3e-3, "eval_every": 500},
)

CHAR_10M = recipe_for("char", 600)
# The word run's best model is also scored with the continuous cache of rnnkit/models/cache.py
# (`rnnkit evaluate RUN --cache 1000`), its default θ and λ.
WORD_CACHE = 1000
RUNS = [
    Run("char-71s", recipe_for("char", 71), 71, (71,), "nanoGPT 1.886 @ 71s"),
    Run("char-510s", recipe_for("char", 510), 510, (510,), "nanoGPT 1.499 @ 510s"),
    Run("char-600s", CHAR_10M, 600, (510, 600), "target 1.45 @ 600s"),
    Run(  # what a CPU without bf16 arithmetic trains (precision auto -> fp32 there)
        "char-600s-fp32",
        replace(CHAR_10M, train={**CHAR_10M.train, "precision": "fp32"}),
        600,
        (510, 600),
        "char-600s (this run)",
        against="char-600s",
    ),
    Run("char-1800s", recipe_for("char", 1800), 1800, (1800,), "moonshot 1.40 @ 1800s"),
    Run("word-examples-size", EXAMPLES_SIZE, 230, (230,), "2,954 tokens/s", 2954),
    Run("word", recipe_for("word", 230), 230, (230,), "ppl 384.66 @ 230s", cache=WORD_CACHE),
]

# Quoted from issue 4 (measured on this project's 2-core AMD EPYC, torch 2.13).
BASELINES = [
    "nanoGPT CPU config (0.8M-parameter transformer): char valid 1.886 at 71 s, 1.499 at 510 s",
    "torch.nn.LSTM 2x512, batch 64, seq 128, AdamW 3e-3 cosine, dropout 0.2: "
    "char valid 1.498 at 500 s",
    "pytorch/examples word_language_model LSTM 2x200: "
    "valid perplexity 384.66 at 230 s, 2,954 tokens/s",
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench lm_text", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--only", help="comma-separated run names: " + ", ".join(r.name for r in RUNS)
    )
    parser.add_argument("--smoke", action="store_true", help="10 s per run on 5%% of the text")
    parser.add_argument("--data", type=Path, default=DATA, help="tinyshakespeare.txt")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    parser.add_argument("--device", default="auto", help="where to train: cpu, cuda, auto")
    parser.add_argument(
        "--section", default="lm_text", help="BENCHMARKS.md section to write (another keeps both)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="train each run this long instead of its budget, to explore (implies --no-write)",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override recipe settings, e.g. hidden_size=640 lr=0.002 (implies --no-write)",
    )
    args = parser.parse_args(argv)
    overrides = dict(parse_setting(item) for item in args.set)
    chosen = [
        replace(r, recipe=with_device(with_settings(r.recipe, overrides), args.device))
        for r in RUNS
        if not args.only or r.name in args.only.split(",")
    ]
    if args.seconds:
        chosen = [replace(r, seconds=args.seconds, checkpoints=(args.seconds,)) for r in chosen]
    text = args.data.read_text(encoding="utf-8")
    if args.smoke:
        text = text[: len(text) // 20]
    header = ["run", "recipe", "budget", "steps", "tokens/s", "best valid", "best valid by"]
    header += ["best model with a cache"]
    header += ["quoted baseline", "tokens/s ratio"]
    rows, rates = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for chosen_run in chosen:
            row, rates[chosen_run.name] = run_recipe(chosen_run, text, Path(folder), args.smoke)
            baseline = rates.get(chosen_run.against) or chosen_run.baseline_rate
            rows.append([*row, f"{rates[chosen_run.name] / baseline:.2f}" if baseline else ""])
            print(report.text_table(header, rows[-1:]), flush=True)
    print()
    print(report.text_table(header, rows))
    print("\n".join(BASELINES))
    if overrides:
        print("settings changed from the recipes:", args.set)
    if not args.no_write and not args.smoke and not overrides and not args.seconds:
        body = "\n\n".join(
            [
                "## Language models on Tiny Shakespeare (`python -m bench lm_text`)",
                machine.markdown(machine.describe(args.device)),
                report.markdown_table(header, rows),
                "Quoted baselines (not run here):\n" + "\n".join(f"- {b}" for b in BASELINES),
            ]
        )
        report.write_section(args.section, body)
    return 0


def run_recipe(run: Run, text: str, folder: Path, smoke: bool) -> tuple[list[str], float]:
    """The run's table row (without the tokens/s ratio) and its tokens/s."""
    seconds = 10.0 if smoke else run.seconds
    recipe, word = run.recipe, run.name.startswith("word")
    level = {"level": "word", "tokenizer": "whitespace"} if word else {"split": "90/10"}
    model = TextModel(**recipe.data, **recipe.model, **level)
    train = {**recipe.train, **({"eval_every": 10} if smoke else {})}
    out = folder / run.name
    if word:
        source, valid = write_line_split(text, folder)
        model.data.valid_file = str(valid)
        result = model.fit(source, out=out, time=seconds, **train)
    else:
        result = model.fit(text=text, out=out, time=seconds, **train)
    history = result.history
    rate = history[-1]["items_per_s"]
    cached = ""
    if run.cache and word:  # fit left the best weights in the model
        ppl = model.evaluate(valid, cache=run.cache)["ppl"]
        cached = f"{ppl:.3f} ppl (N = {run.cache})"
    metric = "valid_ppl" if word else "valid_loss"
    best = min(e[metric] for e in history)
    by = [f"{best_by(history, metric, t):.3f} @ {t:.0f}s" for t in run.checkpoints if t <= seconds]
    unit = "ppl" if word else "nats/char"
    row = [
        run.name,
        recipe.name,
        f"{seconds:.0f}s",
        str(result.step),
        f"{rate:,.0f}",
        f"{best:.3f} {unit}",
        ", ".join(by),
        cached,
        run.baseline,
    ]
    return row, rate


def with_settings(recipe: Recipe, overrides: dict[str, Any]) -> Recipe:
    """The recipe with each overridden setting put where it belongs (data, model or training)."""
    if not overrides:
        return recipe
    owners = {"data": TextDataConfig, "model": LanguageModelConfig, "train": TrainConfig}
    changed = route(overrides, owners)
    parts = {part: {**getattr(recipe, part), **changed[part]} for part in owners}
    return replace(recipe, name=recipe.name + "+set", **parts)


def with_device(recipe: Recipe, device: str) -> Recipe:
    """The recipe trained on `device` (a setting of its own: the recipe's name stays)."""
    return replace(recipe, train={**recipe.train, "device": device})


def best_by(history: list[dict[str, Any]], metric: str, seconds: float) -> float:
    """The best valid metric among the evaluations of weights trained within `seconds` of wall
    time. A run's final evaluation starts when its budget runs out, up to one step after it:
    STEP_SLACK seconds keep it in the count for its own budget."""
    within = [e[metric] for e in history if e["time"] <= seconds + STEP_SLACK]
    return min(within, default=float("nan"))


def write_line_split(text: str, folder: Path) -> tuple[Path, Path]:
    """Lines 90/5/5 in order, as pytorch/examples' word model was measured (train, valid)."""
    lines = text.splitlines(keepends=True)
    a, b = int(len(lines) * 0.9), int(len(lines) * 0.95)
    train, valid = folder / "word-train.txt", folder / "word-valid.txt"
    train.write_text("".join(lines[:a]), encoding="utf-8")
    valid.write_text("".join(lines[a:b]), encoding="utf-8")
    return train, valid
