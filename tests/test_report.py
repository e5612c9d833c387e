"""rnnkit.studies.report: the folder `rnnkit compare` writes, from hand-made results."""

import csv

from compare_results import FAR, LECTURE, made
from rnnkit.studies import tables
from rnnkit.studies.report import PAGE, write_report
from rnnkit.studies.verdict import findings, render


def test_report_writes_the_numbers_tables_and_both_verdicts(tmp_path):
    results = made(FAR, LECTURE)
    results.machine = {"CPU": "a test machine"}
    verdict = write_report(results, tmp_path, "rnnkit compare --out x")
    assert verdict == render(findings(results), "en")
    with open(tmp_path / "memory.csv") as file:
        memory = list(csv.DictReader(file))
    assert len(memory) == len(results.memory)
    assert (memory[0]["task"], memory[0]["cell"], memory[0]["seed"], memory[0]["score"]) == (
        "adding", "rnn", "0", "0.9500")  # fmt: skip
    report = (tmp_path / "results.md").read_text()
    assert report.startswith("# rnnkit compare\n\n    rnnkit compare --out x\n")
    assert "- CPU: a test machine" in report
    assert tables.markdown(tables.score_table(results, "copy")) in report
    assert verdict in report and render(findings(results), "vi") in report
    assert not (tmp_path / PAGE).exists()
    write_report(results, tmp_path, "rnnkit compare --out x --html", html=True)
    assert "rnnkit compare --out x --html" in (tmp_path / PAGE).read_text()
