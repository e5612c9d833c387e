"""`rnnkit train text`, `sample`, `evaluate` run for real on tiny text in a temporary folder."""

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import rnnkit
from conftest import error_line, evaluated, snapshot
from rnnkit.backends.fused import cpp
from rnnkit.cli.main import check_words, main
from rnnkit.errors import RnnkitError
from rnnkit.tasks import text as text_task
from rnnkit.tasks.registry import load_run
from rnnkit.train.recipes import recipe_for

TEXT = "To be, or not to be, that is the question.\n" * 20
TINY = ["--hidden", "16", "--layers", "1", "--batch-size", "4", "--seq-len", "8", "--no-progress"]


def train(tmp_path, *extra: str, out: str = "run") -> int:
    source = tmp_path / "text.txt"
    if not source.exists():
        source.write_text(TEXT, encoding="utf-8")
    return main(["train", "text", str(source), "--out", str(tmp_path / out), *TINY, *extra])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    assert train(folder, "--steps", "6", "--eval-every", "3", "--sample-length", "10") == 0
    return folder / "run"


def test_train_writes_a_run_with_its_settings(run):
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "text"
    assert config["task_config"]["model"]["hidden_size"] == 16
    # A budget in steps takes the default recipe too (the 2-minute one), flags overriding it.
    assert (
        config["task_config"]["model"]["embedding_size"]
        == recipe_for("char", 120).model["embedding_size"]
    )
    assert config["train_config"]["steps"] == 6
    assert (run / "model.safetensors").is_file()


def test_a_time_budget_takes_its_recipe_and_given_flags_override_it(tmp_path, capsys):
    source = tmp_path / "long.txt"
    source.write_text(TEXT * 10, encoding="utf-8")
    argv = ["train", "text", str(source), "--time", "1s", "--hidden", "8", "--no-progress"]
    assert main([*argv, "--sample-length", "5", "--out", str(tmp_path / "run")]) == 0
    recipe = recipe_for("char", 1.0)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    model = config["task_config"]["model"]
    assert model["hidden_size"] == 8  # given
    assert model["embedding_size"] == recipe.model["embedding_size"] != 8  # from the recipe
    assert config["task_config"]["data"]["batch_size"] == recipe.data["batch_size"]
    assert config["train_config"]["lr"] == recipe.train["lr"] != 3e-3
    assert f"recipe {recipe.name}" in capsys.readouterr().out


def test_word_level_with_the_adaptive_softmax_trains_samples_and_evaluates(tmp_path, capsys):
    assert train(tmp_path, "--level", "word", "--output", "adaptive", "--steps", "3") == 0
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "run"), "--length", "6", "--seed", "1"]) == 0
    assert capsys.readouterr().out.strip()
    assert main(["evaluate", str(tmp_path / "run"), str(tmp_path / "text.txt")]) == 0


def test_sample_with_a_seed_is_reproducible(run, capsys):
    args = ["sample", str(run), "--prime", "To be", "--length", "40", "--seed", "5"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first
    assert first.startswith("To be") and len(first) == len("To be") + 40 + 1


def test_sample_several(run, capsys):
    assert main(["sample", str(run), "--num", "3", "--length", "5", "--seed", "1"]) == 0
    assert capsys.readouterr().out.count("\n" + "-" * 40 + "\n") == 2


def test_evaluate_prints_the_numbers_on_its_last_line(run, tmp_path, capsys):
    other = tmp_path / "other.txt"
    other.write_text("that is the question.\n" * 5, encoding="utf-8")
    assert main(["evaluate", str(run), str(other)]) == 0
    numbers = evaluated(capsys.readouterr().out)
    # Independently: the text is cut into B rows of L tokens (data/text.py TokenBatches); each row
    # read in one pass from a zero state, every next token scored, the mean over all of them.
    task = load_run(run)
    ids = torch.tensor(task.vocab.encode(other.read_text()))
    B = min(task.data.batch_size, (len(ids) - 1) // task.data.seq_len)
    L = (len(ids) - 1) // B
    total = 0.0
    with torch.no_grad():
        for b in range(B):
            row = ids[b * L : b * L + L + 1]
            logits, _ = task.model(row[None, :-1])
            total += F.cross_entropy(logits[0], row[1:], reduction="sum").item()
    assert numbers["loss"] == pytest.approx(total / (B * L), abs=1e-4)
    assert numbers["bpc"] == pytest.approx(numbers["loss"] / math.log(2), abs=1e-3)
    assert numbers["tokens"] == len("that is the question.\n") * 5 - 1


def test_resume_of_a_finished_run_changes_nothing(run, capsys):
    before = (run / "metrics.csv").read_text()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert (run / "metrics.csv").read_text() == before


def test_a_run_whose_state_is_damaged_is_refused_and_kept(run, tmp_path, capsys):
    """A refused resume leaves the folder as it was, its settings included (a new budget is
    saved once the run has loaded)."""
    damaged = tmp_path / "damaged"
    shutil.copytree(run, damaged)
    for state in (damaged / "training").glob("*.state.safetensors"):
        state.write_bytes(state.read_bytes()[:10])
    before = snapshot(damaged)
    assert main(["train", "--resume", str(damaged), "--more-steps", "5", "--no-progress"]) == 2
    assert snapshot(damaged) == before


def test_two_ways_to_extend_a_run_are_named(run, capsys):
    assert main(["train", "--resume", str(run), "--more-steps", "1", "--time", "9s"]) == 2
    assert error_line(capsys).startswith(
        "error: --more-steps and --time cannot go together: extend the run with one of"
    )


def test_an_edited_training_setting_names_the_file(run, tmp_path, capsys):
    edited = tmp_path / "edited"
    shutil.copytree(run, edited)
    config = json.loads((edited / "config.json").read_text())
    config["train_config"]["lr"] = -1
    (edited / "config.json").write_text(json.dumps(config))
    assert main(["train", "--resume", str(edited), "--more-steps", "1", "--no-progress"]) == 2
    assert error_line(capsys) == (
        f"error: {edited / 'config.json'} has settings rnnkit cannot build: lr must be a "
        "positive finite number, got -1"
    )


def test_a_run_whose_checkpoints_were_removed_keeps_its_best_weights(run, tmp_path, capsys):
    """Without RUN/training, resume would start again from step 0 and replace weights trained
    6 steps; only weights from the first evaluation (a run killed before its first checkpoint
    has no others) are trained again."""
    removed = tmp_path / "removed"
    shutil.copytree(run, removed)
    shutil.rmtree(removed / "training")
    before = snapshot(removed)
    assert main(["train", "--resume", str(removed), "--no-progress"]) == 2
    assert "holds weights trained 6 steps" in error_line(capsys)
    assert snapshot(removed) == before
    early = tmp_path / "early"
    assert train(tmp_path, "--steps", "3", "--eval-every", "3", out="early") == 0
    shutil.rmtree(early / "training")
    assert main(["train", "--resume", str(early), "--no-progress"]) == 0
    assert "starting it again from step 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "looks binary"),
        (b"caf\xe9 au lait", "not valid UTF-8 (byte 0xe9 at offset 3)"),
        (b"too short", "fewer than one batch"),
    ],
)
def test_bad_text_is_one_error_line_and_nothing_is_written(tmp_path, capsys, content, message):
    (tmp_path / "text.txt").write_bytes(content)
    assert train(tmp_path, "--steps", "2") == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0]
    assert "recurrent dropout" not in captured.out  # (a note for a run that never starts)
    assert not (tmp_path / "run").exists()


def test_an_existing_run_folder_is_not_overwritten(run, tmp_path, capsys):
    before = snapshot(run)
    assert main(["train", "text", "--out", str(run), *TINY, "--steps", "1"]) == 2
    assert "already holds a run" in error_line(capsys)
    assert snapshot(run) == before


def test_prime_with_unknown_characters(run, capsys):
    assert main(["sample", str(run), "--prime", "Zebra zoo"]) == 2
    captured = capsys.readouterr()
    assert "the prime has characters the model never saw ('Z', 'z'); " in captured.err
    assert captured.out == ""  # (the prime had been printed before the error)


def test_a_run_from_another_version_or_corrupt(run, tmp_path, capsys):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name, data in snapshot(run).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "version": 0}))
    assert main(["sample", str(copy)]) == 2
    assert "run format 0" in error_line(capsys)
    (copy / "config.json").write_text(json.dumps(config))
    (copy / "model.safetensors").write_bytes(b"not weights")
    before = snapshot(copy)
    assert main(["sample", str(copy)]) == 2
    assert "corrupt" in error_line(capsys)
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "nowhere does not exist; give the folder a training run wrote" in error_line(capsys)
    assert snapshot(copy) == before


def test_word_level_keeps_the_most_frequent_words_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.setattr(text_task, "MOST_WORDS", 5)
    assert train(tmp_path, "--level", "word", "--steps", "1", "--batch-size", "2") == 0
    words = json.loads((tmp_path / "run" / "vocab.json").read_text())["tokens"]
    # <unk> and the 4 most frequent of TEXT's words ("be", "to", ",", "\n" ... by count)
    assert len(words) == 5 and words[0] == "<unk>"
    argv = ["--level", "word", "--steps", "1", "--batch-size", "2", "--max-vocab", "8"]
    assert train(tmp_path, *argv, out="more") == 0
    assert len(json.loads((tmp_path / "more" / "vocab.json").read_text())["tokens"]) == 8


def test_word_level_prime_with_unknown_words_is_said_once(tmp_path, capsys):
    assert train(tmp_path, "--level", "word", "--steps", "2", "--batch-size", "2") == 0
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "run"), "--prime", "to be zebra", "--length", "3"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("zebra") == 1 and "<unk>" in captured.err
    assert captured.out.startswith("to be zebra")
    # evaluate names them too
    other = tmp_path / "other.txt"
    other.write_text("to be zebra or not to be quagga\n" * 3, encoding="utf-8")
    assert main(["evaluate", str(tmp_path / "run"), str(other)]) == 0
    assert "note: 2 distinct words are not in the vocabulary ('zebra', 'quagga')" in (
        capsys.readouterr().err
    )


def test_a_confusion_matrix_is_for_classify_runs(run, tmp_path, capsys):
    picture = tmp_path / "confusion.png"
    assert main(["evaluate", str(run), "--confusion", str(picture)]) == 2
    assert "--confusion draws a classify run's confusion matrix" in error_line(capsys)
    assert not picture.exists()
    assert main(["evaluate", str(run), "--force"]) == 2  # (it did nothing, and said nothing)
    assert "--force replaces the --confusion file" in error_line(capsys)


def test_evaluate_on_text_with_unseen_characters(run, tmp_path, capsys):
    other = tmp_path / "zed.txt"
    other.write_text("Zounds!\n", encoding="utf-8")
    assert main(["evaluate", str(run), str(other)]) == 2
    line = error_line(capsys)
    assert str(other) in line and "'Z'" in line


def test_resume_from_anywhere_extend_and_follow_moved_data(tmp_path, monkeypatch, capsys):
    """A run started with a relative path resumes from another folder; --more-steps and --steps
    extend it; moved data is found with --data, and other data is refused."""
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    Path("text.txt").write_text(TEXT, encoding="utf-8")
    assert main(["train", "text", "text.txt", "--out", "run", *TINY, "--steps", "4"]) == 0
    run = tmp_path / "a" / "run"
    monkeypatch.chdir(tmp_path)  # elsewhere
    assert main(["train", "--resume", str(run), "--more-steps", "3", "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["train_config"]["steps"] == 7 and config["train_config"]["time"] is None
    assert json.loads((run / "training" / "state.json").read_text())["step"] == 7
    (tmp_path / "a" / "text.txt").rename(tmp_path / "moved.txt")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "9", "--no-progress"]) == 2
    assert "--data NEW_PATH" in error_line(capsys)
    (tmp_path / "other.txt").write_text(TEXT + "more", encoding="utf-8")
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "--data", "other.txt", "--steps", "9"]) == 2
    assert "not the data this run started with" in error_line(capsys)
    assert snapshot(run) == before
    assert main(["train", "--resume", str(run), "--data", "moved.txt", "--steps", "9"]) == 0
    assert json.loads((run / "config.json").read_text())["task_config"]["data"]["source"] == str(
        tmp_path / "moved.txt"
    )
    assert json.loads((run / "training" / "state.json").read_text())["step"] == 9
    # Its budget spent, a plain resume says how to train on; --steps is a total, not more.
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert f"`rnnkit train --resume {run} --more-steps N`" in capsys.readouterr().out
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "--steps", "5"]) == 2
    assert error_line(capsys) == (
        f"error: {run} is already at step 9, and --steps is the total: give more than 9, or "
        "--more-steps N for N more"
    )
    assert snapshot(run) == before


def test_a_setting_or_a_task_with_resume_is_named(capsys):
    # argparse alone read `--lr 0.1` as the task "0.1", and `text --resume` as an unknown flag.
    assert main(["train", "--resume", "runs/char", "--lr", "0.1"]) == 2
    assert error_line(capsys) == (
        "error: a resumed run keeps the settings in its config.json, so --lr cannot go with "
        "--resume (only --steps, --more-steps, --time, --data and --no-progress); for other "
        "settings, start a new run"
    )
    assert main(["train", "text", "--resume", "runs/char"]) == 2
    assert "`rnnkit train --resume RUN`, without 'text'" in error_line(capsys)
    # Abbreviations, as argparse reads them; --debug belongs before the command.
    assert main(["train", "--res", "runs/char", "--lr", "0.1"]) == 2
    assert "so --lr cannot go with --resume" in error_line(capsys)
    assert main(["train", "--resume", "runs/char", "--debug"]) == 2
    assert "--debug goes before the command" in error_line(capsys)
    assert main(["train", "--resume", "nowhere", "--more", "2"]) == 2
    assert "nowhere does not exist; give the folder a training run wrote" in error_line(capsys)
    # A run folder or a data path that happens to be called "text" is a value, not a task.
    assert main(["train", "--resume", "text", "--data=music", "--no-progress"]) == 2
    assert "text does not exist; give the folder a training run wrote" in error_line(capsys)


def test_extending_flags_need_resume(tmp_path, capsys):
    assert main(["train", "--steps", "5", "text"]) == 2
    assert "give --resume RUN" in error_line(capsys)


OPTIONS = ["--layer-norm", "--recurrent-dropout", "0.2", "--weight-dropout", "0.2"]
OPTIONS += ["--input-dropout", "0.1", "--output-dropout", "0.1", "--zoneout", "0.1"]
OPTIONS += ["--zoneout-c", "0.2", "--proj", "8"]


def test_the_cells_options_train_from_flags_and_resume_exactly(tmp_path):
    """Masks come from torch's generator: a run stopped at step 2 and resumed to step 4 (the
    checkpoint keeps the generator's state) ends with the weights of a run straight to step 4.
    A constant learning rate, so that the two runs' schedules agree."""
    fixed = ["--eval-every", "2", "--schedule", "constant", "--warmup", "0", *OPTIONS]
    assert train(tmp_path, *fixed, "--steps", "4", out="straight") == 0
    model = json.loads((tmp_path / "straight" / "config.json").read_text())["task_config"]["model"]
    assert model["layer_norm"] is True and model["proj_size"] == 8 and model["zoneout_c"] == 0.2
    cell = load_run(tmp_path / "straight").model.rnn.cells[0]
    assert cell.options.recurrent_dropout == 0.2 and cell.output_size == 8
    assert train(tmp_path, *fixed, "--steps", "2", out="resumed") == 0
    assert main(["train", "--resume", str(tmp_path / "resumed"), "--steps", "4"]) == 0
    straight, resumed = (
        load_run(tmp_path / run).model.state_dict() for run in ("straight", "resumed")
    )
    for name, value in straight.items():
        assert torch.equal(value, resumed[name]), name


def test_a_run_folder_from_before_the_options_loads_as_it_was(tmp_path, capsys):
    # a run of that time had none of the options: no layer norm (the 1-minute recipe has it now)
    assert train(tmp_path, "--steps", "2", "--no-layer-norm") == 0
    run = tmp_path / "run"
    other = tmp_path / "other.txt"
    other.write_text("that is the question.\n" * 5, encoding="utf-8")
    assert main(["evaluate", str(run), str(other)]) == 0
    expected = evaluated(capsys.readouterr().out)
    old = tmp_path / "old"
    old.mkdir()
    for path in run.rglob("*"):
        if path.is_file():
            target = old / path.relative_to(run)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    config = json.loads((old / "config.json").read_text())
    new_names = ["layer_norm", "input_dropout", "recurrent_dropout", "output_dropout"]
    new_names += ["weight_dropout", "zoneout", "zoneout_c", "proj_size"]
    for name in new_names:
        del config["task_config"]["model"][name]
    (old / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(old), str(other)]) == 0
    assert evaluated(capsys.readouterr().out) == expected


def test_an_lstm_option_on_another_cell_is_one_error_line(tmp_path, capsys):
    assert train(tmp_path, "--cell", "gru", "--proj", "4", "--steps", "1") == 2
    assert error_line(capsys) == "error: --proj is an LSTM option; --cell gru has none"
    assert not (tmp_path / "run").exists()
    assert train(tmp_path, "--zoneout", "1", "--steps", "1") == 2
    assert "--zoneout must be a probability in [0, 1), got 1" in error_line(capsys)


def test_commands_that_load_a_run_take_a_device(run, capsys):
    assert main(["sample", str(run), "--length", "5", "--seed", "1", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--device", "abacus"]) == 2
    assert "unknown device 'abacus'" in error_line(capsys)
    if not torch.cuda.is_available():
        assert main(["sample", str(run), "--device", "cuda"]) == 2
        assert "no GPU is available" in error_line(capsys)


def test_a_device_that_is_not_there_leaves_no_run_folder(tmp_path, capsys, monkeypatch):
    # As on a machine without a GPU, whether or not this one has one.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert train(tmp_path, "--device", "cuda:1", "--steps", "1") == 2
    assert error_line(capsys) == (
        "error: --device cuda:1 was asked for but no GPU is available; use --device cpu"
    )
    assert not (tmp_path / "run").exists()  # so the same command with --device cpu runs
    assert train(tmp_path, "--device", "cpu", "--steps", "1") == 0
    # The Python API goes through the same loop: no folder either.
    from rnnkit.tasks.api import TextModel

    with pytest.raises(RnnkitError, match="no GPU is available"):
        TextModel(hidden_size=8, batch_size=2, seq_len=8).fit(
            text=TEXT, out=tmp_path / "api", steps=1, device="cuda"
        )
    assert not (tmp_path / "api").exists()


def test_with_a_separate_valid_text_all_of_the_file_trains(tmp_path, capsys):
    valid = tmp_path / "valid.txt"
    valid.write_text("Whether 'tis nobler in the mind to suffer.\n" * 5, encoding="utf-8")
    assert train(tmp_path, "--valid", str(valid), "--steps", "2", "--eval-every", "2") == 0
    task = load_run(tmp_path / "run")
    train_ids, valid_ids, test_ids = task.split(task.read_again().ids(task.vocab))
    assert list(train_ids) == task.vocab.encode(TEXT)  # the whole file, none held out
    assert list(valid_ids) == task.vocab.encode(valid.read_text(encoding="utf-8"))
    assert len(test_ids) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "test"]) != 0
    assert "has no test part" in error_line(capsys)


def test_a_valid_text_of_one_character_is_refused_before_the_run_folder(tmp_path, capsys):
    (tmp_path / "one.txt").write_text("T", encoding="utf-8")
    assert train(tmp_path, "--valid", str(tmp_path / "one.txt"), "--steps", "200") == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "error: the valid text has only 1 token, too few to evaluate on (a prediction needs "
        "two); give it more text\n"
    )
    assert "recurrent dropout" not in captured.out  # (200 steps: a note, before, for no run)
    assert not (tmp_path / "run").exists()  # (it had been made: --resume was then the advice)


def test_a_split_that_starts_with_a_minus_sign_is_told_to_use_equals(tmp_path, capsys):
    # argparse read it as a flag: "--split expected one argument"
    assert train(tmp_path, "--split", "-10/110") == 2
    assert error_line(capsys) == (
        "error: --split -10/110: a value that starts with a minus sign looks like a flag; write "
        "--split=-10/110"
    )
    assert train(tmp_path, "--split=-10/110") == 2
    assert "give percentages >= 0 that add up to 100" in error_line(capsys)
    check_words(["sample", "RUN", "--prime", "-1 was"])  # argparse takes a value with a space


def test_a_split_without_a_test_part_says_so_rather_than_asking_for_more_text(tmp_path, capsys):
    assert train(tmp_path, "--split", "90/10", "--steps", "2", "--eval-every", "2") == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run")]) == 2
    assert error_line(capsys) == (
        "error: this run's split 90/10 has no test part; evaluate `valid` (rnnkit evaluate RUN "
        "valid) or a text file instead"
    )
    assert main(["evaluate", str(tmp_path / "run"), "valid"]) == 0


def test_resume_with_data_that_is_not_there_names_the_flag(tmp_path, capsys):
    assert train(tmp_path, "--steps", "2", "--eval-every", "2") == 0
    capsys.readouterr()
    before = snapshot(tmp_path / "run")
    command = ["train", "--resume", str(tmp_path / "run"), "--data", str(tmp_path / "nope")]
    assert main([*command, "--more-steps", "1"]) == 2
    assert error_line(capsys) == (
        f"error: --data {tmp_path / 'nope'} is not there; give the file or folder the run's "
        "data moved to"
    )
    assert snapshot(tmp_path / "run") == before


def copy_of(run: Path, to: Path) -> Path:
    for path in run.rglob("*"):
        if path.is_file():
            target = to / path.relative_to(run)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return to


def test_a_damaged_run_is_named_by_the_file_that_is_wrong(run, tmp_path, capsys):
    damaged = copy_of(run, tmp_path / "damaged")
    vocab = json.loads((damaged / "vocab.json").read_text())
    (damaged / "vocab.json").write_text(json.dumps({**vocab, "tokens": vocab["tokens"][:-1]}))
    assert main(["sample", str(damaged), "--length", "3"]) == 2
    line = error_line(capsys)
    assert line.startswith(f"error: {damaged / 'vocab.json'} does not match the model")
    assert line.count("retrain") == 1
    config = json.loads((run / "config.json").read_text())
    (damaged / "config.json").write_text(json.dumps({**config, "task": "video"}))
    assert main(["evaluate", str(damaged)]) == 2
    assert error_line(capsys).startswith(
        f"error: {damaged / 'config.json'} names an unknown task 'video'; this rnnkit knows"
    )


def test_the_word_recipe_says_its_budget_in_seconds():
    assert recipe_for("word", 230).describe() == "recipe word-4m (tuned for 230 s on 2 CPU cores)"
    assert recipe_for("char", 600).note == "tuned for 10 min on 2 CPU cores"


def test_a_gru_says_its_sizes_and_its_reset():
    gru = rnnkit.GRU.from_torch(torch.nn.GRU(3, 4, num_layers=2))
    assert gru.reset == "after"
    assert repr(gru).splitlines()[1].strip() == "3, 4, num_layers=2, reset='after', backend='fused'"


def test_evaluate_generated_on_a_text_run_names_the_flag(run, capsys):
    assert main(["evaluate", str(run), "--generated", str(run)]) == 2
    assert error_line(capsys) == (
        f"error: --generated compares generated music with a music run's data; {run} holds a "
        "text model"
    )


def test_resume_with_a_time_already_spent_is_refused(run, tmp_path, capsys):
    copy = copy_of(run, tmp_path / "copy")
    state = json.loads((copy / "training" / "state.json").read_text())
    state["progress"]["elapsed"] = 100.0  # as if it had trained 100 s
    (copy / "training" / "state.json").write_text(json.dumps(state))
    before = snapshot(copy)
    assert main(["train", "--resume", str(copy), "--time", "50s"]) == 2
    assert error_line(capsys) == (
        f"error: {copy} has already trained 100s, and --time is the total: give more than "
        "100s, or --more-steps N for N more steps"
    )
    assert snapshot(copy) == before


def test_a_budget_that_goes_through_a_small_text_many_times_adds_recurrent_dropout(
    tmp_path, capsys
):
    # 40 steps of 32 x 8 characters go 13 times through the 774 training characters (90% of
    # 860); 8 epochs, 8 times
    for budget in (["--steps", "40"], ["--epochs", "8"]):
        out = f"run{budget[0]}"
        assert train(tmp_path, *budget, "--batch-size", "32", "--sample-length", "0", out=out) == 0
        config = json.loads((tmp_path / out / "config.json").read_text())
        assert config["task_config"]["model"]["recurrent_dropout"] == 0.3
        times = "13" if budget[1] == "40" else "8"
        said = f"recurrent dropout 0.3: the budget goes through the training text about {times} "
        assert said in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--recurrent-dropout", "0"], 0.0),
        (["--dropout", "0"], 0.0),  # given, though 0
        (["--zoneout", "0.1"], 0.0),
        (["--steps", "15"], 0.0),  # 5 passes
        (["--no-layer-norm"], 0.0),  # a plain LSTM of 16 units trains on torch's kernel here
        (["--backend", "native", "--no-layer-norm"], 0.0),
    ],
)
def test_no_recurrent_dropout_is_added_when_chosen_or_the_text_seen_few_times(
    tmp_path, capsys, flags, expected
):
    argv = ["--steps", "40", "--batch-size", "32", "--sample-length", "0", *flags]
    assert train(tmp_path, *argv) == 0
    model = json.loads((tmp_path / "run" / "config.json").read_text())["task_config"]["model"]
    assert model["recurrent_dropout"] == expected
    assert "recurrent dropout" not in capsys.readouterr().out


@pytest.mark.skipif(cpp.ops() is None, reason="the C++ loop did not build here")
def test_a_plain_lstm_that_trains_on_fused_gets_recurrent_dropout_too(tmp_path, capsys):
    argv = ["--steps", "40", "--batch-size", "32", "--sample-length", "0", "--no-layer-norm"]
    assert train(tmp_path, *argv, "--hidden", "256") == 0  # fused trains 256 units
    model = json.loads((tmp_path / "run" / "config.json").read_text())["task_config"]["model"]
    assert (model["hidden_size"], model["recurrent_dropout"]) == (256, 0.3)
    assert "recurrent dropout 0.3: the budget goes through" in capsys.readouterr().out
    # in bfloat16 it trains on torch's kernel, which has no recurrent dropout
    assert train(tmp_path, *argv, "--hidden", "256", "--precision", "bf16", out="bf16") == 0
    model = json.loads((tmp_path / "bf16" / "config.json").read_text())["task_config"]["model"]
    assert model["recurrent_dropout"] == 0.0


def test_expected_passes_are_those_of_the_first_budget_to_run_out():
    from rnnkit.train.config import TrainConfig

    passes = text_task.expected_passes
    assert passes(TrainConfig(steps=100, time=10.0), 32, 1_600) == 2.0  # time: 281 passes
    assert passes(TrainConfig(time=10.0), 32, 10 * text_task.CHARS_PER_SECOND) == 1.0
    assert passes(TrainConfig(epochs=3, time=60.0), 32, 10**6) == pytest.approx(2.7)
    assert passes(TrainConfig(epochs=3, time=600.0), 32, 10**6) == 3.0


@pytest.mark.parametrize(
    "flags", [[], ["--no-layer-norm", "--zoneout", "0.1"], ["--no-layer-norm", "--cell", "gru"]]
)
def test_a_backend_that_cannot_run_the_network_is_one_error_line(tmp_path, capsys, flags):
    # (the recipe's layer norm first: torch's kernels have none)
    assert train(tmp_path, "--steps", "2", "--backend", "native", *flags) == 2
    line = error_line(capsys)
    assert "--backend native cannot run this network" in line and "use fused or loop" in line
    assert not (tmp_path / "run").exists()


def test_asking_which_kernels_train_a_model_draws_no_random_numbers():
    from rnnkit.layers import backend_choice
    from rnnkit.models.language import LanguageModelConfig
    from rnnkit.train.config import TrainConfig

    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    fp32 = TrainConfig(device="cpu", precision="fp32")
    assert not text_task.trains_on_torch_kernels(LanguageModelConfig(layer_norm=True), fp32)
    narrow = LanguageModelConfig(hidden_size=backend_choice.FUSED_LSTM_UNITS - 1)
    assert text_task.trains_on_torch_kernels(narrow, fp32)  # oneDNN's LSTM
    assert torch.equal(torch.rand(3), expected)


def test_a_plain_lstm_trained_in_bf16_keeps_torchs_kernel():
    from rnnkit.models.language import LanguageModelConfig
    from rnnkit.train.config import TrainConfig

    wide = LanguageModelConfig(hidden_size=256)  # fused trains it in float32, with the C++ loop
    bf16 = TrainConfig(device="cpu", precision="bf16")  # fused would run its Python loop
    assert text_task.trains_on_torch_kernels(wide, bf16)
    assert not text_task.trains_on_torch_kernels(LanguageModelConfig(layer_norm=True), bf16)
