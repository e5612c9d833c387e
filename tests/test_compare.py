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
from rnnkit.studies.verdict import SENTENCES, Finding, findings, render


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


def test_the_findings_are_the_numbers():
    found = {f.key: f.values for f in findings(results(rnn_far=1e-8, lstm_far=1e-2, scores=SCORES))}
    # Reach = ||g| 9 steps back / ||g|| at the end: the hand-made norms end at `far`, start at 1.
    assert found["reach_trained"] == {
        "distance": 9,
        "reach": {"rnn": 1e-8, "lstm": 1e-2, "gru": 1e-2},
    }
    assert found["lstm_carries_more"]["ratio"] == pytest.approx(1e6)
    # copy: RNN solves lag 10 only (0.2 < 0.9 at 50); LSTM and GRU both lags; GRU's mean is best.
    assert found["memory"] == {
        "task": "copy",
        "solved": {"rnn": 10, "lstm": 50, "gru": 50},
        "best": "gru",
        "mean": pytest.approx((0.97 + 0.96) / 2),
    }
    assert found["weights"] == pytest.approx(
        {"lstm_times": 4.0, "gru_times": 3.0, "gru_fewer": 0.25}
    )
    assert found["gru_matches"] == pytest.approx({"gru": 0.965, "lstm": 0.96})


def test_findings_say_when_the_run_does_not_show_the_claim():
    scores = {**SCORES, ("lstm", 50): 0.1}  # the LSTM fails its longer lag
    found = {f.key: f.values for f in findings(results(rnn_far=1e-2, lstm_far=1e-2, scores=scores))}
    assert "lstm_carries_more" not in found and found["lstm_not_shown"]["ratio"] == 1.0
    assert found["memory"]["solved"]["lstm"] == 10
    assert "gru_beats" in found  # 0.965 against 0.55


def test_every_finding_is_said_in_every_language_with_its_numbers():
    assert set(SENTENCES["en"]) == set(SENTENCES["vi"])
    made = results(rnn_far=1e-8, lstm_far=1e-2, scores=SCORES)
    extra = [Finding("lstm_not_shown", {"ratio": 2.0, "distance": 9})]
    extra += [Finding(f"gru_{o}", {"gru": 0.5, "lstm": 0.7}) for o in ("beats", "falls_short")]
    for lang in SENTENCES:
        text = render(findings(made) + extra, lang)
        for number in ("1.0e-08", "1e+06", "4.00", "3.00", "25%", "0.965", "0.960", "LSTM 50"):
            assert number in text, (lang, number)
        assert len(text.splitlines()) == len(findings(made)) + len(extra)


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
