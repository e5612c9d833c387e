"""rnnkit.studies.tables: the tables of results.md and the page, from hand-made results."""

import math

from compare_results import FAR, LECTURE, made
from rnnkit.studies import tables


def test_parameter_table_counts_against_the_vanilla_rnn():
    table = tables.parameter_table(made(FAR, LECTURE))
    assert table.rows == [["RNN", "10", "1.00"], ["LSTM", "40", "4.00"], ["GRU", "30", "3.00"]]


def test_score_table_shows_the_mean_and_range_over_seeds():
    table = tables.score_table(made(FAR, LECTURE), "adding")
    assert table.header == ["lag", "RNN", "LSTM", "GRU"]
    assert table.rows[1] == ["50", "0.060 (0.020 to 0.100)", "0.945 (0.930 to 0.960)",
                             "0.960 (0.950 to 0.970)"]  # fmt: skip
    assert "over 2 seed(s)" in table.caption and "solved at 0.9" in table.caption


def test_copy_loss_table_carries_both_baselines():
    table = tables.loss_table(made(FAR, LECTURE), "copy")
    assert table.header[-2:] == ["baseline", "baseline per step (Arjovsky et al.)"]
    # S = 2 symbols of K = 4: ln 4 per recalled symbol; over 2S + lag steps at lag 10, 2 ln 4 / 14.
    assert table.rows[0][-2:] == [f"{math.log(4):.3f}", f"{2 * math.log(4) / 14:.4f}"]
    assert "10 ln 8 / (T + 20)" in table.caption
    assert tables.loss_table(made(FAR, LECTURE), "adding").rows[0][-1] == "0.167"


def test_gradient_table_picks_distances_within_the_sequence():
    table = tables.gradient_table(made(FAR, LECTURE))
    assert table.header == ["cell", "stage", "0", "1", "9"]  # T = 10: 0, 1 and the first step
    assert table.rows[0] == ["RNN", "init", "1.0e+00", "5.0e-01", "1.0e-07"]


def test_markdown_table():
    text = tables.markdown(tables.Table("What it is.", ["a", "b"], [["1", "2"]]))
    assert text == "What it is.\n\n| a | b |\n|---|---|\n| 1 | 2 |"
