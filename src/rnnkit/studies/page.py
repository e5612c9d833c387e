"""`rnnkit compare --html`: the study's tables, plots and verdict as one self-contained page.

Everything is inside the file: the style inline, the plots as base64 PNG data (the same bytes as
the PNG files beside it), no script, no link, nothing fetched. The tables are tables.py's, the
same as results.md; each carries `data-table` (its name) so that tests and readers can find it.
"""

from __future__ import annotations

import base64
import html

from rnnkit.studies import tables
from rnnkit.studies.compare import CompareResults
from rnnkit.studies.summary import tasks

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 72em; margin: 2em auto; padding: 0 1em;
       color: #222; }
pre { background: #f4f4f4; padding: 0.6em 1em; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
caption { caption-side: top; text-align: left; padding-bottom: 0.3em; color: #444; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #eef; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; }
figcaption { color: #444; }
nav a { margin-right: 1em; }
"""


def build_page(
    results: CompareResults,
    command: str,
    verdicts: dict[str, list[str]],
    plots: dict[str, bytes],
) -> str:
    """The page: `verdicts` are the sentences by language, `plots` the PNGs by file name."""
    parts = [
        "<h1>rnnkit compare</h1>",
        f"<pre class='command'>{_text(command)}</pre>",
        f"<p class='settings'>{_text(tables.settings(results))}</p>",
        _list(f"{what}: {value}" for what, value in results.machine.items()),
        "<nav><a href='#parameters'>Parameters</a><a href='#memory'>Memory</a>"
        "<a href='#gradients'>Gradient flow</a><a href='#verdict'>Verdict</a>"
        "<a href='#ket-luan' lang='vi'>Kết luận</a></nav>",
        "<h2 id='parameters'>Parameters at equal hidden size</h2>",
        _table("parameters", tables.parameter_table(results)),
        "<h2 id='memory'>Memory over a distance (within the budget; higher scores are better)</h2>",
        _figure(plots["memory.png"], "Score against lag, per task and cell"),
    ]
    for task in tasks(results):
        parts.append(_table(f"scores-{task}", tables.score_table(results, task)))
        parts.append(_table(f"losses-{task}", tables.loss_table(results, task)))
    parts += [
        "<h2 id='gradients'>Gradient flow</h2>",
        _figure(plots["gradient_flow.png"], "Gradient norm against distance from the end"),
    ]
    gradients = tables.gradient_table(results)
    if gradients is not None:
        parts.append(_table("gradients", gradients))
    parts += ["<h2 id='verdict'>Verdict</h2>", _list(verdicts["en"], "verdict", "en")]
    parts += ["<h2 id='ket-luan' lang='vi'>Kết luận</h2>", _list(verdicts["vi"], "verdict", "vi")]
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>rnnkit compare</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _list(items, kind: str = "facts", lang: str = "en") -> str:
    lines = "".join(f"<li>{_text(item)}</li>" for item in items)
    return f"<ul class='{kind}' lang='{lang}'>{lines}</ul>"


def _table(name: str, table: tables.Table) -> str:
    head = "".join(f"<th scope='col'>{_text(cell)}</th>" for cell in table.header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return (
        f"<table data-table='{name}'><caption>{_text(table.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f"<figure><img alt='{_text(caption)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{_text(caption)}</figcaption></figure>"
    )
