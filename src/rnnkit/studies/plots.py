"""The compare study's two plots, as PNG bytes (written to files and inlined in the page).

gradient flow   ||d loss / d h_t|| against the distance from the end, log scale, before and
                after training: one thick line per cell (the geometric mean over seeds) and
                one thin line per seed
memory          per task, the score against the lag: each cell's mean over seeds, with a bar
                from its lowest to its highest seed; chance dashed
"""

from __future__ import annotations

import io

import numpy as np

from rnnkit.layers import display_name
from rnnkit.studies import summary
from rnnkit.studies.compare import CompareResults

# Log axes need > 0: a gradient that underflowed to 0 is drawn where summary counts it, at the
# smallest float32 above 0.
FLOOR = summary.TINY


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    _pyplot().close(figure)
    return buffer.getvalue()


def gradient_flow_png(results: CompareResults) -> bytes:
    """Two panels (initialisation, trained): norm against distance from the end, log y."""
    plt = _pyplot()
    figure, panels = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    curves = summary.gradient_curves(results)
    for axes, stage in zip(panels, ("init", "trained"), strict=True):
        for k, cell in enumerate(results.config.cells):
            if (cell, stage) in curves:
                _semilog(
                    axes, curves[cell, stage], color=f"C{k}", linewidth=2, label=display_name(cell)
                )
            for g in results.gradients:
                if (g.cell, g.stage) == (cell, stage):
                    _semilog(axes, g.norms, color=f"C{k}", linewidth=0.6, alpha=0.4)
        if any(min(g.norms) <= 0 for g in results.gradients if g.stage == stage):
            label = f"underflowed to 0 in float32 (drawn at {FLOOR:.1e})"
            axes.axhline(FLOOR, color="gray", linestyle=":", linewidth=1, label=label)
        axes.set_title("at initialisation" if stage == "init" else "after training")
        axes.set_xlabel("distance from the end, T - t")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    panels[0].set_ylabel("||d loss / d h_t||, mean over the batch")
    seeds = len(results.config.seeds)
    figure.suptitle(
        f"Gradient flow on the adding problem (thick: geometric mean of {seeds} seeds; thin: each)"
    )
    figure.tight_layout()
    return _png(figure)


def _semilog(axes, norms: list[float], **style) -> None:
    values = np.maximum(np.asarray(norms), FLOOR)
    axes.semilogy(np.arange(len(values)), values, **style)


def memory_png(results: CompareResults) -> bytes:
    """One panel per task: score against lag, one line per cell, chance dashed."""
    plt = _pyplot()
    tasks = summary.tasks(results)
    figure, panels = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for axes, task in zip(panels[0], tasks, strict=True):
        lags = summary.lags(results, task)
        example = summary.first(results, task)
        for cell in results.config.cells:
            spreads = [summary.scores(results, task, lag, cell) for lag in lags]
            mean = np.array([s.mean for s in spreads])
            below = mean - np.array([s.low for s in spreads])
            above = np.array([s.high for s in spreads]) - mean
            axes.errorbar(
                lags, mean, yerr=[below, above], fmt="o-", capsize=4, label=display_name(cell)
            )
        axes.axhline(example.chance, color="gray", linestyle="--", label="chance")
        lowest = min(m.score for m in results.memory if m.task == task)
        # An R^2 far below 0 (a read-out worse than the baseline) would squash the range that
        # matters, so the axis stops at -1: such a point sits below the plot, in the table.
        axes.set_ylim(max(min(example.chance, lowest), -1.0) - 0.05, 1.05)
        axes.set_xscale("log")
        axes.set_xticks(lags, labels=[str(lag) for lag in lags])
        axes.minorticks_off()
        axes.set_title(task)
        axes.set_xlabel("lag (steps to remember)")
        axes.set_ylabel(example.metric)
        axes.grid(True, alpha=0.3)
        axes.legend()
    config = results.config
    figure.suptitle(
        f"Score after {config.steps} Adam steps: mean of {len(config.seeds)} seeds, bars from "
        "the lowest to the highest"
    )
    figure.tight_layout()
    return _png(figure)
