"""The compare study's output folder: CSV and Markdown tables, PNG plots, a verdict, and on request
one HTML page with all of it.

    parameters.csv      cell, hidden_size, parameters
    memory.csv          task, lag, cell, seed, metric, score, loss, chance, baseline, seconds
    gradients.csv       cell, seed, stage, distance, norm
    results.md          the command, the tables (tables.py) and the verdict
    gradient_flow.png   ||d loss / d h_t|| against distance from the end, log scale (plots.py)
    memory.png          score against lag, one line per cell
    results.html        with html=True: the same as one self-contained page (page.py)

The verdict (studies/verdict.py, in English and Vietnamese) is computed from the numbers; it says
what this run shows, including where that is not what the lecture claims.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rnnkit.files import write_file
from rnnkit.studies import tables
from rnnkit.studies.compare import CompareResults, MemoryResult
from rnnkit.studies.page import build_page
from rnnkit.studies.plots import gradient_flow_png, memory_png
from rnnkit.studies.summary import tasks
from rnnkit.studies.verdict import LANGS, findings, render, sentences

PAGE = "results.html"


def write_report(
    results: CompareResults, out: Path, command: str, html: bool = False, lang: str = "en"
) -> str:
    """Write every table and plot into `out` (created if needed); return the verdict in `lang`.

    `command` is the command line that made `results`, written at the top of each report."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csvs(results, out)
    found = findings(results)
    plots = {"gradient_flow.png": gradient_flow_png(results), "memory.png": memory_png(results)}
    for file, png in plots.items():
        write_file(out / file, png)
    verdict = render(found, "en")
    write_file(out / "results.md", markdown(results, command, verdict, render(found, "vi")))
    if html:
        verdicts = {lang: sentences(found, lang) for lang in LANGS}
        write_file(out / PAGE, build_page(results, command, verdicts, plots))
    return render(found, lang)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_file(path, text.getvalue())


def _write_csvs(results: CompareResults, out: Path) -> None:
    hidden = results.config.hidden_size
    _write_csv(
        out / "parameters.csv",
        ["cell", "hidden_size", "parameters"],
        [[cell, hidden, count] for cell, count in results.parameters.items()],
    )
    _write_csv(
        out / "memory.csv",
        ["task", "lag", "cell", "seed", "metric", "score", "loss", "chance", "baseline", "seconds"],
        [_memory_row(m) for m in results.memory],
    )
    _write_csv(
        out / "gradients.csv",
        ["cell", "seed", "stage", "distance", "norm"],
        [
            [g.cell, g.seed, g.stage, k, f"{norm:.4e}"]
            for g in results.gradients
            for k, norm in enumerate(g.norms)
        ],
    )


def _memory_row(m: MemoryResult) -> list:
    numbers = [f"{m.score:.4f}", *(f"{v:.4g}" for v in (m.loss, m.chance, m.baseline))]
    return [m.task, m.lag, m.cell, m.seed, m.metric, *numbers, f"{m.seconds:.1f}"]


def markdown(results: CompareResults, command: str, verdict: str, verdict_vi: str) -> str:
    lines = ["# rnnkit compare", "", f"    {command}", "", tables.settings(results), ""]
    lines += [f"- {what}: {value}" for what, value in results.machine.items()]
    lines += ["", "## Parameters at equal hidden size", ""]
    lines += [tables.markdown(tables.parameter_table(results)), ""]
    lines += ["## Memory over a distance (within the budget; higher scores are better)", ""]
    for task in tasks(results):
        lines += [tables.markdown(tables.score_table(results, task)), ""]
        lines += [tables.markdown(tables.loss_table(results, task)), ""]
    gradients = tables.gradient_table(results)
    if gradients is not None:
        lines += ["## Gradient flow", "", tables.markdown(gradients), ""]
    lines += ["## Verdict", "", verdict, "", "## Kết luận", "", verdict_vi, ""]
    return "\n".join(lines)
