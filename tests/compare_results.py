"""Hand-made compare results with known numbers, for the tests of the verdict, tables and page."""

from __future__ import annotations

from rnnkit.studies.compare import CompareConfig, CompareResults, GradientResult, MemoryResult

SEEDS = (0, 1)
LAGS = (10, 50)


def made(
    far: dict[str, tuple[float, float]], scores: dict[tuple[str, str, int], tuple[float, float]]
) -> CompareResults:
    """Results on SEEDS and LAGS. `far[cell]`: for each seed, the gradient norm 9 steps back (the
    norm at the last step is 1, so it is also the reach). `scores[task, cell, lag]`: for each
    seed, the score; the loss is (1 - score) times the task's baseline, as for the adding
    problem's R^2."""
    config = CompareConfig(lags=LAGS, seeds=SEEDS, copy_symbols=2, copy_alphabet=4)
    results = CompareResults(config, parameters={"rnn": 10, "lstm": 40, "gru": 30})
    for cell, per_seed in far.items():
        for seed, norm in zip(SEEDS, per_seed, strict=True):
            for stage in ("init", "trained"):
                results.gradients.append(
                    GradientResult(cell, seed, stage, [1.0] + [0.5] * 8 + [norm])
                )
    for (task, cell, lag), per_seed in scores.items():
        memory = config.task(task)
        for seed, score in zip(SEEDS, per_seed, strict=True):
            loss = (1 - score) * memory.baseline
            results.memory.append(
                MemoryResult(
                    task,
                    lag,
                    cell,
                    seed,
                    memory.score_name,
                    score,
                    loss,
                    memory.chance,
                    memory.baseline,
                    1.0,
                )
            )
    return results


# The lecture's picture: the LSTM and GRU solve both lags of the adding problem on both seeds,
# the vanilla RNN only the short one; on copy memory nobody solves lag 50.
LECTURE = {
    ("adding", "rnn", 10): (0.95, 0.92), ("adding", "rnn", 50): (0.02, 0.10),
    ("adding", "lstm", 10): (0.99, 0.98), ("adding", "lstm", 50): (0.93, 0.96),
    ("adding", "gru", 10): (0.99, 0.99), ("adding", "gru", 50): (0.97, 0.95),
    ("copy", "rnn", 10): (1.0, 0.5), ("copy", "rnn", 50): (0.3, 0.25),
    ("copy", "lstm", 10): (0.95, 0.97), ("copy", "lstm", 50): (0.4, 0.3),
    ("copy", "gru", 10): (0.96, 0.97), ("copy", "gru", 50): (0.35, 0.3),
}  # fmt: skip
FAR = {"rnn": (1e-8, 1e-6), "lstm": (1e-2, 1e-3), "gru": (1e-2, 1e-2)}
