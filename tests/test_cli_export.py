"""`rnnkit export RUN --format onnx --out FILE`: the file, its metadata, what is refused."""

import json
import sys

import pytest
import torch

from conftest import error_line
from rnnkit.cli.main import main
from rnnkit.tasks.registry import load_run

onnx = pytest.importorskip("onnx")

TEXT = "To be, or not to be, that is the question.\n" * 10


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    (folder / "text.txt").write_text(TEXT, encoding="utf-8")
    argv = ["train", "text", str(folder / "text.txt"), "--out", str(folder / "run")]
    tiny = ["--hidden", "8", "--layers", "1", "--batch-size", "2", "--seq-len", "4"]
    assert main([*argv, *tiny, "--steps", "2", "--no-progress"]) == 0
    return folder / "run"


def test_export_writes_the_step_model_with_the_runs_files(run, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"LanguageModel written to {out}" in said and "(tokens, h_0, c_0)" in said
    model = onnx.load(str(out))
    assert [i.name for i in model.graph.input] == ["tokens", "h_0", "c_0"]
    assert [o.name for o in model.graph.output] == ["logits", "h_n", "c_n"]
    metadata = {p.key: p.value for p in model.metadata_props}
    assert json.loads(metadata["vocab.json"]) == json.loads((run / "vocab.json").read_text())
    assert json.loads(metadata["config.json"])["task"] == "text"


def test_an_existing_file_is_replaced_only_with_force(run, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"keep me")
    assert main(["export", str(run), "--out", str(out)]) == 2
    line = error_line(capsys)
    assert "already exists" in line and "--force" in line
    assert out.read_bytes() == b"keep me"
    assert main(["export", str(run), "--out", str(out), "--force"]) == 0
    onnx.checker.check_model(onnx.load(str(out)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporary left


@pytest.mark.parametrize(
    ("where", "message"),
    [("folder", "is a folder"), ("missing/model.onnx", "does not exist")],
)
def test_a_bad_out_is_one_error_line(run, tmp_path, capsys, where, message):
    (tmp_path / "folder").mkdir()
    assert main(["export", str(run), "--out", str(tmp_path / where)]) == 2
    assert message in error_line(capsys)


def test_without_onnx_it_says_how_to_install_it(run, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now fails
    assert main(["export", str(run), "--out", str(tmp_path / "model.onnx")]) == 2
    assert "pip install 'rnnkit[export]'" in error_line(capsys)
    assert not (tmp_path / "model.onnx").exists()


def test_device_says_where_the_run_loads(run, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert main(["export", str(run), "--out", str(out), "--device", "cpu"]) == 0
    assert out.is_file()
    assert main(["export", str(run), "--out", str(tmp_path / "b.onnx"), "--device", "tpu"]) == 2
    assert "unknown device 'tpu'" in error_line(capsys)


def test_the_default_classifier_exports_and_computes_what_the_run_computes(tmp_path, capsys):
    """The classify recipe's model (LSTM-FCN, its recurrent branch downsampled), as a committee."""
    ort = pytest.importorskip("onnxruntime")
    run, out = tmp_path / "run", tmp_path / "classifier.onnx"
    tiny = ["--hidden", "4", "--conv", "4", "--ensemble", "2", "--steps", "2"]
    assert main(["train", "classify", "--out", str(run), *tiny, "--no-progress"]) == 0
    assert main(["export", str(run), "--out", str(out)]) == 0
    assert f"Committee written to {out}" in capsys.readouterr().out
    model = load_run(run, "cpu").model.eval()
    assert model.members[0].config.downsample > 1  # the recipe's automatic downsampling
    torch.manual_seed(0)
    lengths = torch.tensor([130, 57, 1])
    x = torch.randn(3, 130, model.config.input_size)
    x[torch.arange(130)[None, :] >= lengths[:, None]] = 0.0
    with torch.no_grad():
        expected, _ = model(x, lengths)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.numpy(), "lengths": lengths.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), expected, atol=1e-5, rtol=1e-5)
