"""docs/DEPLOY.md's code runs as written, on runs trained and exported here, and reproduces rnnkit:
its numpy sampling loop writes what `rnnkit sample --seed` writes, its classifier predicts what
`rnnkit predict` predicts."""

import contextlib
import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.data.series import load_series
from rnnkit.tasks.registry import load_run

pytest.importorskip("onnxruntime")

DEPLOY = Path(__file__).resolve().parents[1] / "docs" / "DEPLOY.md"
TEXT = "To be, or not to be, that is the question.\nThe rest is silence.\n" * 20
TINY = ["--hidden", "12", "--batch-size", "4", "--no-progress"]


def code_blocks(section: str) -> list[str]:
    """The ```python blocks under the heading `## {section}` of DEPLOY.md, in order."""
    text = DEPLOY.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"DEPLOY.md has no section {section!r}"
    return re.findall(r"^```python\n(.*?)^```", match.group(1), re.S | re.M)


def run_code(code: str, namespace: dict) -> str:
    """Execute `code` in `namespace`; what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(DEPLOY), "exec"), namespace)
    return printed.getvalue()


def rnnkit_output(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    """A tiny character-level LSTM run, exported to FOLDER/model.onnx as the docs say."""
    folder = tmp_path_factory.mktemp("deploy_text")
    (folder / "text.txt").write_text(TEXT, encoding="utf-8")
    train = ["train", "text", str(folder / "text.txt"), "--out", str(folder / "run"), *TINY]
    assert main([*train, "--layers", "2", "--seq-len", "8", "--steps", "30"]) == 0
    assert main(["export", str(folder / "run"), "--out", str(folder / "model.onnx")]) == 0
    return folder


def test_the_sampling_loop_reproduces_rnnkit_sample(text_run, monkeypatch, capsys):
    monkeypatch.chdir(text_run)
    numpy_only, with_torch_uniforms = code_blocks(
        "Sample from a language model with onnxruntime and numpy"
    )
    namespace: dict = {}
    printed = run_code(numpy_only, namespace)
    assert printed.startswith("The ") and len(printed) == len("The ") + 200 + 1
    expected = rnnkit_output(
        ["sample", "run", "--prime", "The ", "--length", "200", "--seed", "1"], capsys
    )
    assert run_code(with_torch_uniforms, namespace) == expected
    # The other sampling settings, through the docs' functions, against the command.
    for flags, settings in [
        (["--top-k", "3", "--seed", "5"], {"top_k": 3}),
        (
            ["--top-p", "0.6", "--temperature", "1.3", "--seed", "2"],
            {"top_p": 0.6, "temperature": 1.3},
        ),
        (["--temperature", "0", "--seed", "0"], {"temperature": 0}),
    ]:
        expected = rnnkit_output(
            ["sample", "run", "--prime", "To", "--length", "80", *flags], capsys
        )
        namespace["generator"].manual_seed(int(flags[-1]))
        sampled = namespace["sample"]("To", 80, namespace["torch_uniform"], **settings)
        assert "To" + sampled + "\n" == expected, flags


def write_levels(path: Path, per_class: int) -> None:
    """A CSV of two easy classes: noisy sequences around +1 ("high") or -1 ("low")."""
    rng = np.random.default_rng(0)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        for k in range(2 * per_class):
            label, level = ("high", 1.0) if k % 2 else ("low", -1.0)
            values = level + 0.4 * rng.standard_normal(rng.integers(3, 9))
            writer.writerow([label, *(f"{v:.3f}" for v in values)])


class RecordingSession:
    """An onnxruntime session that keeps the inputs it was given."""

    def __init__(self, session) -> None:
        self.session, self.feeds = session, []

    def run(self, names, feeds):
        self.feeds.append(feeds)
        return self.session.run(names, feeds)


@pytest.mark.parametrize(
    "normalize, resample", [("features", "1"), ("series", "1"), ("features", "5"), ("series", "5")]
)
def test_the_classifier_code_predicts_what_rnnkit_predict_does(
    normalize, resample, tmp_path, monkeypatch, capsys
):
    """The recipe's model (a committee of three LSTM-FCNs), each way of normalising, the series
    (3 to 8 steps) read as they are or resampled to 5 steps (--resample 5);
    resampled and z-normalised series by series, the order of the two matters."""
    write_levels(tmp_path / "levels.csv", per_class=12)
    train = ["train", "classify", str(tmp_path / "levels.csv"), "--out", str(tmp_path / "run")]
    flags = ["--conv", "4", "--normalize", normalize, "--resample", resample, "--steps", "60"]
    assert main([*train, *TINY, *flags]) == 0
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "classifier.onnx")]) == 0
    predicted = tmp_path / "predicted.csv"
    rnnkit_output(
        ["predict", str(tmp_path / "run"), str(tmp_path / "levels.csv"), "--out", str(predicted)],
        capsys,
    )
    with open(predicted, newline="", encoding="utf-8") as file:
        expected = [row["prediction"] for row in csv.DictReader(file)]

    monkeypatch.chdir(tmp_path)
    (code,) = code_blocks("Classify with onnxruntime and numpy")
    namespace: dict = {}
    run_code(code, namespace)
    namespace["session"] = session = RecordingSession(namespace["session"])
    dataset = load_series(tmp_path / "levels.csv")
    assert namespace["classify"](dataset.sequences) == expected  # raw features, as read
    # what the snippet feeds the graph is what rnnkit's own model reads, step for step
    (feeds,) = session.feeds
    inputs = load_run(tmp_path / "run").inputs(dataset)
    assert feeds["lengths"].tolist() == [len(series) for series in inputs]
    if resample == "5":
        assert set(feeds["lengths"].tolist()) == {5}
    for row, series in enumerate(inputs):
        np.testing.assert_allclose(feeds["x"][row, : len(series)], series, rtol=1e-5, atol=1e-5)


def test_the_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (code,) = code_blocks("From Python: any network or model")
    run_code(code, {})  # it asserts that onnxruntime agrees with rnnkit
    assert (tmp_path / "gru.onnx").is_file()
