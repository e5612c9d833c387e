"""`rnnkit explain lstm|gru|birnn|rnn`: the lecture's exercises worked step by step.

rnnkit explain lstm                          exercise 2, in English
rnnkit explain gru --lang vi                 exercise 3, in Vietnamese
rnnkit explain birnn --reading vanilla       exercise 4 with the vanilla slide's letters
rnnkit explain lstm --params my.json --x "1,0;0,1" --format markdown
rnnkit explain lstm --format html --out lstm.html   a page where every number can be edited
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.cli.language import lang_value
from rnnkit.cli.outputs import check_file
from rnnkit.errors import RnnkitError
from rnnkit.explain import (
    FORMATS,
    LANGS,
    MODELS,
    READINGS,
    WROTE,
    build_page,
    explain,
    parse_x,
    read_params_file,
    render_explanation,
)
from rnnkit.files import write_file
from rnnkit.values import path

HTML = "html"
ENDINGS = {".html": HTML, ".htm": HTML, ".md": "markdown", ".json": "json"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain",
        help="the lecture's exercises step by step: every gate, formula and number",
        description="Work the lecture's exercise 2 (lstm), 3 (gru), 4 (birnn) or a small "
        "vanilla-RNN exercise (rnn) step by step with rnnkit's own cells in float64: each step "
        "named as the lecture names it, its formula, the formula with numbers, the result.",
    )
    parser.add_argument(
        "model",
        type=str.lower,
        choices=MODELS,
        metavar="MODEL",
        help=f"which cell or exercise to explain: {', '.join(MODELS)}",
    )
    parser.add_argument(
        "--lang",
        type=lang_value,
        choices=LANGS,
        default="en",
        help="en (default) or vi (Tiếng Việt)",
    )
    parser.add_argument(
        "--params",
        type=path,
        metavar="FILE.json",
        help='your own parameters: a JSON object of the lecture\'s names, e.g. {"W_f": [[...]]}',
    )
    parser.add_argument(
        "--x",
        metavar="NUMBERS",
        help='your own input: "2,3,-1", or a sequence with steps split by ";": "1,0;0,1" '
        "(decimals with a point: 0.5; write --x=-1,2 when it starts with a minus sign)",
    )
    parser.add_argument(
        "--reading",
        choices=READINGS,
        help="birnn only: lecture (W input, U recurrent; default) or vanilla (the vanilla "
        "slide's letters, U input, W recurrent)",
    )
    parser.add_argument(
        "--format",
        choices=(*FORMATS, HTML),
        help="default: the ending of --out (.html, .md, .json), else text; html writes a page "
        "(give --out) where every input, weight and bias can be edited and every step follows",
    )
    parser.add_argument("--out", type=path, metavar="FILE", help="write to FILE, not the terminal")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    return parser


def run(args: argparse.Namespace) -> int:
    args.format = args.format or format_of(args.out)
    _check_out(args.out, args.format, args.force)
    params = read_params_file(args.params) if args.params is not None else None
    x = parse_x(args.x) if args.x is not None else None
    explanation = explain(args.model, params, x, args.reading)
    if args.format == HTML:
        output = build_page(explanation, args.lang)
    else:
        output = render_explanation(explanation, args.format, args.lang)
    if args.out is None:
        print(output)
        return 0
    write_file(args.out, output + ("" if args.format == HTML else "\n"))
    print(WROTE[args.lang][args.format == HTML].format(out=args.out))
    return 0


def format_of(out: Path | None) -> str:
    """The format an --out file's ending names (text where it names none)."""
    return ENDINGS.get(out.suffix.lower(), "text") if out is not None else "text"


def _check_out(out: Path | None, format: str, force: bool) -> None:
    """Before any work: where the output goes, and that nothing is replaced unasked."""
    if out is None:
        if format == HTML:
            raise RnnkitError(
                "--format html writes a page: give --out FILE.html",
                "--format html ghi ra một trang web: hãy đưa --out FILE.html",
            )
        if force:
            raise RnnkitError(
                "--force replaces the file given by --out; give --out or drop it",
                "--force thay thế tệp do --out chỉ ra; hãy đưa --out hoặc bỏ --force",
            )
        return
    check_file(out, force)
