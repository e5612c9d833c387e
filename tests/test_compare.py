"""rnnkit.studies.compare and report, and `rnnkit compare --quick` end to end."""

import csv
import dataclasses

import pytest

from rnnkit.cli.main import main
from rnnkit.studies.compare import (
    CompareConfig,
    CompareResults,
    GradientResult,
    MemoryResult,
    parameter_counts,
    run_compare,
)
from rnnkit.studies.report import make_verdict


def test_parameter_counts_follow_the_lecture_one_bias_per_gate():
    D, H = 3, 5
    counts = parameter_counts(("rnn", "lstm", "gru"), D, H)
    per_gate = H * D + H * H + H  # W (H x D), U (H x H), b (H)
    assert counts == {"rnn": per_gate, "lstm": 4 * per_gate, "gru": 3 * per_gate}


def test_the_same_seed_gives_the_same_numbers():
    config = CompareConfig.quick()
    config = dataclasses.replace(config, cells=("rnn",), lags=(4,))
    a = run_compare(config, log=lambda line: None)
    b = run_compare(config, log=lambda line: None)
    assert [m.score for m in a.memory] == [m.score for m in b.memory]
    assert a.gradients[1].norms == b.gradients[1].norms


def results(rnn_far: float, lstm_far: float, scores: dict) -> CompareResults:
    """Hand-made results: gradient norms 1 at the last step, `*_far` 9 steps back."""
    config = CompareConfig(lags=(10, 50))
    made = CompareResults(config, parameters={"rnn": 10, "lstm": 40, "gru": 30})
    for cell, far in (("rnn", rnn_far), ("lstm", lstm_far), ("gru", lstm_far)):
        for stage in ("init", "trained"):
            made.gradients.append(GradientResult(cell, stage, [1.0] + [0.5] * 8 + [far]))
    for (cell, lag), score in scores.items():
        made.memory.append(MemoryResult("copy", lag, cell, "accuracy", score, 0.0, 0.125))
    return made


SCORES = {
    ("rnn", 10): 0.95, ("rnn", 50): 0.2,
    ("lstm", 10): 1.0, ("lstm", 50): 0.92,
    ("gru", 10): 0.97, ("gru", 50): 0.96,
}  # fmt: skip


def test_verdict_reads_the_numbers():
    verdict = make_verdict(results(rnn_far=1e-8, lstm_far=1e-2, scores=SCORES))
    assert "RNN 1.0e-08, LSTM 1.0e-02" in verdict
    assert "LSTM carries 1e+06 times more gradient" in verdict
    assert "longest lag solved (score >= 0.9) is RNN 10, LSTM 50, GRU 50" in verdict
    assert "best mean score over the lags: GRU (0.965)" in verdict
    assert "LSTM 4.00x and GRU 3.00x" in verdict and "25% fewer" in verdict
    assert "the GRU matches the LSTM (mean score 0.965 against 0.960)" in verdict


def test_verdict_says_when_the_run_does_not_show_the_claim():
    scores = {**SCORES, ("lstm", 50): 0.1}
    verdict = make_verdict(results(rnn_far=1e-2, lstm_far=1e-2, scores=scores))
    assert "does not show the LSTM carrying more gradient" in verdict
    assert "the GRU beats the LSTM" in verdict


def test_rnnkit_compare_quick_writes_tables_plots_and_a_verdict(tmp_path, capsys):
    out = tmp_path / "compare"
    assert main(["compare", "--out", str(out), "--quick", "--seed", "1", "--steps", "3"]) == 0
    report = (out / "results.md").read_text()
    assert "Seed 1;" in report and "3 Adam steps" in report and "## Verdict" in report
    for plot in ("gradient_flow.png", "memory.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    quick = CompareConfig.quick()
    with open(out / "memory.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(quick.cells) * 2 * len(quick.lags)  # cells x tasks x lags
    with open(out / "gradients.csv") as file:
        gradient_rows = list(csv.DictReader(file))
    assert len(gradient_rows) == len(quick.cells) * 2 * max(quick.lags)  # init and trained
    with open(out / "parameters.csv") as file:
        assert [row["cell"] for row in csv.DictReader(file)] == list(quick.cells)
    assert "tables and plots in" in capsys.readouterr().out


def test_rnnkit_compare_refuses_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("keep me")
    assert main(["compare", "--out", str(tmp_path), "--quick"]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "old.txt").read_text() == "keep me"


def test_rnnkit_compare_refuses_a_zero_budget(tmp_path, capsys):
    assert main(["compare", "--out", str(tmp_path / "x"), "--quick", "--steps", "0"]) == 2
    assert "--steps must be a positive integer, got 0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("lags", [(1, 5), (0,)])
def test_lags_below_two_are_refused(lags):
    with pytest.raises(ValueError, match="at least 2"):
        run_compare(CompareConfig(lags=lags), log=lambda line: None)
