"""`rnnkit visualize RUN TEXT`: an HTML page of what a character-level model's units do on TEXT.

    rnnkit visualize runs/shakespeare ../shared/data/tinyshakespeare.txt --max-chars 2000

The page (RUN/visualize.html unless --out says otherwise) needs no network: open it in any
browser. See rnnkit.visualize for what it shows.
"""

from __future__ import annotations

import argparse

from rnnkit.cli.language import lang_value
from rnnkit.cli.outputs import check_file
from rnnkit.devices import add_device_argument
from rnnkit.errors import RnnkitError
from rnnkit.values import POSITIVE_INT, path
from rnnkit.visualize import visualize_text
from rnnkit.visualize.words import LANGS, say

PAGE = "visualize.html"


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "visualize",
        help="an HTML page of what a char-level model's units and gates do on a text",
        description="Colour a text by any hidden unit, cell state or gate of a trained "
        "character-level language model, list the units that follow simple features (quotes, "
        "position in line, brackets) and show the gates' saturation (Karpathy et al. 2015).",
    )
    parser.add_argument(
        "run_folder", type=path, metavar="RUN", help="a run folder of `rnnkit train text`"
    )
    parser.add_argument(
        "text", type=path, metavar="TEXT", help="a UTF-8 text file (or a folder of .txt files)"
    )
    parser.add_argument("--out", type=path, help=f"where to write the page (default: RUN/{PAGE})")
    parser.add_argument("--force", action="store_true", help="replace the page if it exists")
    parser.add_argument(
        "--max-chars",
        type=POSITIVE_INT.parse,
        default=2000,
        help="read at most this many characters of TEXT (default 2000; the page grows with it)",
    )
    parser.add_argument(
        "--lang",
        type=lang_value,
        choices=LANGS,
        default="en",
        help="the page's words: en (default) or vi (Tiếng Việt)",
    )
    add_device_argument(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    # Imported here, so that `rnnkit --help` does not load the training package.
    from rnnkit.data.text import read_text
    from rnnkit.files import write_file
    from rnnkit.layers import display_name
    from rnnkit.tasks.registry import load_run
    from rnnkit.train.checkpoint import read_config

    text = read_text(args.text)[: args.max_chars]  # a missing or unreadable TEXT first
    read_config(args.run_folder)  # then RUN, before the page's path, which is inside it
    out = check_file(args.out or args.run_folder / PAGE, args.force, suffixes=(".html", ".htm"))
    task = load_run(args.run_folder, args.device)
    level = getattr(getattr(task, "vocab", None), "level", None)
    if level != "char":
        raise RnnkitError(
            f"{args.run_folder} is {'a word-level' if level else 'not a'} text run; visualize "
            "reads character-level models (rnnkit train text --level char)",
            f"{args.run_folder} {'là mô hình mức từ' if level else 'không phải mô hình văn bản'}"
            "; visualize chỉ đọc mô hình mức ký tự (rnnkit train text --level char)",
        )
    network = task.model.rnn
    subtitle = say(
        args.lang,
        "subtitle",
        run=args.run_folder,
        cell=display_name(network.cell_name),
        layers=network.num_layers,
        units=network.hidden_size,
        count=len(text),
        text=args.text,
    )
    title = say(args.lang, "title", run=args.run_folder.name)
    page = visualize_text(task.model, task.vocab, text, title, subtitle, args.lang)
    write_file(out, page)
    print(say(args.lang, "wrote", out=out, size=len(page) // 1024))
    return 0
