"""The compare study's tables, as data: results.md and the HTML page render the same ones.

settings     one paragraph: seeds, model, optimiser, budget, held-out data
parameters   weights of each cell at equal hidden size
scores       per task: score against lag, per cell the mean (lowest to highest) over seeds
losses       per task: held-out loss against lag, beside the memoryless baseline
gradients    ||d loss / d h_t|| at a few distances, geometric mean over seeds
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.layers import display_name
from rnnkit.studies import summary
from rnnkit.studies.compare import CompareResults
from rnnkit.studies.memory_tasks import CopyMemory
from rnnkit.studies.verdict import SOLVED

GRADIENT_DISTANCES = (0, 1, 10, 50, 100, 200)  # columns of the gradient table (those < T)


@dataclass(frozen=True)
class Table:
    caption: str  # one sentence above the table: what its numbers are
    header: list[str]
    rows: list[list[str]]


def settings(results: CompareResults) -> str:
    config = results.config
    seeds = ", ".join(str(seed) for seed in config.seeds)
    rates = ", ".join(
        f"{display_name(cell)} {config.learning_rate(cell):g}" for cell in config.cells
    )
    return (
        f"Seeds {seeds}; hidden size {config.hidden_size} for every cell; rnnkit's init "
        f"{config.init!r}; {config.steps} Adam steps (learning rate {rates}, "
        f"batch {config.batch_size}, gradient norm clipped at {config.clip_norm:g}) per cell, "
        f"task, lag and seed; scores on {config.eval_size} held-out sequences per seed."
    )


def parameter_table(results: CompareResults) -> Table:
    reference = results.parameters.get("rnn")
    return Table(
        "Weights of each recurrent layer alone at equal hidden size.",
        ["cell", "parameters", "x RNN"],
        [
            [display_name(c), str(n), f"{n / reference:.2f}" if reference else "-"]
            for c, n in results.parameters.items()
        ],
    )


def score_table(results: CompareResults, task: str) -> Table:
    example = summary.first(results, task)
    seeds = len(results.config.seeds)
    cells = results.config.cells
    return Table(
        f"{task}: {example.metric}, mean (lowest to highest) over {seeds} seed(s); chance "
        f"{example.chance:.3g}, solved at {SOLVED}.",
        ["lag", *(display_name(c) for c in cells)],
        [
            [str(lag), *(summary.scores(results, task, lag, c).text() for c in cells)]
            for lag in summary.lags(results, task)
        ],
    )


def loss_table(results: CompareResults, task: str) -> Table:
    """The held-out loss beside the memoryless baseline; for copy memory, also the baseline as
    Arjovsky et al. count it (averaged over every step of the sequence)."""
    example = summary.first(results, task)
    memory = results.config.task(task)
    cells = results.config.cells
    per_step = isinstance(memory, CopyMemory)
    header = ["lag", *(display_name(c) for c in cells), "baseline"]
    header += ["baseline per step (Arjovsky et al.)"] if per_step else []
    rows = []
    for lag in summary.lags(results, task):
        row = [str(lag), *(summary.losses(results, task, lag, c).text(".3g") for c in cells)]
        row.append(f"{example.baseline:.3f}")
        row += [f"{memory.baseline_per_step(lag):.4f}"] if per_step else []
        rows.append(row)
    caption = f"{task}: {memory.loss_name} on held-out sequences. {_baseline(memory)}"
    return Table(caption, header, rows)


def _baseline(memory) -> str:
    """What the memoryless baseline of a task is, in one sentence."""
    if isinstance(memory, CopyMemory):
        S, K = memory.symbols, memory.alphabet
        return (
            f"Memoryless baseline: a uniform guess, ln {K} = {memory.baseline:.3f} per recalled "
            f"symbol; averaged over all 2S + lag steps, where the blanks cost a memoryless model "
            f"nothing, it is S ln K / (2S + lag) with S = {S}, K = {K}: Arjovsky et al.'s "
            "10 ln 8 / (T + 20) for their S = 10, K = 8."
        )
    return (
        f"Memoryless baseline: always answering the mean 1, MSE 1/6 = {memory.baseline:.3f} "
        "(Arjovsky et al.'s 0.167)."
    )


def gradient_table(results: CompareResults) -> Table | None:
    curves = summary.gradient_curves(results)
    if not curves:
        return None
    T = len(next(iter(curves.values())))
    distances = sorted({d for d in GRADIENT_DISTANCES if d < T} | {T - 1})
    seeds = len(results.config.seeds)
    return Table(
        f"Gradient flow: ||d loss / d h_t|| at distance T - t on the adding problem, T = {T}, "
        f"mean over the batch, geometric mean over {seeds} seed(s).",
        ["cell", "stage", *(str(d) for d in distances)],
        [
            [display_name(cell), stage, *(f"{norms[d]:.1e}" for d in distances)]
            for (cell, stage), norms in curves.items()
        ],
    )


def markdown(table: Table) -> str:
    lines = [table.caption, "", "| " + " | ".join(table.header) + " |"]
    lines.append("|" + "---|" * len(table.header))
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join(lines)
