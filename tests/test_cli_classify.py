"""`rnnkit train classify`, `predict` and `evaluate` run for real on tiny CSV files, archive
folders with train and test parts, and the smallest dataset aeon ships."""

import csv
import json
import os
import signal

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import rnnkit
from conftest import error_line, snapshot
from rnnkit.cli.main import main
from rnnkit.data.series import open_series, stratified_split
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks import resample_trial
from rnnkit.tasks.classify import ClassifyDataConfig, ClassifyTask
from rnnkit.tasks.registry import load_run

TINY = ["--cell", "gru", "--hidden", "8", "--batch-size", "8", "--lr", "0.03", "--no-progress"]
TINY += ["--warmup", "5", "--conv", "4"]
TINY += ["--resample", "1"]  # as read: the recipe's trial (--resample 0) is tested on its own


def write_levels(path, per_class: int, seed: int) -> list[str]:
    """A wide CSV of an easy problem: noisy sequences around +1 ("high") or -1 ("low"), 5 to 12
    steps long, some cells missing; returns the labels in file order."""
    rng = np.random.default_rng(seed)
    labels = [label for label in ("high", "low") for _ in range(per_class)]
    labels = [labels[i] for i in rng.permutation(len(labels))]
    with open(path, "w", encoding="utf-8") as file:
        for label in labels:
            level = 1.0 if label == "high" else -1.0
            values = level + 0.4 * rng.standard_normal(rng.integers(5, 13))
            cells = ["" if rng.random() < 0.1 else f"{v:.3f}" for v in values]
            cells[0] = f"{values[0]:.3f}"  # a row needs one value; gaps later are forward-filled
            file.write(",".join([label, *cells]) + "\n")
    return labels


def train(folder, *extra: str, data: str = "train.csv", out: str = "run") -> int:
    return main(
        ["train", "classify", str(folder / data), "--out", str(folder / out), *TINY, *extra]
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classify")
    write_levels(folder / "train.csv", per_class=30, seed=0)
    assert train(folder, "--steps", "40", "--eval-every", "20", "--valid-fraction", "0.2") == 0
    return folder / "run"


def read_predictions(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_train_writes_the_run_and_its_artifacts(run):
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "classify"
    assert config["task_config"]["model"]["cell"] == "gru"
    assert config["task_config"]["model"]["input_size"] == 1
    assert json.loads((run / "labels.json").read_text()) == {"labels": ["high", "low"]}
    for name in ("model.safetensors", "scaler.json", "scores.txt", "metrics.csv"):
        assert (run / name).is_file(), name
    assert (run / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_best_models_scores_are_its_own_on_the_valid_split(run):
    """scores.json against an independent computation: the valid split's sequences one at a
    time (no padding, no batches), normalised by the mean and std of all the training data (the
    levels are the signal: the series are not z-normalised each), in numpy."""
    scores = json.loads((run / "scores.json").read_text())
    task = load_run(run)
    dataset = open_series(run.parent / "train.csv")
    _, valid_idx = stratified_split(dataset.known_labels(), 0.2, seed=1)
    each = dataset.sequences
    steps = np.concatenate(each).astype(np.float64)
    mean, std = steps.mean(axis=0), steps.std(axis=0)
    classes = sorted(set(dataset.labels))
    losses, confusion = [], np.zeros((len(classes), len(classes)), dtype=int)
    with torch.no_grad():
        for i in valid_idx:
            x = torch.tensor((each[i] - mean) / std, dtype=torch.float32)[None]
            log_p, _ = task.model(x, torch.tensor([len(x[0])]))  # the ensemble's, held out
            truth = classes.index(dataset.labels[i])
            losses.append(F.nll_loss(log_p, torch.tensor([truth])).item())
            confusion[truth, int(log_p.argmax())] += 1
    assert scores["loss"] == pytest.approx(np.mean(losses), abs=1e-5)
    assert scores["confusion"] == confusion.tolist()
    assert scores["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert "true \\ predicted" in (run / "scores.txt").read_text()


def test_the_held_out_series_are_in_no_batch(run):
    """A batch of held-out series alone would give no member a loss (and crashed the step)."""
    task = load_run(run)
    task.attach(open_series(run.parent / "train.csv"))
    _, valid_idx = stratified_split(task.train_set.known_labels(), 0.2, seed=1)
    inputs = task.inputs(task.train_set)
    batched = {sequence.tobytes() for sequence in task.train_data.sequences}
    assert len(task.train_data.sequences) == len(inputs) - len(valid_idx)
    assert not any(inputs[i].tobytes() in batched for i in valid_idx)


def test_predict_valid_writes_the_held_out_series_scored_as_in_training(run, tmp_path, capsys):
    out = tmp_path / "valid.csv"
    assert main(["predict", str(run), "valid", "--out", str(out)]) == 0
    scores = json.loads((run / "scores.json").read_text())
    dataset = open_series(run.parent / "train.csv")
    _, valid_idx = stratified_split(dataset.known_labels(), 0.2, seed=1)
    rows = read_predictions(out)[1:]
    assert [row[0] for row in rows] == [dataset.ids[i] for i in valid_idx]
    said = capsys.readouterr().out
    assert f"accuracy {scores['accuracy']:.4f} on the {len(valid_idx)} labelled" in said


def test_predict_writes_one_row_per_sequence_and_the_model_learned(run, tmp_path, capsys):
    truth = write_levels(tmp_path / "test.csv", per_class=20, seed=1)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(tmp_path / "test.csv"), "--out", str(out)]) == 0
    rows = read_predictions(out)
    assert rows[0] == ["id", "prediction"]
    assert [row[0] for row in rows[1:]] == [str(line) for line in range(1, len(truth) + 1)]
    predicted = [row[1] for row in rows[1:]]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    assert accuracy >= 0.9
    assert (
        f"accuracy {accuracy:.4f} on the {len(truth)} labelled sequences" in capsys.readouterr().out
    )


def test_predict_probabilities_are_the_committees_mean_of_its_members_softmax(run, tmp_path):
    write_levels(tmp_path / "test.csv", per_class=6, seed=2)
    out = tmp_path / "pred.csv"
    argv = ["predict", str(run), str(tmp_path / "test.csv"), "--out", str(out), "--probabilities"]
    assert main(argv) == 0
    rows = read_predictions(out)
    assert rows[0] == ["id", "prediction", "p_high", "p_low"]
    written = np.array([[float(v) for v in row[2:]] for row in rows[1:]])
    task = load_run(run)
    assert len(task.model.members) == 3  # the recipe's ensemble
    # each series alone (no padding), each member's softmax, averaged: not the committee's code
    expected = []
    with torch.no_grad():
        for series in task.inputs(open_series(tmp_path / "test.csv")):
            x, lengths = torch.from_numpy(series)[None], torch.tensor([len(series)])
            members = [F.softmax(member(x, lengths)[0], dim=-1) for member in task.model.members]
            expected.append(torch.stack(members).mean(dim=0)[0].numpy())
    np.testing.assert_allclose(written, np.array(expected), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(written.sum(axis=1), 1.0, atol=1e-5)
    assert [row[1] for row in rows[1:]] == [["high", "low"][k] for k in written.argmax(axis=1)]


def test_evaluate_prints_the_report_and_agrees_with_predict(run, tmp_path, capsys):
    truth = write_levels(tmp_path / "test.csv", per_class=10, seed=2)
    assert (
        main(["predict", str(run), str(tmp_path / "test.csv"), "--out", str(tmp_path / "p.csv")])
        == 0
    )
    predicted = [row[1] for row in read_predictions(tmp_path / "p.csv")[1:]]
    capsys.readouterr()
    picture = tmp_path / "confusion.png"
    before = snapshot(run)
    assert (
        main(["evaluate", str(run), str(tmp_path / "test.csv"), "--confusion", str(picture)]) == 0
    )
    out = capsys.readouterr().out
    assert "precision" in out and "true \\ predicted" in out
    fields = out.strip().splitlines()[-1].split()
    expected = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    assert float(fields[fields.index("accuracy") + 1]) == pytest.approx(expected, abs=1e-4)
    assert fields[fields.index("sequences") + 1] == str(len(truth))
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert snapshot(run) == before  # evaluate writes nothing into the run
    # The picture is not replaced without --force, and is for classify runs only.
    assert main(["evaluate", str(run), "test.csv", "--confusion", str(picture)]) == 2
    assert (
        error_line(capsys)
        == f"error: {picture} already exists; choose another --confusion or add --force"
    )


def test_unlabelled_data_is_predicted_without_a_score(run, tmp_path, capsys):
    (tmp_path / "new.csv").write_text(",1.1,0.9,1.2\n,-1.0,-0.8\n", encoding="utf-8")
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(tmp_path / "new.csv"), "--out", str(out)]) == 0
    assert read_predictions(out) == [["id", "prediction"], ["1", "high"], ["2", "low"]]
    assert "accuracy" not in capsys.readouterr().out


def ctrl_c_at(at: int):
    """ClassifyTask.train_loss, pressing Ctrl-C (a real SIGINT) during training step `at`."""
    original, steps = ClassifyTask.train_loss, []

    def train_loss(task, batch, carry):
        steps.append(batch)
        if len(steps) == at:
            os.kill(os.getpid(), signal.SIGINT)
        return original(task, batch, carry)

    return train_loss


def without_time(path):
    with open(path) as file:
        return [
            {k: v for k, v in row.items() if k not in ("time", "items_per_s")}
            for row in csv.DictReader(file)
        ]


def test_resume_after_ctrl_c_gives_the_same_metrics(tmp_path, monkeypatch):
    write_levels(tmp_path / "train.csv", per_class=12, seed=3)  # 20 train rows: 3 batches an epoch
    budget = ["--steps", "16", "--eval-every", "5", "--folds", "2", "--crop", "0.8"]
    budget += ["--jitter", "0.1"]  # augmentation draws: a resumed run must draw the same
    assert train(tmp_path, *budget, out="whole") == 0
    with monkeypatch.context() as patch:
        patch.setattr(ClassifyTask, "train_loss", ctrl_c_at(8))  # mid-epoch, between evaluations
        assert train(tmp_path, *budget, out="cut") == 130
    assert len(without_time(tmp_path / "cut" / "metrics.csv")) == 1
    assert main(["train", "--resume", str(tmp_path / "cut"), "--no-progress"]) == 0
    assert without_time(tmp_path / "cut" / "metrics.csv") == without_time(
        tmp_path / "whole" / "metrics.csv"
    )
    assert (tmp_path / "cut" / "scores.json").read_text() == (
        tmp_path / "whole" / "scores.json"
    ).read_text()
    cut, whole = (load_file(tmp_path / run / "model.safetensors") for run in ("cut", "whole"))
    assert cut.keys() == whole.keys()
    assert all(torch.equal(cut[name], whole[name]) for name in cut)


def write_archive(folder, per_class, seed, test_renames=None):
    """An archive folder NAME/ with NAME_TRAIN.tsv and NAME_TEST.tsv, as the UCR archive has;
    `test_renames` relabels classes of the test part."""
    folder.mkdir()
    for part in ("TRAIN", "TEST"):
        path = folder / f"{folder.name}_{part}.tsv"
        write_levels(path, per_class, seed=seed + (part == "TEST"))
        text = path.read_text().replace(",", "\t")
        for old, new in (test_renames or {}).items() if part == "TEST" else []:
            text = text.replace(old, new)
        path.write_text(text)
    return folder


def test_an_archive_folder_trains_on_its_train_part_and_evaluates_on_its_test_part(
    tmp_path, capsys
):
    folder = write_archive(tmp_path / "Levels", per_class=10, seed=5)
    assert train(tmp_path, "--steps", "30", data="Levels") == 0
    run = tmp_path / "run"
    training = open_series(folder, part="train")
    assert fingerprint_of(run) == ClassifyTask.fingerprint(training)  # the train part only
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert last[last.index("sequences") + 1] == "20"
    assert float(last[last.index("accuracy") + 1]) >= 0.9
    out = tmp_path / "test.csv"
    assert main(["predict", str(run), "test", "--out", str(out)]) == 0
    assert len(read_predictions(out)) == 21
    assert main(["evaluate", str(run), "train"]) == 0
    assert main(["evaluate", str(run), "valid"]) == 2  # nothing was held out
    assert "held nothing out" in error_line(capsys)


def fingerprint_of(run):
    return json.loads((run / "config.json").read_text())["task_config"]["data"]["fingerprint"]


def test_a_test_part_with_a_label_never_seen_in_training_is_one_error_line(tmp_path, capsys):
    write_archive(tmp_path / "Levels", per_class=4, seed=6, test_renames={"low": "swim"})
    assert train(tmp_path, "--steps", "5", data="Levels") == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run")]) == 2
    assert "label 'swim', which the model was not trained on" in error_line(capsys)


def test_out_of_fold_scores_are_the_committees_own_validation(tmp_path, capsys):
    write_levels(tmp_path / "train.csv", per_class=9, seed=7)
    assert train(tmp_path, "--steps", "12", "--eval-every", "4", "--folds", "3") == 0
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "valid"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert float(last[last.index("loss") + 1]) == pytest.approx(scores["loss"], abs=1e-4)
    assert last[last.index("sequences") + 1] == "18"  # every series, once


def test_an_ensemble_and_the_convolution_options_train_and_predict_together(tmp_path, capsys):
    write_levels(tmp_path / "train.csv", per_class=12, seed=3)
    flags = ["--ensemble", "2", "--squeeze-excite", "--conv-downsample", "2", "--steps", "30"]
    assert train(tmp_path, *flags) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())["task_config"]
    assert config["data"]["ensemble"] == 2
    assert config["model"]["conv_downsample"] == 2 and config["model"]["squeeze_excite"]
    weights = load_file(tmp_path / "run" / "model.safetensors")
    assert {name.split(".")[1] for name in weights} == {"0", "1"}  # members.0, members.1
    assert any("excite" in name for name in weights)
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), str(tmp_path / "train.csv")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert float(last[last.index("accuracy") + 1]) >= 0.9  # an easy problem, learned


def test_aeon_datasets_train_by_name_and_unknown_names_list_the_known(tmp_path, capsys):
    pytest.importorskip("aeon")
    argv = ["train", "classify", "aeon:UnitTest", "--out", str(tmp_path / "run"), *TINY]
    assert main([*argv, "--steps", "5"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task_config"]["data"]["source"] == "aeon:UnitTest"
    assert config["task_config"]["data"]["normalize"] == "features"  # raw counts, not z-normalised
    assert main(["evaluate", str(tmp_path / "run"), "aeon:UnitTest/test"]) == 0
    assert main(["evaluate", str(tmp_path / "run"), "aeon:UnitTest"]) == 2
    assert "name the one to read, e.g. aeon:UnitTest/test" in error_line(capsys)
    assert main([*argv[:2], "aeon:GunPointAgeSpan", "--out", str(tmp_path / "no"), *TINY]) == 2
    line = error_line(capsys)
    assert "no classification dataset 'GunPointAgeSpan'" in line and "ArrowHead" in line
    assert not (tmp_path / "no").exists()


def test_a_long_multivariate_file_and_the_built_in_example(tmp_path):
    rows = ["id,time,x,y,label"]
    for n in range(8):
        label = "up" if n % 2 else "down"
        rows += [f"s{n},{t},{t if n % 2 else -t},{n},{label}" for t in range(4)]
    (tmp_path / "long.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert train(tmp_path, "--steps", "6", data="long.csv") == 0
    assert (
        json.loads((tmp_path / "run" / "config.json").read_text())["task_config"]["model"][
            "input_size"
        ]
        == 2
    )
    assert (
        main(["train", "classify", "--out", str(tmp_path / "example"), *TINY, "--steps", "5"]) == 0
    )
    config = json.loads((tmp_path / "example" / "config.json").read_text())
    assert config["task_config"]["data"]["source"] == "example:waveforms"
    assert json.loads((tmp_path / "example" / "labels.json").read_text())["labels"] == [
        "sawtooth",
        "sine",
        "square",
        "triangle",
    ]


@pytest.mark.parametrize(
    ("content", "flags", "message"),
    [
        (b"high,1.0,abc\nlow,2.0\n", [], "line 1, column 3: 'abc' is not a number"),
        (b"high,1.0,2.0\nhigh,2.0\nhigh,0.5\n", [], "one class only ('high')"),
        (b"", [], "is empty"),
        (b"high,1\nlow,2\n", ["--valid-fraction", "0.5"], "nothing is left to validate on"),
        (b"high,1\nlow,2\n", ["--folds", "3"], "--folds 3 needs at least 3 training sequences"),
        (b"high,1\nlow,2\n", ["--crop", "0"], "--crop must be a probability in (0, 1]"),
        (b"high,1\nhigh,2\nlow,2\nlow,3\n", ["--folds", "2", "--ensemble", "2"], "--folds 1"),
        (b"high,1\nlow,2\n", ["--ensemble", "0"], "--ensemble must be a positive integer"),
        (b"high,1\nlow,2\n", ["--conv-downsample", "-1"], "--conv-downsample must be"),
        (b"high,1\nhigh,2\nlow,2\nlow,3\n", ["--valid-fraction", "1.5"], "--valid-fraction"),
        (b"high,1\nhigh,2\nlow,2\nlow,3\n", ["--hidden", "0"], "--hidden must be a positive"),
        (b"high,1\nhigh,2\nlow,2\nlow,3\n", ["--batch-size", "0"], "--batch-size"),
    ],
)
def test_bad_data_or_flags_are_one_error_line_and_nothing_is_written(
    tmp_path, capsys, content, flags, message
):
    (tmp_path / "train.csv").write_bytes(content)
    assert train(tmp_path, "--steps", "6", *flags) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_predict_refuses_unknown_labels_and_never_overwrites(run, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    out.write_text("keep me\n", encoding="utf-8")
    (tmp_path / "good.csv").write_text("high,1.0,1.1\nlow,-1.0,-0.9\n", encoding="utf-8")
    (tmp_path / "swim.csv").write_text("high,1.0,1.1\nswim,0.0,0.1\n", encoding="utf-8")

    assert main(["predict", str(run), str(tmp_path / "good.csv"), "--out", str(out)]) == 2
    assert "already exists" in error_line(capsys)
    assert (
        main(["predict", str(run), str(tmp_path / "swim.csv"), "--out", str(out), "--force"]) == 2
    )
    assert "label 'swim', which the model was not trained on" in error_line(capsys)
    assert out.read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv", "pred.csv", "swim.csv"]

    assert (
        main(["predict", str(run), str(tmp_path / "good.csv"), "--out", str(out), "--force"]) == 0
    )
    assert [row[1] for row in read_predictions(out)] == ["prediction", "high", "low"]


def test_other_mistakes_are_one_error_line(run, tmp_path, capsys):
    (tmp_path / "two.csv").write_text("id,time,x,y\na,0,1,2\n", encoding="utf-8")
    (tmp_path / "unlabelled.csv").write_text(",1.0,1.1\n", encoding="utf-8")
    before = snapshot(run)
    out = str(tmp_path / "pred.csv")
    assert main(["predict", str(run), str(tmp_path / "two.csv"), "--out", out]) == 2
    assert "2 feature columns but the model was trained on 1" in error_line(capsys)
    assert main(["predict", str(tmp_path), str(tmp_path / "two.csv"), "--out", out]) == 2
    assert "not an rnnkit run folder" in error_line(capsys)
    assert main(["evaluate", str(run), str(tmp_path / "unlabelled.csv")]) == 2
    assert "without a label" in error_line(capsys)
    assert main(["sample", str(run)]) == 2
    assert "rnnkit predict" in error_line(capsys)
    assert not (tmp_path / "pred.csv").exists()
    assert snapshot(run) == before


def write_z_normalised(path, lengths: list[int], seed: int) -> None:
    """A wide CSV of series each z-normalised on its own (as the UCR archive's), two classes."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as file:
        for n, length in enumerate(lengths):
            values = np.cumsum(rng.standard_normal(length))
            values = (values - values.mean()) / values.std()
            file.write(",".join(["ab"[n % 2], *(f"{v:.9f}" for v in values)]) + "\n")


def test_a_resampled_run_saves_its_length_and_every_series_scored_gets_it(tmp_path, capsys):
    write_z_normalised(tmp_path / "train.csv", [5, 6, 7, 9, 10, 12, 15, 20], seed=0)
    assert train(tmp_path, "--resample", "10", "--steps", "6") == 0
    assert "5-20 steps resampled to 10 of 1 feature" in capsys.readouterr().out
    data = json.loads((tmp_path / "run" / "config.json").read_text())["task_config"]["data"]
    # the normalisation is judged on the series as read: resampled, they are no longer z-scores
    assert data["resample"] == 10 and data["normalize"] == "series"
    task = load_run(tmp_path / "run")
    write_z_normalised(tmp_path / "new.csv", [3, 40, 100], seed=1)
    new = open_series(tmp_path / "new.csv")
    assert [len(series) for series in task.inputs(new)] == [10, 10, 10]
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "new.csv"), "--out",
                 str(tmp_path / "p.csv")]) == 0  # fmt: skip
    assert len(read_predictions(tmp_path / "p.csv")) == 1 + 3


def saved(run) -> tuple[dict, dict]:
    """A run's (data settings, training settings) from its config.json."""
    config = json.loads((run / "config.json").read_text())
    return config["task_config"]["data"], config["train_config"]


def test_resample_auto_tries_both_views_on_a_quarter_of_the_steps_and_saves_its_choice(
    tmp_path, capsys
):
    lengths = [5, 6, 7, 9, 10, 12, 15, 20] * 2  # median 9.5 -> 10 (half to even)
    write_z_normalised(tmp_path / "train.csv", lengths, seed=0)
    assert train(tmp_path, "--resample", "0", "--steps", "16") == 0
    out = capsys.readouterr().out
    assert (
        "training lengths differ (5-20 steps): before the run, trying them as read and resampled "
        "to 10 (12.5% of the budget each)" in out
    )
    data, budget = saved(tmp_path / "run")
    assert data["trial"].startswith("as read: 2 steps, out-of-fold loss ")
    assert "; resampled to 10: 2 steps, out-of-fold loss " in data["trial"]
    assert data["trial"] in out and data["resample"] in (1, 10)
    assert budget["steps"] == 12  # 16 less the trial's 2 x 2
    # The run is built and trained as a run told the trial's choice, with its budget:
    flags = ["--resample", str(data["resample"]), "--steps", "12"]
    assert train(tmp_path, *flags, out="told") == 0
    assert "training lengths differ" not in capsys.readouterr().out
    tried, told = (load_file(tmp_path / run / "model.safetensors") for run in ("run", "told"))
    assert tried.keys() == told.keys()
    assert all(torch.equal(tried[name], told[name]) for name in tried)


def test_resample_auto_on_one_length_or_too_few_series_tries_nothing(tmp_path, capsys):
    write_z_normalised(tmp_path / "equal.csv", [8] * 6, seed=2)
    assert train(tmp_path, "--resample", "0", "--steps", "6", data="equal.csv") == 0
    assert "training lengths differ" not in capsys.readouterr().out
    data, budget = saved(tmp_path / "run")
    assert data["resample"] == 1 and data["trial"] == "" and budget["steps"] == 6

    write_z_normalised(tmp_path / "two.csv", [5, 9], seed=3)  # too few to fold: as read
    assert train(tmp_path, "--resample", "0", "--steps", "6", data="two.csv", out="two") == 0
    out = capsys.readouterr().out
    assert "training lengths differ (5-9 steps), but 2 series are too few to try both ways" in out
    assert "(read as they are; --resample N lines them up at N steps)" in out
    data, budget = saved(tmp_path / "two")
    assert data["resample"] == 1 and data["trial"] == "" and budget["steps"] == 6


@pytest.mark.parametrize("losses, chosen", [((0.2, 0.9), 1), ((0.9, 0.2), 10)])
def test_the_trial_keeps_the_view_with_the_lower_out_of_fold_loss(
    tmp_path, monkeypatch, losses, chosen
):
    def trial(task_class, data, settings, budget, dataset, view, run, starting):
        return losses[view != 1], f"loss {losses[view != 1]}", budget.steps

    monkeypatch.setattr(resample_trial, "trial", trial)
    write_z_normalised(tmp_path / "train.csv", [5, 6, 7, 9, 10, 12, 15, 20], seed=0)
    assert train(tmp_path, "--resample", "0", "--steps", "8") == 0
    data, _ = saved(tmp_path / "run")
    assert data["resample"] == chosen
    assert data["trial"] == f"as read: loss {losses[0]}; resampled to 10: loss {losses[1]}"


def test_a_run_stopped_after_its_trial_resumes_without_trying_again(tmp_path, monkeypatch, capsys):
    write_levels(tmp_path / "train.csv", per_class=12, seed=3)  # 5 to 12 steps long
    budget = ["--resample", "0", "--steps", "16", "--eval-every", "5"]
    assert train(tmp_path, *budget, out="whole") == 0
    with monkeypatch.context() as patch:
        patch.setattr(ClassifyTask, "train_loss", ctrl_c_at(4 + 6))  # the trial's 2 x 2 steps
        assert train(tmp_path, *budget, out="cut") == 130
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "cut"), "--no-progress"]) == 0
    assert "training lengths differ" not in capsys.readouterr().out
    assert saved(tmp_path / "cut") == saved(tmp_path / "whole")
    assert without_time(tmp_path / "cut" / "metrics.csv") == without_time(
        tmp_path / "whole" / "metrics.csv"
    )


@pytest.mark.parametrize("at", [1, 3])  # in the first view, in the second
def test_a_run_stopped_during_its_trial_resumes_it_to_the_same_run(
    tmp_path, monkeypatch, capsys, at
):
    """--steps 16: 2 steps on each view, then 12 of the run; Ctrl-C in the training step `at`."""
    write_levels(tmp_path / "train.csv", per_class=12, seed=3)  # 5 to 12 steps long
    budget = ["--resample", "0", "--steps", "16", "--eval-every", "5"]
    assert train(tmp_path, *budget, out="whole") == 0
    with monkeypatch.context() as patch:
        patch.setattr(ClassifyTask, "train_loss", ctrl_c_at(at))
        assert train(tmp_path, *budget, out="cut") == 130
    assert "continue with `rnnkit train --resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "cut"), "--no-progress"]) == 0
    assert saved(tmp_path / "cut") == saved(tmp_path / "whole")
    assert without_time(tmp_path / "cut" / "metrics.csv") == without_time(
        tmp_path / "whole" / "metrics.csv"
    )
    for view in ("as-read", "resampled-to-8"):  # the trial's own runs, kept for a look
        assert without_time(tmp_path / "cut" / "trial" / view / "metrics.csv") == without_time(
            tmp_path / "whole" / "trial" / view / "metrics.csv"
        )
    cut, whole = (load_file(tmp_path / run / "model.safetensors") for run in ("cut", "whole"))
    assert all(torch.equal(cut[name], whole[name]) for name in cut)


def test_series_of_different_lengths_read_as_they_are_get_the_resampling_hint(tmp_path, capsys):
    write_z_normalised(tmp_path / "train.csv", [5, 9, 20, 6], seed=0)
    assert train(tmp_path, "--steps", "6") == 0
    assert "5-20 steps (read as they are; --resample N lines them up at N steps)" in (
        capsys.readouterr().out
    )
    write_z_normalised(tmp_path / "equal.csv", [8] * 4, seed=1)
    assert train(tmp_path, "--steps", "6", data="equal.csv", out="eq") == 0
    assert "--resample" not in capsys.readouterr().out  # nothing to line up


def test_a_resample_length_far_beyond_the_longest_series_is_one_error_line(tmp_path, capsys):
    write_z_normalised(tmp_path / "train.csv", [5, 9, 20, 6], seed=0)
    assert train(tmp_path, "--resample", "201", "--steps", "6") == 2
    assert "--resample 201 would stretch the longest training series (20 steps) more than 10" in (
        error_line(capsys)
    )
    assert not (tmp_path / "run").exists()
    assert train(tmp_path, "--resample", "200", "--steps", "6") == 0  # 10 times: allowed


def test_a_run_saved_before_resampling_existed_reads_series_as_they_are(run):
    config_path = run / "config.json"
    saved = config_path.read_text()
    config = json.loads(saved)
    del config["task_config"]["data"]["resample"]
    try:
        config_path.write_text(json.dumps(config))
        task = load_run(run)
        dataset = open_series(run / ".." / "train.csv")
        assert task.data.resample == 1
        assert [len(s) for s in task.inputs(dataset)] == [len(s) for s in dataset.sequences]
    finally:
        config_path.write_text(saved)


def test_the_recipes_epoch_cap_holds_beside_a_time_budget_and_gives_way_to_epochs(tmp_path, capsys):
    write_z_normalised(tmp_path / "train.csv", [8] * 6, seed=2)
    assert train(tmp_path, "--time", "1s") == 0
    assert "budget: 250 epochs or 1s" in capsys.readouterr().out
    assert saved(tmp_path / "run")[1]["epochs"] == 250
    assert train(tmp_path, "--time", "1s", "--epochs", "3", out="given") == 0
    assert saved(tmp_path / "given")[1]["epochs"] == 3
    assert main(["train", "classify", "--help"]) == 0
    assert "(default: 250, beside any other budget)" in " ".join(capsys.readouterr().out.split())


def test_under_a_time_budget_the_second_view_trains_as_many_steps_as_the_first(tmp_path):
    write_z_normalised(tmp_path / "train.csv", [5, 6, 7, 9, 10, 12, 15, 20] * 2, seed=0)
    assert train(tmp_path, "--resample", "0", "--time", "2s") == 0
    data, budget = saved(tmp_path / "run")
    first, second = (view.split(" steps")[0] for view in data["trial"].split("; "))
    assert first.startswith("as read: ") and second.startswith("resampled to 10: ")
    assert first.split(": ")[1] == second.split(": ")[1]
    assert budget["time"] == 1.5 and budget["epochs"] == 250 * 0.75


def test_an_occupied_out_is_refused_before_the_trial(tmp_path, capsys):
    write_z_normalised(tmp_path / "train.csv", [5, 6, 7, 9, 10, 12, 15, 20], seed=0)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert train(tmp_path, "--resample", "0", "--steps", "16") == 2
    captured = capsys.readouterr()
    assert "already exists and holds files that are not a run" in captured.err
    assert "training lengths differ" not in captured.out
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["notes.txt"]


def test_a_second_fit_from_python_tries_again_on_its_own_data(tmp_path):
    write_z_normalised(tmp_path / "short.csv", [5, 6, 7, 9, 10, 12, 15, 20], seed=0)
    write_z_normalised(tmp_path / "long.csv", [30, 40, 50, 60, 70, 80, 90, 100], seed=1)
    classifier = rnnkit.SeriesClassifier(hidden_size=8, conv=4, cell="gru")
    for name in ("short", "long"):
        classifier.fit(tmp_path / f"{name}.csv", out=tmp_path / name, steps=8, progress=False)
    assert classifier.data.resample == 0 and classifier.data.trial == ""  # its settings
    assert "resampled to 10: " in saved(tmp_path / "short")[0]["trial"]
    assert "resampled to 64: " in saved(tmp_path / "long")[0]["trial"]  # median 65, at most 64


def test_a_task_built_without_its_trial_refuses_auto_on_lengths_that_differ(tmp_path):
    write_z_normalised(tmp_path / "train.csv", [5, 9, 20], seed=0)
    data = ClassifyDataConfig(source=str(tmp_path / "train.csv"), resample=0)
    with pytest.raises(RnnkitError, match=r"ClassifyTask\.prepare"):
        ClassifyTask.new(data, ClassifierConfig(hidden_size=4, conv=0))


def test_a_view_whose_loss_diverges_loses_the_trial(tmp_path, monkeypatch):
    original = ClassifyTask.train_loss

    def train_loss(task, batch, carry):  # nan whenever the series are resampled
        loss, carry = original(task, batch, carry)
        return (loss * float("nan") if task.data.resample != 1 else loss), carry

    monkeypatch.setattr(ClassifyTask, "train_loss", train_loss)
    write_z_normalised(tmp_path / "train.csv", [5, 6, 7, 9, 10, 12, 15, 20], seed=0)
    assert train(tmp_path, "--resample", "0", "--steps", "16") == 0
    data, _ = saved(tmp_path / "run")
    assert data["resample"] == 1
    assert data["trial"].endswith("resampled to 10: diverged (the loss is nan at the first step)")


def test_settings_the_run_cannot_take_are_refused_before_the_trial_writes_anything(
    tmp_path, capsys
):
    write_levels(tmp_path / "train.csv", per_class=12, seed=3)  # 24 series, 5 to 12 steps
    assert train(tmp_path, "--resample", "0", "--steps", "16", "--folds", "30") == 2
    assert "--folds 30 needs at least 30 training sequences" in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_new_budget_for_a_run_stopped_in_its_trial_is_kept(tmp_path, monkeypatch):
    write_levels(tmp_path / "train.csv", per_class=12, seed=3)
    with monkeypatch.context() as patch:
        patch.setattr(ClassifyTask, "train_loss", ctrl_c_at(1))
        assert train(tmp_path, "--resample", "0", "--steps", "16") == 130
    with monkeypatch.context() as patch:
        patch.setattr(ClassifyTask, "train_loss", ctrl_c_at(1))
        resume = ["train", "--resume", str(tmp_path / "run"), "--no-progress", "--steps", "40"]
        assert main(resume) == 130
    assert saved(tmp_path / "run")[1]["steps"] == 40
    assert main(["train", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0
    assert saved(tmp_path / "run")[1]["steps"] == 30  # 40 less the trial's 2 x 5


def test_a_device_that_is_not_there_leaves_no_folder_even_with_a_trial(tmp_path, monkeypatch):
    # The resampling trial writes into the run folder before training: the device comes first.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    write_z_normalised(tmp_path / "train.csv", [5, 6, 7, 9, 10, 12, 15, 20] * 2, seed=0)
    classifier = rnnkit.SeriesClassifier(resample=0)
    with pytest.raises(RnnkitError, match="no GPU is available"):
        classifier.fit(tmp_path / "train.csv", out=tmp_path / "run", steps=16, device="cuda")
    assert not (tmp_path / "run").exists()
