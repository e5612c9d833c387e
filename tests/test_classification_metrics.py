"""rnnkit.metrics.classification against hand-computed confusion matrices."""

import math

import numpy as np
import pytest

from rnnkit.metrics import ClassificationScores, confusion_matrix, format_confusion, plot_confusion

# 3 classes. True:      0 0 0 1 1 2
#            Predicted: 0 0 1 1 2 2
TARGETS = [0, 0, 0, 1, 1, 2]
PREDICTIONS = [0, 0, 1, 1, 2, 2]


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    expected = [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    np.testing.assert_array_equal(confusion_matrix(TARGETS, PREDICTIONS, 3), expected)


def test_accuracy_precision_recall_by_hand():
    scores = ClassificationScores.from_predictions(TARGETS, PREDICTIONS, ["a", "b", "c"])
    assert scores.accuracy == pytest.approx(4 / 6)
    # precision: a 2/2, b 1/2, c 1/2; recall: a 2/3, b 1/2, c 1/1
    np.testing.assert_allclose(scores.precision, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(scores.recall, [2 / 3, 0.5, 1.0])
    assert scores.support.tolist() == [3, 2, 1]


def test_undefined_ratios_are_nan_in_numbers_dash_in_text_and_null_in_json():
    # class "c" is never true and never predicted; "b" is never predicted
    scores = ClassificationScores.from_predictions([0, 1], [0, 0], ["a", "b", "c"])
    assert math.isnan(scores.precision[1]) and math.isnan(scores.precision[2])
    assert scores.recall[1] == 0.0 and math.isnan(scores.recall[2])
    summary = scores.to_dict()
    assert summary["precision"] == [0.5, None, None]
    assert summary["recall"] == [1.0, 0.0, None]
    assert summary["accuracy"] == 0.5
    row_c = next(line for line in scores.report().splitlines() if line.startswith("c "))
    assert row_c.split() == ["c", "-", "-", "0"]


def test_report_and_confusion_text_show_the_counts():
    scores = ClassificationScores.from_predictions(TARGETS, PREDICTIONS, ["a", "b", "c"])
    report = scores.report()
    assert report.splitlines()[0] == "accuracy 0.6667 (4/6)"
    table = format_confusion(scores.confusion, scores.classes).splitlines()
    assert table[0].split()[-3:] == ["a", "b", "c"]
    assert table[1].split()[-4:] == ["a", "2", "1", "0"]
    assert table[3].split()[-4:] == ["c", "0", "0", "1"]
    assert "\n".join(table) in report


def test_plot_confusion_writes_a_png(tmp_path):
    path = tmp_path / "confusion.png"
    plot_confusion(confusion_matrix(TARGETS, PREDICTIONS, 3), ["a", "b", "c"], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
