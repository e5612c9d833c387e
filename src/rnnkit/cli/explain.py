"""`rnnkit explain lstm|gru|birnn|rnn`: the lecture's exercises worked step by step.

rnnkit explain lstm                          exercise 2, in English
rnnkit explain gru --lang vi                 exercise 3, in Vietnamese
rnnkit explain birnn --reading vanilla       exercise 4 with the vanilla slide's letters
rnnkit explain lstm --params my.json --x "1,0;0,1" --format markdown
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.explain import (
    FORMATS,
    LANGS,
    MODELS,
    READINGS,
    explain,
    parse_x,
    read_params_file,
    render_explanation,
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain",
        help="the lecture's exercises step by step: every gate, formula and number",
        description="Work the lecture's exercise 2 (lstm), 3 (gru), 4 (birnn) or a small "
        "vanilla-RNN exercise (rnn) step by step with rnnkit's own cells in float64: each step "
        "named as the lecture names it, its formula, the formula with numbers, the result.",
    )
    parser.add_argument("model", choices=MODELS, help="which cell or exercise to explain")
    parser.add_argument(
        "--lang", choices=LANGS, default="en", help="en (default) or vi (Tiếng Việt)"
    )
    parser.add_argument(
        "--params",
        type=Path,
        metavar="FILE.json",
        help='your own parameters: a JSON object of the lecture\'s names, e.g. {"W_f": [[...]]}',
    )
    parser.add_argument(
        "--x",
        metavar="NUMBERS",
        help='your own input: "2,3,-1", or a sequence with steps split by ";": "1,0;0,1" '
        "(write --x=-1,2 when it starts with a minus sign)",
    )
    parser.add_argument(
        "--reading",
        choices=READINGS,
        help="birnn only: lecture (W input, U recurrent; default) or vanilla (the vanilla "
        "slide's letters, U input, W recurrent)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    return parser


def run(args: argparse.Namespace) -> int:
    params = read_params_file(args.params) if args.params is not None else None
    x = parse_x(args.x) if args.x is not None else None
    explanation = explain(args.model, params, x, args.reading)
    print(render_explanation(explanation, args.format, args.lang))
    return 0
