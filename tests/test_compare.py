"""rnnkit.studies.compare, and `rnnkit compare` end to end on a tiny budget."""

import csv
import dataclasses
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import rnnkit_process
from rnnkit.cli.main import main
from rnnkit.errors import RnnkitError
from rnnkit.studies.compare import CompareConfig, parameter_counts, pieces, run_compare

TINY = dataclasses.replace(CompareConfig.quick(), cells=("rnn",), lags=(4,), steps=3)


def quiet(line: str) -> None:
    pass


def test_parameter_counts_follow_the_lecture_one_bias_per_gate():
    D, H = 3, 5
    counts = parameter_counts(("rnn", "lstm", "gru"), D, H)
    per_gate = H * D + H * H + H  # W (H x D), U (H x H), b (H)
    assert counts == {"rnn": per_gate, "lstm": 4 * per_gate, "gru": 3 * per_gate}


def test_pieces_cover_every_cell_task_lag_and_seed_once():
    config = CompareConfig(cells=("rnn", "lstm"), lags=(3, 7), seeds=(5, 6))
    made = pieces(config)
    keys = [(p.task, p.lag, p.cell, p.seed) for p in made]
    assert keys == sorted(set(keys), key=keys.index) and len(keys) == 2 * 2 * 2 * 2
    # Gradient flow is measured on the adding problem at the longest lag only, on every seed.
    tracked = {(p.task, p.lag) for p in made if p.track_gradients}
    assert tracked == {("adding", 7)}
    assert sum(p.track_gradients for p in made) == 2 * 2  # cells x seeds


def test_the_same_seed_gives_the_same_numbers_in_workers_too():
    a = run_compare(TINY, log=quiet)
    b = run_compare(TINY, log=quiet, jobs=2)
    assert [(m.task, m.seed, m.score, m.loss) for m in a.memory] == [
        (m.task, m.seed, m.score, m.loss) for m in b.memory
    ]
    assert [g.norms for g in a.gradients] == [g.norms for g in b.gradients]


def test_each_seed_has_its_own_weights_and_data():
    results = run_compare(TINY, log=quiet)
    first, second = ([m.loss for m in results.memory if m.seed == s] for s in TINY.seeds)
    assert all(a != b for a, b in zip(first, second, strict=True))


def rows(path) -> list[dict]:
    with open(path) as file:
        return list(csv.DictReader(file))


def test_rnnkit_compare_writes_tables_plots_verdict_and_page(tmp_path, capsys):
    out = tmp_path / "compare"
    args = ["compare", "--out", str(out), "--quick", "--html", "--budget", "3", "--seeds", "3"]
    assert main([*args, "--seed", "4"]) == 0
    report = (out / "results.md").read_text()
    command = f"rnnkit compare --out {out} --quick --html --budget 3 --seeds 3 --seed 4 --jobs 1"
    assert f"    {command}" in report  # the command that repeats the run, as a code block
    assert "Seeds 4, 5, 6;" in report and "3 Adam steps" in report
    assert "(learning rate RNN 0.003, LSTM 0.01, GRU 0.01," in report  # each cell's own
    assert "## Verdict" in report and "## Kết luận" in report
    for plot in ("gradient_flow.png", "memory.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    quick = CompareConfig.quick()
    memory = rows(out / "memory.csv")
    assert len(memory) == len(quick.cells) * 2 * len(quick.lags) * 3  # cells, tasks, lags, seeds
    assert {row["seed"] for row in memory} == {"4", "5", "6"}
    # Init and trained, each a norm per step of the longest lag, per cell and seed.
    assert len(rows(out / "gradients.csv")) == len(quick.cells) * 3 * 2 * max(quick.lags)
    assert [row["cell"] for row in rows(out / "parameters.csv")] == list(quick.cells)
    assert (out / "results.html").read_text().startswith("<!DOCTYPE html>")
    assert f"the page in {out / 'results.html'}" in capsys.readouterr().out


def test_without_html_there_is_no_page(tmp_path):
    assert main(["compare", "--out", str(tmp_path / "c"), "--quick", "--budget", "1"]) == 0
    assert not (tmp_path / "c" / "results.html").exists()


def test_an_interrupted_compare_resumes_to_the_same_numbers(tmp_path, capsys, monkeypatch):
    """Ctrl-C after three models keeps them in OUT/pieces; --resume trains only the others,
    and the tables are the uninterrupted run's (the seconds aside)."""
    from rnnkit.studies import compare

    args = ["compare", "--quick", "--budget", "2", "--seeds", "1"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    real, trained = compare.study_one, []

    def stopped_at_the_fourth(piece, config):
        if len(trained) == 3:
            raise KeyboardInterrupt
        trained.append(piece)
        return real(piece, config)

    monkeypatch.setattr(compare, "study_one", stopped_at_the_fourth)
    out = tmp_path / "cut"
    assert main([*args, "--out", str(out)]) == 130
    assert "the same command with --resume goes on" in capsys.readouterr().err
    assert len(list((out / "pieces").glob("*-seed*.json"))) == 3
    assert main([*args, "--out", str(out)]) == 2  # (it said "add --force", which discards them)
    assert "holds an interrupted study: add --resume to go on" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--resume", "--budget", "3"]) == 2  # other settings
    assert "ran with other settings (steps differ)" in capsys.readouterr().err
    # A piece that does not read back (damaged, or not numbers) is trained again.
    first, second = sorted((out / "pieces").glob("*-seed*.json"))[:2]
    (out / "pieces" / ".memory-lag4.json.0123.tmp").write_text("{")  # a write cut by a kill
    first.write_text("{")
    second.write_text(second.read_text().replace('"score": ', '"score": "high", "x": '))
    monkeypatch.setattr(compare, "study_one", lambda piece, config: real(piece, config))
    assert main([*args, "--out", str(out), "--resume"]) == 0
    assert "models finished by the earlier run: 1, read from" in capsys.readouterr().out

    def numbers(folder):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows(folder)]

    assert numbers(out / "memory.csv") == numbers(tmp_path / "whole" / "memory.csv")
    assert rows(out / "gradients.csv") == rows(tmp_path / "whole" / "gradients.csv")
    assert not (out / "pieces").exists()  # the report written, the pieces go


def test_a_new_study_in_the_folder_of_an_interrupted_one_starts_afresh(tmp_path):
    """Pieces of the old settings must not be read back by a --resume of the new ones."""
    from rnnkit.studies.compare import study_one
    from rnnkit.studies.saved_pieces import SavedPieces

    old = SavedPieces(tmp_path, TINY)
    old.start()
    piece = pieces(TINY)[0]
    old.save(piece, study_one(piece, TINY))
    new = SavedPieces(tmp_path, dataclasses.replace(TINY, steps=4))
    new.start()
    assert new.load() == {}
    assert [p.name for p in (tmp_path / "pieces").iterdir()] == ["settings.json"]


def test_compare_speaks_vietnamese_when_asked(tmp_path, capsys):
    out = tmp_path / "vi"
    assert main(["compare", "--out", str(out), "--quick", "--budget", "1", "--lang", "vi"]) == 0
    printed = capsys.readouterr().out
    assert "với cùng kích thước ẩn: LSTM gấp 4.00 lần và GRU gấp 3.00 lần vanilla RNN" in printed
    assert printed.rstrip().endswith(f"bảng và biểu đồ trong {out}")
    assert main(["compare", "--out", str(out), "--quick", "--lang", "vi"]) == 2
    assert capsys.readouterr().err.startswith(f"lỗi: {out} không rỗng; hãy cho --out")


def test_resume_needs_a_study_to_resume(tmp_path, capsys):
    assert main(["compare", "--quick", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "holds no compare study to resume" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    (tmp_path / "damaged" / "pieces").mkdir(parents=True)
    (tmp_path / "damaged" / "pieces" / "settings.json").write_text("{")
    argv = ["compare", "--quick", "--out", str(tmp_path / "damaged"), "--resume", "--lang", "vi"]
    assert main(argv) == 2
    assert "bị hỏng nên không thể tiếp tục nghiên cứu; hãy chạy lại từ đầu với --force" in (
        capsys.readouterr().err
    )


def test_rnnkit_compare_refuses_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("keep me")
    assert main(["compare", "--out", str(tmp_path), "--quick"]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "old.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--budget", "0", "--budget must be a positive integer, got 0"),
        ("--seeds", "0", "--seeds must be a positive integer, got 0"),
        ("--seeds", "1001", "--seeds must be at most 1000, got 1001"),
        ("--jobs", "two", "--jobs must be a positive integer, got 'two'"),
    ],
)
def test_rnnkit_compare_refuses_bad_values(tmp_path, capsys, flag, value, message):
    assert main(["compare", "--out", str(tmp_path / "x"), "--quick", flag, value]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()[-1:]) == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("lags", [(1, 5), (0,)])
def test_lags_below_two_are_refused(lags):
    with pytest.raises(ValueError, match="at least 2"):
        run_compare(CompareConfig(lags=lags), log=quiet)


def test_each_cell_trains_at_its_own_learning_rate(monkeypatch):
    from rnnkit.studies import compare

    seen = {}
    train = compare.fit

    def recording(probe, task, lag, learning_rate, config, generator):
        seen[type(probe.recurrent).__name__] = learning_rate
        train(probe, task, lag, learning_rate, config, generator)

    monkeypatch.setattr(compare, "fit", recording)
    run_compare(dataclasses.replace(TINY, cells=("rnn", "lstm", "gru"), seeds=(0,)), log=quiet)
    assert seen == {"RNN": 3e-3, "LSTM": 1e-2, "GRU": 1e-2}


def test_a_cell_without_a_learning_rate_is_refused_before_any_piece_runs():
    config = dataclasses.replace(TINY, learning_rates=(("lstm", 1e-2),))
    with pytest.raises(RnnkitError, match="no learning rate for the cell 'rnn'"):
        run_compare(config, log=quiet)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_compare_takes_its_workers_with_it(tmp_path, stop):
    """SIGTERM (kill, timeout, a closed terminal) stops it as Ctrl-C does; even SIGKILL ends its
    workers (before, they trained on for hours, orphaned)."""
    argv = ["compare", "--quick", "--budget", "100000", "--jobs", "2", "--out", str(tmp_path)]
    process = rnnkit_process(argv)
    try:
        workers: list[int] = []
        for _ in range(1200):  # until both workers and the resource tracker are started
            time.sleep(0.1)
            workers = children(process.pid)
            if len(workers) >= 3:
                break
        assert len(workers) >= 3, "the workers did not start within two minutes"
        process.send_signal(stop)
        code = process.wait(timeout=60)
        assert code == (130 if stop == signal.SIGTERM else -signal.SIGKILL)
        if stop == signal.SIGTERM:
            assert b"the same command with --resume goes on" in process.stderr.read()
        for _ in range(100):
            if not [pid for pid in workers if alive(pid)]:
                break
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)]
    finally:  # (a failure must not leave a 100,000-step study running)
        if process.poll() is None:
            process.kill()
            process.wait()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running: not gone, and not a zombie waiting for its parent (pytest may be PID 1, or a
    subreaper, in a container: then ended orphans stay as zombies)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
