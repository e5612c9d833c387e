"""The compare study's output folder: CSV and Markdown tables, PNG plots, and a verdict.

    parameters.csv      cell, hidden_size, parameters
    memory.csv          task, lag, cell, score, loss, chance
    gradients.csv       cell, stage, distance, norm
    results.md          the three tables and the verdict
    gradient_flow.png   ||d loss / d h_t|| against distance from the end, log scale
    memory.png          score against lag, one line per cell

The verdict (studies/verdict.py, in English and Vietnamese) is computed from the numbers; it says
what this run shows, including where that is not what the lecture claims.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from rnnkit.files import write_file, write_with
from rnnkit.studies.compare import CompareResults
from rnnkit.studies.verdict import findings, name, render

GRADIENT_DISTANCES = (0, 1, 10, 50, 100, 200)  # columns of the gradient table (those < T)


def write_report(results: CompareResults, out: Path) -> str:
    """Write every table and plot into `out` (created if needed); return the verdict."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csvs(results, out)
    found = findings(results)
    verdict = render(found, "en")
    write_file(out / "results.md", markdown(results, verdict, render(found, "vi")))
    plot_gradient_flow(results, out / "gradient_flow.png")
    plot_memory(results, out / "memory.png")
    return verdict


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
        ["task", "lag", "cell", "metric", "score", "loss", "chance"],
        [
            [m.task, m.lag, m.cell, m.metric, f"{m.score:.4f}", f"{m.loss:.4g}", f"{m.chance:.4g}"]
            for m in results.memory
        ],
    )
    _write_csv(
        out / "gradients.csv",
        ["cell", "stage", "distance", "norm"],
        [
            [g.cell, g.stage, k, f"{norm:.4e}"]
            for g in results.gradients
            for k, norm in enumerate(g.norms)
        ],
    )


# ----- Markdown ------------------------------------------------------------------------------
def markdown(results: CompareResults, verdict: str, verdict_vi: str) -> str:
    config = results.config
    cells = list(config.cells)
    lines = [
        "# rnnkit compare",
        "",
        f"Seed {config.seed}; hidden size {config.hidden_size}; {config.steps} Adam steps "
        f"(learning rate {config.learning_rate:g}, batch {config.batch_size}) per cell, task "
        f"and lag; scores on {config.eval_size} held-out sequences.",
        "",
        "## Parameters at equal hidden size",
        "",
        _table(
            ["cell", "parameters", "x RNN"],
            [
                [name(c), str(n), _times(n, results.parameters.get("rnn"))]
                for c, n in results.parameters.items()
            ],
        ),
        "",
        "## Memory over a distance (score within the budget; higher is better)",
        "",
    ]
    for task in dict.fromkeys(m.task for m in results.memory):
        rows = [m for m in results.memory if m.task == task]
        score = {(m.lag, m.cell): m.score for m in rows}
        lags = list(dict.fromkeys(m.lag for m in rows))
        lines += [
            f"{task}, {rows[0].metric} (chance {rows[0].chance:.3g}):",
            "",
            _table(
                ["lag", *(name(c) for c in cells)],
                [[str(lag), *(f"{score[lag, c]:.3f}" for c in cells)] for lag in lags],
            ),
            "",
        ]
    if results.gradients:
        T = len(results.gradients[0].norms)
        distances = [d for d in GRADIENT_DISTANCES if d < T]
        lines += [
            f"## Gradient flow: mean ||d loss / d h_t|| at distance T - t (adding, T = {T})",
            "",
            _table(
                ["cell", "stage", *(str(d) for d in distances)],
                [
                    [name(g.cell), g.stage, *(f"{g.norms[d]:.1e}" for d in distances)]
                    for g in results.gradients
                ],
            ),
            "",
        ]
    lines += ["## Verdict", "", verdict, "", "## Kết luận", "", verdict_vi, ""]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _times(count: int, reference: int | None) -> str:
    return f"{count / reference:.2f}" if reference else "-"


# ----- plots ---------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_gradient_flow(results: CompareResults, path: Path) -> None:
    """Two panels (initialisation, trained): norm against distance from the end, log y."""
    plt = _pyplot()
    figure, panels = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for axes, stage in zip(panels, ("init", "trained"), strict=True):
        for g in results.gradients:
            if g.stage == stage:
                # Log scale needs > 0; float32 gradients underflow to 0 below ~1e-45.
                norms = np.maximum(np.asarray(g.norms), 1e-40)
                axes.semilogy(np.arange(len(norms)), norms, label=name(g.cell))
        axes.set_title("at initialisation" if stage == "init" else "after training")
        axes.set_xlabel("distance from the end, T - t")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    panels[0].set_ylabel("mean ||d loss / d h_t||")
    figure.suptitle("Gradient flow on the adding problem")
    figure.tight_layout()
    write_with(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)


def plot_memory(results: CompareResults, path: Path) -> None:
    """One panel per task: score against lag, one line per cell, chance dashed."""
    plt = _pyplot()
    tasks = list(dict.fromkeys(m.task for m in results.memory))
    figure, panels = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for axes, task in zip(panels[0], tasks, strict=True):
        rows = [m for m in results.memory if m.task == task]
        for cell in results.config.cells:
            mine = [m for m in rows if m.cell == cell]
            axes.plot([m.lag for m in mine], [m.score for m in mine], "o-", label=name(cell))
        axes.axhline(rows[0].chance, color="gray", linestyle="--", label="chance")
        # Far-below-chance scores (an untrained read-out) would squash the interesting range.
        axes.set_ylim(min(rows[0].chance, 0.0) - 0.25, 1.05)
        axes.set_xscale("log")
        lags = sorted({m.lag for m in rows})
        axes.set_xticks(lags, labels=[str(lag) for lag in lags])
        axes.minorticks_off()
        axes.set_title(task)
        axes.set_xlabel("lag (steps to remember)")
        axes.set_ylabel(rows[0].metric)
        axes.grid(True, alpha=0.3)
        axes.legend()
    figure.suptitle(f"Score after {results.config.steps} Adam steps (higher is better)")
    figure.tight_layout()
    write_with(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)
