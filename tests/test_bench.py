"""The benchmark suite runs end to end on a tiny shape, and rewrites only its own section."""

import pytest
import torch
from bench import __main__ as dispatcher
from bench import (
    eager,
    flat_weights,
    gpu,
    layers,
    lm_text,
    machine,
    melody_folk,
    music_jsb,
    report,
    settings,
)

from rnnkit.train.recipes import recipe_for


def test_layers_suite_runs_every_variant_and_backend(capsys):
    assert dispatcher.main(["layers", "--shapes", "2,3,4,1", "--repeats", "1", "--no-write"]) == 0
    printed = capsys.readouterr().out
    variants = {line.split()[1] for line in printed.splitlines() if line.startswith("2,3,4,1 ")}
    assert variants == set(layers.VARIANTS)
    for backend in ("torch.nn", "native (auto)", "fused (auto)", "loop", layers.EAGER):
        assert backend in printed


def test_layers_modes_are_timed_in_runs_of_calls(monkeypatch):
    """Each round runs TRAIN_CALLS training calls of each candidate in a row, then INFER_CALLS
    inference calls: "first_train" and "first_infer" are the medians of the runs' first calls,
    "train" and "infer" of the means of the others (the fake timer gives the k-th call of a run
    k seconds in inference, 10 k in training)."""
    calls = []

    def timed(candidate, x, probe, train):
        calls.append((candidate.label, train))
        in_a_row = 0
        for label, mode in reversed(calls):
            if (label, mode) != (candidate.label, train):
                break
            in_a_row += 1
        return float(in_a_row) * (10 if train else 1)

    monkeypatch.setattr(layers, "run_once", timed)
    found = layers.candidates("lstm", (2, 3, 4, 1), "cpu", {"loop"})
    timings = layers.measure(found, (2, 3, 4, 1), "cpu", repeats=2, warmup=1)
    n, m = layers.INFER_CALLS, layers.TRAIN_CALLS
    for timing in timings:
        assert (timing.first_train, timing.first_infer) == (10.0, 1.0)
        assert timing.train == pytest.approx(10 * sum(range(2, m + 1)) / (m - 1))
        assert timing.infer == pytest.approx(sum(range(2, n + 1)) / (n - 1))
    in_a_round = [True] * len(found) * m + [False] * len(found) * n
    assert [train for _, train in calls[: len(in_a_round)]] == in_a_round


def test_layers_suite_checks_its_targets(capsys, monkeypatch):
    """A target's shape that the table lacks is measured for it; its ratio is checked."""
    monkeypatch.setattr(layers, "SHAPES", ((2, 3, 4, 1),))
    monkeypatch.setattr(layers, "TARGETS", (layers.Target("lstm", (2, 3, 5, 1), "loop", 0.0),))
    arguments = ["layers", "--variants", "lstm", "--repeats", "1", "--no-write"]
    assert dispatcher.main(arguments) == 0
    printed = capsys.readouterr().out
    table, targets = printed.split("targets (ratio of tokens/s):")
    measured = {line.split()[2] for line in table.splitlines() if line.startswith("2,3,5,1")}
    assert measured == {"torch.nn", "loop"}  # only what the target needs
    [row] = [line.split() for line in targets.splitlines() if line.startswith("2,3,5,1")]
    assert row[:5] == ["2,3,5,1", "lstm", "loop", "train", "torch.nn"]
    assert row[-3:] == [">=", "0.0", "yes"]
    monkeypatch.setattr(layers, "TARGETS", (layers.Target("lstm", (2, 3, 5, 1), "loop", 1e9),))
    assert dispatcher.main([*arguments, "--shapes", "2,3,5,1", "--backends", "loop"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[-1] == "no"


def test_layers_targets_against_another_row_and_the_automatic_pick(capsys, monkeypatch):
    """A target may compare with the loop backend or the eager baseline, in either mode, and
    name "auto", the backend the network picks (fused for the layer-norm LSTM)."""
    Target = layers.Target
    shape = (2, 3, 4, 1)
    monkeypatch.setattr(layers, "SHAPES", (shape,))
    targets = (
        Target("lstm+layer_norm", shape, "auto", 0.0, against="loop"),
        Target("lstm+layer_norm", shape, "auto", 0.0, against=layers.EAGER, mode="infer"),
    )
    monkeypatch.setattr(layers, "TARGETS", targets)
    arguments = ["layers", "--variants", "lstm+layer_norm", "--repeats", "1", "--no-write"]
    assert dispatcher.main(arguments) == 0
    rows = capsys.readouterr().out.split("targets (ratio of tokens/s):")[1].splitlines()
    checked = [line.split() for line in rows if line.startswith("2,3,4,1")]
    assert [row[2:5] for row in checked] == [
        ["fused", "(auto)", "train"],
        ["fused", "(auto)", "infer"],
    ]
    assert [row[5] for row in checked] == ["loop", "eager"]  # eager LayerNorm loop, split


def test_unknown_suite_is_an_error(capsys):
    assert dispatcher.main(["no-such-suite"]) == 2
    assert "layers" in capsys.readouterr().err


def test_write_section_replaces_only_its_own_section(tmp_path):
    page = tmp_path / "BENCHMARKS.md"
    report.write_section("layers", "first", page)
    report.write_section("quality", "other suite", page)
    report.write_section("layers", "second", page)
    text = page.read_text()
    assert "second" in text and "first" not in text and "other suite" in text
    assert text.index("second") < text.index("other suite")  # the section stays in place


def test_machine_names_cpu_torch_and_threads():
    facts = machine.describe("cpu")
    assert facts["cores"].isdigit() and facts["torch"].startswith(torch.__version__)
    assert "- CPU: " in machine.markdown(facts)


def test_machine_names_the_allocator_settings_that_are_set(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert "MALLOC_MMAP_THRESHOLD_" not in machine.describe("cpu")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "2147483647")
    facts = machine.describe("cpu")
    assert facts["MALLOC_TRIM_THRESHOLD_"] == "2147483647"
    assert "MALLOC_MMAP_THRESHOLD_" not in facts


def test_sampling_suite_runs(capsys):
    arguments = ["sampling", "--tokens", "2", "--repeats", "1", "--no-stream", "--no-write"]
    assert dispatcher.main(arguments) == 0
    printed = capsys.readouterr().out
    assert "torch.nn loop" in printed and "rnnkit fast" in printed


def test_lm_text_settings_go_to_the_part_that_owns_them():
    recipe = recipe_for("char", 600)
    items = ["hidden_size=640", "lr=0.002", "seq_len=128", "cell=gru"]
    changed = lm_text.with_settings(recipe, dict(map(settings.parse_setting, items)))
    assert changed.model["hidden_size"] == 640 and changed.model["cell"] == "gru"
    assert changed.train["lr"] == 0.002 and changed.data["seq_len"] == 128
    assert changed.name == "char-10m+set" and recipe.model["hidden_size"] == 512
    with pytest.raises(SystemExit, match="hidden"):
        lm_text.with_settings(recipe, {"hidden": 1})
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        settings.parse_setting("lr")
    options = dict(map(settings.parse_setting, ["layer_norm=true", "zoneout=0.1", "proj_size=64"]))
    changed = lm_text.with_settings(recipe, options)
    assert changed.model["layer_norm"] is True and changed.model["proj_size"] == 64


def test_eager_layer_norm_lstm_is_ba_et_als_lstm_over_all_gates():
    """The eager baseline (bench/eager.py) computes, step by step, the equations it states."""
    torch.manual_seed(0)
    network = eager.LayerNormLSTM(3, 4, num_layers=1).double()
    layer = network.layers[0]
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    output, (h_n, c_n) = network(x)
    h = c = torch.zeros(5, 4, dtype=torch.float64)
    ln = torch.nn.functional.layer_norm
    for x_t, y_t in zip(x, output):
        a = ln(x_t @ layer.weight_ih.T, (16,)) + ln(h @ layer.weight_hh.T, (16,)) + layer.bias
        i, f, g, o = a.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(ln(c, (4,)))
        torch.testing.assert_close(y_t, h)
    torch.testing.assert_close((h_n[0], c_n[0]), (h, c))


def test_classify_suite_compares_options_and_states_the_targets(capsys):
    pytest.importorskip("aeon")
    from bench import classify

    assert dispatcher.main(["classify", "--smoke", "--variant", "--conv 0"]) == 0
    printed = capsys.readouterr().out
    assert "(none: the recipe)" in printed and "`--conv 0`" in printed and "UnitTest" in printed
    results = {
        "A": (classify.Result(0.8, 1), classify.Result(0.9, 1), classify.Result(0.85, 9)),
        "B": (classify.Result(0.7, 1), classify.Result(None, 0, "unequal lengths"),
              classify.Result(0.6, 9)),
    }  # fmt: skip
    lines = classify.summary(results)
    assert lines[0] == "rnnkit at or above 1-NN DTW on 1 of 2 datasets (below on B)"
    assert "rnnkit 0.850, MiniRocket 0.900 (difference -0.050)" in lines[1]
    assert lines[2] == "B: MiniRocket refuses it; rnnkit 0.600, 1-NN DTW 0.700"


def test_gpu_suite_refuses_in_one_line_without_cuda(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ran = []
    monkeypatch.setattr(gpu.layers, "main", ran.append)
    monkeypatch.setattr(gpu.lm_text, "main", ran.append)
    assert dispatcher.main(["gpu"]) == 2
    said = capsys.readouterr()
    assert said.out == "" and said.err.count("\n") == 1 and "CUDA" in said.err
    assert ran == []


def test_gpu_suite_runs_layers_and_a_language_model_on_cuda_in_their_own_sections(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    ran = []
    monkeypatch.setattr(gpu.layers, "main", lambda argv: ran.append(("layers", argv)) or 0)
    monkeypatch.setattr(gpu.lm_text, "main", lambda argv: ran.append(("lm_text", argv)) or 0)
    assert dispatcher.main(["gpu", "--repeats", "1"]) == 0
    (suite_a, layers_argv), (suite_b, lm_argv) = ran
    assert (suite_a, suite_b) == ("layers", "lm_text")
    for argv, section in ((layers_argv, "gpu-layers"), (lm_argv, "gpu-lm_text")):
        assert argv[argv.index("--device") + 1] == "cuda"
        assert argv[argv.index("--section") + 1] == section
    assert lm_argv[lm_argv.index("--only") + 1] == "char-71s"
    assert layers.parse(layers_argv).repeats == 1


def test_lm_text_trains_on_the_device_asked_for():
    recipe = lm_text.with_device(recipe_for("char", 71), "cuda")
    assert recipe.train["device"] == "cuda" and recipe.name == recipe_for("char", 71).name


def test_flat_weights_suite_times_the_same_network_flat_and_separate(capsys):
    assert dispatcher.main(["flat_weights", "--shapes", "2,3,4,2", "--repeats", "1"]) == 0
    table = capsys.readouterr().out.split("\n\n")[-1]
    variants = [line.split()[1] for line in table.splitlines() if line.startswith("2,3,4,2")]
    assert variants == list(flat_weights.VARIANTS)
    separate, flat = flat_weights.pair("lstm", (2, 3, 4, 2), "cpu")
    x = torch.randn(3, 2, 4)
    torch.testing.assert_close(separate(x)[0], flat(x)[0], rtol=0, atol=0)


def test_music_jsb_runs_both_outputs(capsys, tmp_path):
    if not music_jsb.DATA.is_file():
        pytest.skip(f"{music_jsb.DATA} is not present")
    arguments = ["--smoke", "--seconds", "1", "--only", "rnn", "--output", "sigmoid,nade"]
    assert music_jsb.main([*arguments, "--no-write", "--keep", str(tmp_path), "--pieces", "2"]) == 0
    printed = capsys.readouterr().out
    assert "tanh RNN + NADE" in printed and "frames/s" in printed
    assert "triad or seventh steps" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rnn-nade", "rnn-sigmoid"]
    # The same chorales again from the kept runs (the same seed), without training.
    assert music_jsb.main(["--smoke", "--from-runs", str(tmp_path), "--pieces", "2"]) == 0
    again = capsys.readouterr().out
    table = [line for line in printed.splitlines() if line.startswith("seventh-chord steps")]
    assert table and table[0] in again
    assert music_jsb.main(["--output", "softmax", "--no-write"]) == 2


def test_melody_folk_parses_trains_and_keeps_the_run(tmp_path, capsys):
    arguments = ["--smoke", "--seconds", "1", "--keep", str(tmp_path), "--no-write"]
    assert melody_folk.main(arguments) == 0
    printed = capsys.readouterr().out
    assert "test /note" in printed and "tokens/s" in printed
    assert (tmp_path / "oneills-8th" / "model.safetensors").is_file()
