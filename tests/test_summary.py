"""rnnkit.studies.summary: spreads over seeds, geometric means of gradient norms, reach."""

import math

import pytest

from compare_results import FAR, LECTURE, made
from rnnkit.studies import summary
from rnnkit.studies.summary import Spread


def test_spread_of_values_and_its_text():
    spread = Spread.of([0.9, 0.5, 0.7])
    assert (spread.mean, spread.low, spread.high, spread.count) == pytest.approx((0.7, 0.5, 0.9, 3))
    assert spread.text() == "0.700 (0.500 to 0.900)"
    assert Spread.of([0.25]).text(".2f") == "0.25"


def test_geometric_spread_is_the_mean_of_the_logarithms_and_survives_zero():
    assert Spread.geometric([1e-2, 1e-6]).mean == pytest.approx(1e-4)
    underflowed = Spread.geometric([0.0, 1.0])
    assert underflowed.low == 0.0 and underflowed.mean == pytest.approx(math.sqrt(summary.TINY))


def test_runs_scores_and_losses_of_one_piece():
    results = made(FAR, LECTURE)
    assert [m.seed for m in summary.runs(results, "adding", 50, "lstm")] == [0, 1]
    assert summary.scores(results, "adding", 50, "lstm").text() == "0.945 (0.930 to 0.960)"
    # Hand-made losses are (1 - score) x baseline, 1/6 for the adding problem.
    assert summary.losses(results, "adding", 10, "gru").mean == pytest.approx(0.01 / 6)
    assert summary.tasks(results) == ["adding", "copy"] and summary.lags(results, "copy") == [
        10,
        50,
    ]


def test_gradient_curves_and_reach():
    results = made(FAR, LECTURE)
    curves = summary.gradient_curves(results)
    assert curves["rnn", "trained"][-1] == pytest.approx(1e-7)  # geometric mean of 1e-8, 1e-6
    assert curves["lstm", "init"][:2] == pytest.approx([1.0, 0.5])
    assert summary.reaches(results, "trained")["lstm"] == pytest.approx({0: 1e-2, 1: 1e-3})
    assert summary.reach([0.0, 0.0]) == 0.0  # nothing reached the end: nothing to share
