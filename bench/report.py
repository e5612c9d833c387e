"""Tables for the terminal and for docs/BENCHMARKS.md, where each suite owns one section.

A suite's section lies between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; writing it again
replaces only that section, so suites can be rerun one at a time.
"""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
TITLE = "# Benchmarks\n\nWritten by `python -m bench <suite>`; each section names its machine.\n"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths))
        for line in [header, *rows]
    )


def write_section(name: str, body: str, path: Path = BENCHMARKS) -> Path:
    """Put `body` into the section `name` of the benchmarks page, keeping the other sections."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    section = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else TITLE
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".md.partial")  # written whole, then renamed: never half a page
    partial.write_text(text)
    partial.replace(path)
    return path
