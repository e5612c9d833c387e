"""The compare study's output folder: CSV and Markdown tables, PNG plots, and a verdict.

    parameters.csv      cell, hidden_size, parameters
    memory.csv          task, lag, cell, score, loss, chance
    gradients.csv       cell, stage, distance, norm
    results.md          the three tables and the verdict
    gradient_flow.png   ||d loss / d h_t|| against distance from the end, log scale
    memory.png          score against lag, one line per cell

The verdict is computed from the numbers, sentence by sentence; it says what this run shows,
including where that is not what the lecture claims.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from rnnkit.files import write_file, write_with
from rnnkit.studies.compare import CompareResults

SOLVED = 0.9  # a score (R^2 or accuracy) at or above this counts as "solved"
SIMILAR = 0.05  # mean scores closer than this count as a match
GRADIENT_DISTANCES = (0, 1, 10, 50, 100, 200)  # columns of the gradient table (those < T)
NAMES = {"rnn": "RNN", "rnn-relu": "RNN (ReLU)", "lstm": "LSTM", "gru": "GRU", "gru-after": "GRU*"}


def name(cell: str) -> str:
    return NAMES.get(cell, cell)


def write_report(results: CompareResults, out: Path) -> str:
    """Write every table and plot into `out` (created if needed); return the verdict."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csvs(results, out)
    verdict = make_verdict(results)
    write_file(out / "results.md", markdown(results, verdict))
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
def markdown(results: CompareResults, verdict: str) -> str:
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
    lines += ["## Verdict", "", verdict, ""]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _times(count: int, reference: int | None) -> str:
    return f"{count / reference:.2f}" if reference else "-"


# ----- the verdict ---------------------------------------------------------------------------
def make_verdict(results: CompareResults) -> str:
    """Sentences computed from the numbers: gradient reach, memory reach, weights."""
    sentences = _gradient_sentences(results) + _memory_sentences(results)
    sentences += _weight_sentences(results)
    return "\n".join(f"- {s}" for s in sentences)


def gradient_reach(norms: list[float]) -> float:
    """How much of the last step's gradient reaches the first step: ||g_1|| / ||g_T||."""
    return norms[-1] / norms[0] if norms[0] > 0 else 0.0


def _gradient_sentences(results: CompareResults) -> list[str]:
    if not results.gradients:
        return []
    T = len(results.gradients[0].norms)
    sentences = []
    reach: dict[tuple[str, str], float] = {}
    for stage in ("init", "trained"):
        found = [g for g in results.gradients if g.stage == stage]
        for g in found:
            reach[g.cell, stage] = gradient_reach(g.norms)
        parts = ", ".join(f"{name(g.cell)} {reach[g.cell, stage]:.1e}" for g in found)
        when = "at initialisation" if stage == "init" else "after training"
        sentences.append(
            f"Gradient flow {when}: the share of the last step's gradient that reaches "
            f"{T - 1} steps back is {parts}."
        )
    if ("rnn", "trained") in reach and ("lstm", "trained") in reach:
        ratio = reach["lstm", "trained"] / max(reach["rnn", "trained"], 1e-300)
        if ratio > 10:
            sentences.append(
                f"After training the LSTM carries {ratio:.3g} times more gradient across "
                f"{T - 1} steps than the vanilla RNN, as the lecture says: the LSTM was made to "
                "fix the vanilla RNN's vanishing gradient."
            )
        else:
            sentences.append(
                "This run does not show the LSTM carrying more gradient over distance than the "
                f"vanilla RNN (ratio {ratio:.1g}); a larger --steps budget may."
            )
    return sentences


def _memory_sentences(results: CompareResults) -> list[str]:
    cells = list(results.config.cells)
    sentences = []
    for task in dict.fromkeys(m.task for m in results.memory):
        rows = [m for m in results.memory if m.task == task]
        solved = []
        for cell in cells:
            lags = [m.lag for m in rows if m.cell == cell and m.score >= SOLVED]
            solved.append(f"{name(cell)} {max(lags) if lags else 'none'}")
        means = {c: float(np.mean([m.score for m in rows if m.cell == c])) for c in cells}
        best = max(means, key=means.get)
        sentences.append(
            f"{task}: longest lag solved (score >= {SOLVED}) is {', '.join(solved)}; "
            f"best mean score over the lags: {name(best)} ({means[best]:.3f})."
        )
    return sentences


def _weight_sentences(results: CompareResults) -> list[str]:
    counts = results.parameters
    if not {"rnn", "lstm", "gru"} <= counts.keys():
        return []
    sentences = [
        f"Weights at equal hidden size: LSTM {counts['lstm'] / counts['rnn']:.2f}x and GRU "
        f"{counts['gru'] / counts['rnn']:.2f}x the vanilla RNN's; the GRU has "
        f"{1 - counts['gru'] / counts['lstm']:.0%} fewer than the LSTM."
    ]
    mean = {
        cell: float(np.mean([m.score for m in results.memory if m.cell == cell]))
        for cell in ("lstm", "gru")
    }
    gap = mean["gru"] - mean["lstm"]
    if abs(gap) < SIMILAR:
        outcome = "matches"
    elif gap > 0:
        outcome = "beats"
    else:
        outcome = "falls short of"
    sentences.append(
        f"Over every task and lag the GRU {outcome} the LSTM (mean score {mean['gru']:.3f} "
        f"against {mean['lstm']:.3f}) with fewer weights."
    )
    return sentences


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
