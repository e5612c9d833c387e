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

from rnnkit.cli.outputs import check_file
from rnnkit.errors import RnnkitError
from rnnkit.explain import (
    FORMATS,
    LANGS,
    MODELS,
    READINGS,
    build_page,
    explain,
    parse_x,
    read_params_file,
    render_explanation,
)
from rnnkit.files import write_file

HTML = "html"


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
        choices=MODELS,
        metavar="MODEL",
        help=f"which cell or exercise to explain: {', '.join(MODELS)}",
    )
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
    parser.add_argument(
        "--format",
        choices=(*FORMATS, HTML),
        default="text",
        help="default: text; html writes a page (give --out) where every input, weight and "
        "bias can be edited and every step follows",
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="write to FILE, not the terminal")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        return _explain(args)
    except RnnkitError as error:  # said in the language asked for
        raise RnnkitError(error.said_in(args.lang)) from None


def _explain(args: argparse.Namespace) -> int:
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
    print(f"wrote {args.out}" + ("; open it in a browser" if args.format == HTML else ""))
    return 0


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
