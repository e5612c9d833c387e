"""rnnkit.export: every network and task model, written as ONNX and run in onnxruntime, computes
what rnnkit computes (float32, within 1e-5); the graph uses the standard operators; errors."""

import itertools
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit.errors import RnnkitError
from rnnkit.export import OPSET, to_onnx
from rnnkit.layers import CELL_NAMES, build_recurrent
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.committee import Committee
from rnnkit.models.language import LanguageModel, LanguageModelConfig
from rnnkit.models.pianoroll import KEYS, PianoRollModel, PianoRollModelConfig
from strategies import cell_options, network_configurations, network_options, random_input

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOLERANCE = dict(atol=1e-5, rtol=1e-5)
# Layer norm multiplies its input's rounding by 1 / sqrt(var + 1e-5), up to 316 where what it
# normalises is near zero (U h_{t-1} for a small h): two correct float32 programs differ there.
LAYER_NORM_TOLERANCE = dict(atol=1e-4, rtol=1e-4)


def session(path) -> "ort.InferenceSession":
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the suite shares two cores
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(module, path, feeds: dict, **export_options) -> list[np.ndarray]:
    to_onnx(module, path, **export_options)
    return session(path).run(None, {k: v.numpy() for k, v in feeds.items()})


def assert_all_close(
    onnx_outputs: list[np.ndarray], rnnkit_outputs: list[torch.Tensor], tolerance: dict = TOLERANCE
) -> None:
    assert len(onnx_outputs) == len(rnnkit_outputs)
    for got, want in zip(onnx_outputs, rnnkit_outputs):
        torch.testing.assert_close(torch.from_numpy(got), want.detach(), **tolerance)


def flatten(result) -> list[torch.Tensor]:
    output, state = result
    return [output, *(state if isinstance(state, tuple) else (state,))]


# ----- networks -----------------------------------------------------------------------------------
def network_feeds(network, x, lengths, hx) -> dict:
    feeds = {"input": x}
    if lengths is not None:
        feeds["lengths"] = lengths
    for name, state in zip(("h_0", "c_0"), hx or ()):
        feeds[name] = state
    return feeds


def random_states(network, batch: int) -> tuple[torch.Tensor, ...]:
    layers = network.num_layers * network.num_directions
    return tuple(torch.randn(layers, batch, n) for n in network.cell().state_features)


def check_network(network, x, lengths, hx, path) -> None:
    network.eval()
    with torch.no_grad():
        expected = flatten(network(x, None if hx is None else _as_hx(hx), lengths=lengths))
    feeds = network_feeds(network, x, lengths, hx)
    got = run_onnx(network, path, feeds, lengths=lengths is not None, initial_state=hx is not None)
    assert_all_close(
        got, expected, LAYER_NORM_TOLERANCE if network.cell().layer_norm else TOLERANCE
    )


def _as_hx(hx):
    return hx if len(hx) == 2 else hx[0]


GRID = list(itertools.product(CELL_NAMES, [1, 2], [False, True], [False, True]))


@pytest.mark.parametrize(("cell", "num_layers", "bidirectional", "batch_first"), GRID)
def test_every_network_configuration_matches_rnnkit(
    cell, num_layers, bidirectional, batch_first, tmp_path
):
    torch.manual_seed(0)
    network = build_recurrent(
        cell, 3, 5, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    )
    T, B = 6, 4
    x = torch.randn((B, T, 3) if batch_first else (T, B, 3))
    lengths = torch.tensor([6, 2, 1, 5])  # unsorted, one of length 1, one full
    for with_lengths, with_state in itertools.product([False, True], repeat=2):
        hx = random_states(network, B) if with_state else None
        check_network(network, x, lengths if with_lengths else None, hx, tmp_path / "n.onnx")


KINDS = {
    "lstm": (rnnkit.LSTM, {}),
    "gru": (rnnkit.GRU, {"reset": "before"}),
    "gru-after": (rnnkit.GRU, {"reset": "after"}),
    "rnn": (rnnkit.RNN, {"nonlinearity": "tanh"}),
    "rnn-relu": (rnnkit.RNN, {"nonlinearity": "relu"}),
    # The loop backend: the fused one runs "identity" as tanh (a bug reported with this branch).
    "rnn-identity": (rnnkit.RNN, {"nonlinearity": "identity", "backend": "loop"}),
}


def randomise_options(model: torch.nn.Module) -> None:
    """Layer norm's gains and biases (and GRU's b_hn) far from their initial 1 and 0, so that an
    export that skipped or misplaced one would not match."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.rpartition(".")[2].startswith(("gamma", "beta", "b_hn")):
                parameter.normal_()


@settings(max_examples=100, deadline=None)
@given(
    network_configurations(
        max_size=5,
        kind=st.sampled_from(sorted(KINDS)),
        merge=st.sampled_from(["concat", "sum", "mean", "mul"]),
    ),
    st.data(),
)
def test_random_networks_match_rnnkit(tmp_path_factory, config, data):
    """Random sizes, 1-3 layers, with and without bias, every bidirectional merge, and any of the
    cells' options: layer norm, zoneout and an LSTM's projection make each layer a Scan over the
    cell's step; dropout options are the plain cell in evaluation."""
    network_class, options = KINDS[config["kind"]]
    cell_settings = data.draw(cell_options("lstm" if config["kind"] == "lstm" else "other"))
    hidden_size = max(config["hidden_size"], cell_settings.get("proj_size", 0) + 1)
    torch.manual_seed(config["seed"])
    network = network_class(
        config["input_size"],
        hidden_size,
        **network_options(config),
        merge=config["merge"],
        **options,
        **cell_settings,
    )
    randomise_options(network)
    x, lengths = random_input(config, torch.float32)
    hx = random_states(network, config["batch"]) if config["with_hx"] else None
    check_network(network, x.detach(), lengths, hx, tmp_path_factory.mktemp("n") / "n.onnx")


def test_a_layer_with_options_is_a_scan_over_its_step(tmp_path):
    """Layer norm has no place in ONNX's LSTM operator: such a layer is written out of
    primitives, one Scan per direction over the cell's step."""
    to_onnx(rnnkit.LSTM(3, 4, bidirectional=True, layer_norm=True), tmp_path / "n.onnx")
    graph = onnx.load(str(tmp_path / "n.onnx")).graph
    top = [n.op_type for n in graph.node]
    assert top.count("Scan") == 2 and "LSTM" not in top
    assert top.count("LayerNormalization") == 2  # LN(W x_t), all steps at once, per direction
    scan = next(n for n in graph.node if n.op_type == "Scan")
    body = onnx.helper.get_attribute_value(next(a for a in scan.attribute if a.name == "body"))
    assert [n.op_type for n in body.node].count("LayerNormalization") == 2  # U h_{t-1} and c_t


def nodes(path) -> list:
    return list(onnx.load(str(path)).graph.node)


def test_the_lectures_gru_is_onnx_gru_with_linear_before_reset_0(tmp_path):
    for reset, expected in (("before", 0), ("after", 1)):
        to_onnx(rnnkit.GRU(3, 4, num_layers=2, reset=reset), tmp_path / "gru.onnx")
        grus = [n for n in nodes(tmp_path / "gru.onnx") if n.op_type == "GRU"]
        assert len(grus) == 2  # one standard operator per layer
        for node in grus:
            attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attributes["linear_before_reset"] == expected


def test_standard_operators_and_the_documented_opset(tmp_path):
    for cell, op in (("lstm", "LSTM"), ("gru", "GRU"), ("rnn", "RNN")):
        to_onnx(build_recurrent(cell, 3, 4, bidirectional=True), tmp_path / "n.onnx")
        model = onnx.load(str(tmp_path / "n.onnx"))
        assert [o.version for o in model.opset_import if o.domain == ""] == [OPSET]
        recurrent = [n for n in model.graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
        assert [n.op_type for n in recurrent] == [op]
        direction = next(a for a in recurrent[0].attribute if a.name == "direction")
        assert direction.s == b"bidirectional"


def test_the_lectures_gates_keep_their_meaning():
    """ONNX's GRU z' is 1 - the lecture's z: its rows and bias come out negated, first; ONNX's
    LSTM takes the gates in the order i, o, f, c; the one bias b goes into Wb."""
    from rnnkit.export.weights import onnx_weights

    def numpy(tensors):
        return np.concatenate([t.detach().numpy() for t in tensors])

    gru = rnnkit.GRUCell(2, 3, reset="after")
    weights, p = onnx_weights(gru), gru.params()
    np.testing.assert_array_equal(weights.W, numpy([-p["W_z"], p["W_r"], p["W_h"]]))
    np.testing.assert_array_equal(weights.R, numpy([-p["U_z"], p["U_r"], p["U_h"]]))
    zeros = torch.zeros(3)
    expected_B = numpy([-p["b_z"], p["b_r"], p["b_h"], zeros, zeros, p["b_hn"]])
    np.testing.assert_array_equal(weights.B, expected_B)
    lstm = rnnkit.LSTMCell(2, 3)
    weights, p = onnx_weights(lstm), lstm.params()
    np.testing.assert_array_equal(weights.W, numpy([p[f"W_{g}"] for g in "iofc"]))
    np.testing.assert_array_equal(weights.R, numpy([p[f"U_{g}"] for g in "iofc"]))
    np.testing.assert_array_equal(weights.B[:12], numpy([p[f"b_{g}"] for g in "iofc"]))
    np.testing.assert_array_equal(weights.B[12:], np.zeros(12, np.float32))


def test_a_float64_network_is_written_in_float32(tmp_path):
    torch.manual_seed(0)
    network = rnnkit.LSTM(3, 4).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        expected = [t.float() for t in flatten(network(x))]
    assert_all_close(run_onnx(network, tmp_path / "n.onnx", {"input": x.float()}), expected)


# ----- task models --------------------------------------------------------------------------------
def language_model(**overrides) -> LanguageModel:
    torch.manual_seed(0)
    settings = dict(vocab_size=13, hidden_size=8, num_layers=2, dropout=0.3)
    config = LanguageModelConfig(**{**settings, **overrides})
    # words whose forms share cores and shapes, for word features
    words = [f"{w}{end}" for w in ("a", "B") for end in ("", ",", ".")]
    words += [f"w{i}" for i in range(config.vocab_size - len(words))]
    return LanguageModel(config, words).eval()


def zero_states(network, batch: int) -> dict:
    features = network.cell().state_features
    return {
        name: torch.zeros(network.num_layers, batch, n) for name, n in zip(("h_0", "c_0"), features)
    }


def check_step_model(model, prime: torch.Tensor, steps: torch.Tensor, path) -> None:
    """A prime (B, P) through the step model from zero states, then one token at a time with the
    states it returned: the logits and states of rnnkit's model at every call."""
    to_onnx(model, path)
    runner = session(path)
    input_name = runner.get_inputs()[0].name
    feeds = {input_name: prime.numpy()} | {
        k: v.numpy() for k, v in zero_states(model.rnn, prime.shape[0]).items()
    }
    state = None
    for tokens in [prime, *steps.split(1, dim=1)]:
        feeds[input_name] = tokens.numpy()
        logits, *states = runner.run(None, feeds)
        with torch.no_grad():
            expected = flatten(model(tokens, state))
            if isinstance(model, PianoRollModel):  # its forward gives h; the logits V h + b_y
                expected[0] = model.output(expected[0])
        assert_all_close([logits, *states], expected)
        state = expected[1] if len(expected) == 2 else tuple(expected[1:])
        feeds.update({name: s for name, s in zip(("h_0", "c_0"), states)})


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_language_model_step_model_matches_rnnkit(cell, tmp_path):
    model = language_model(cell=cell)
    tokens = torch.randint(0, 13, (3, 9))
    check_step_model(model, tokens[:, :5], tokens[:, 5:], tmp_path / "lm.onnx")


@pytest.mark.parametrize(
    "options",
    [
        {"embedding_size": 0},  # one-hot input, the vanilla RNN's
        {"tie_weights": True},
        {"output": "adaptive", "vocab_size": 40},
        {"output": "adaptive", "vocab_size": 40, "tie_weights": True},
        {"embedding_size": 5, "num_layers": 1},
        {"layer_norm": True},
        {"layer_norm": True, "cell": "gru"},
        {"proj_size": 3, "zoneout": 0.2, "zoneout_c": 0.1, "recurrent_dropout": 0.3},
        {"word_features": True},
        {"word_features": True, "tie_weights": True},
    ],
    ids=[
        "one-hot",
        "tied",
        "adaptive",
        "adaptive-tied",
        "embedding-5",
        "ln",
        "ln-gru",
        "proj",
        "word-features",
        "word-features-tied",
    ],
)
def test_language_model_variants_match_rnnkit(options, tmp_path):
    model = language_model(**{"cell": "lstm", **options})
    randomise_options(model)
    tokens = torch.randint(0, model.config.vocab_size, (2, 7))
    check_step_model(model, tokens[:, :4], tokens[:, 4:], tmp_path / "lm.onnx")


def test_tied_weights_are_stored_once(tmp_path):
    to_onnx(language_model(tie_weights=True), tmp_path / "tied.onnx")
    to_onnx(language_model(), tmp_path / "untied.onnx")
    tied = onnx.load(str(tmp_path / "tied.onnx")).graph.initializer
    untied = onnx.load(str(tmp_path / "untied.onnx")).graph.initializer
    assert len(tied) == len(untied) - 1


@pytest.mark.parametrize(
    "options", [{"cell": "gru"}, {"cell": "lstm"}, {"cell": "lstm", "layer_norm": True}]
)
def test_piano_roll_step_model_matches_rnnkit(options, tmp_path):
    torch.manual_seed(0)
    model = PianoRollModel(PianoRollModelConfig(hidden_size=6, num_layers=2, **options)).eval()
    randomise_options(model)
    roll = (torch.rand(2, 6, KEYS) < 0.1).float()
    check_step_model(model, roll[:, :3], roll[:, 3:], tmp_path / "roll.onnx")


def randomise_batch_norms(model: torch.nn.Module) -> None:
    """Running statistics and affine weights far from their initial 0 and 1, so that an export
    that skipped or misplaced batch normalisation would not match."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.normal_()
            module.bias.data.normal_()


CLASSIFIERS = [
    dict(cell="lstm", pooling="last", num_layers=2),
    dict(cell="gru", pooling="last", bidirectional=True, num_layers=2),
    dict(cell="gru-after", pooling="mean", bidirectional=True),
    dict(cell="rnn", pooling="mean", num_layers=2),
    dict(cell="lstm", pooling="max", bidirectional=True),
    dict(cell="gru", pooling="attention"),
    dict(cell="lstm", conv=4),  # LSTM-FCN, the classify recipe's model
    dict(cell="lstm", conv=4, downsample=3, conv_downsample=2, squeeze_excite=True),
    dict(cell="gru", conv=3, downsample=2, pooling="attention", bidirectional=True),
    dict(cell="lstm", pooling="last", bidirectional=True, layer_norm=True, proj_size=3),
    dict(cell="gru", pooling="mean", layer_norm=True, zoneout=0.3),
]


def classifier_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Four sequences of 7, 4, 1 and 3 steps (partial windows for every downsampling here),
    zero-padded as the task pads."""
    lengths = torch.tensor([4, 7, 1, 3])
    x = torch.randn(4, 7, 3)
    x[torch.arange(7)[None, :] >= lengths[:, None]] = 0.0
    return x, lengths


@pytest.mark.parametrize("options", CLASSIFIERS, ids=lambda o: "-".join(map(str, o.values())))
def test_classifier_matches_rnnkit(options, tmp_path):
    torch.manual_seed(0)
    model = SequenceClassifier(
        ClassifierConfig(input_size=3, num_classes=4, hidden_size=5, **options)
    )
    randomise_batch_norms(model)
    randomise_options(model)
    model.eval()
    x, lengths = classifier_batch()
    with torch.no_grad():
        expected, _ = model(x, lengths)
    got = run_onnx(model, tmp_path / "c.onnx", {"x": x, "lengths": lengths})
    assert_all_close(got, [expected])


def test_a_committee_is_the_log_of_its_members_mean_probability(tmp_path):
    torch.manual_seed(0)
    config = ClassifierConfig(input_size=3, num_classes=4, hidden_size=5, conv=4, downsample=2)
    committee = Committee(config, members=3)
    randomise_batch_norms(committee)
    committee.eval()
    x, lengths = classifier_batch()
    with torch.no_grad():
        expected, _ = committee(x, lengths)
        members = torch.stack([m(x, lengths)[0].softmax(-1) for m in committee.members])
    (got,) = run_onnx(committee, tmp_path / "c.onnx", {"x": x, "lengths": lengths})
    torch.testing.assert_close(torch.from_numpy(got), expected, **TOLERANCE)
    torch.testing.assert_close(torch.from_numpy(got).exp(), members.mean(0), **TOLERANCE)


@pytest.mark.parametrize("fill", [7.0, float("nan"), float("inf")])
@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
def test_a_classifier_graph_ignores_what_the_caller_padded_with(fill, pooling, tmp_path):
    """aeon pads unequal lengths with NaN, which a multiplication by 0 would keep."""
    torch.manual_seed(0)
    config = ClassifierConfig(
        input_size=3, num_classes=2, hidden_size=5, conv=4, downsample=3, pooling=pooling
    )
    model = SequenceClassifier(config).eval()
    x, lengths = classifier_batch()
    with torch.no_grad():
        expected, _ = model(x, lengths)
    garbage = x.clone()
    garbage[torch.arange(7)[None, :] >= lengths[:, None]] = fill
    got = run_onnx(model, tmp_path / "c.onnx", {"x": garbage, "lengths": lengths})
    assert_all_close(got, [expected])


# ----- files and errors ---------------------------------------------------------------------------
def test_dropout_options_export_as_the_plain_network(tmp_path):
    network = rnnkit.GRU(2, 3, recurrent_dropout=0.5, weight_dropout=0.5).eval()
    x = torch.randn(4, 1, 2)
    got = run_onnx(network, tmp_path / "g.onnx", {"input": x})
    assert_all_close(got, flatten(network(x)))


def test_metadata_is_stored(tmp_path):
    to_onnx(rnnkit.GRU(2, 3), tmp_path / "g.onnx", metadata={"vocab.json": '{"tokens": ["a"]}'})
    meta = session(tmp_path / "g.onnx").get_modelmeta()
    assert meta.custom_metadata_map == {"vocab.json": '{"tokens": ["a"]}'}
    assert meta.producer_name == "rnnkit"


def test_what_cannot_be_exported_is_refused_and_nothing_is_written(tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")
    with pytest.raises(RnnkitError, match="cannot export a Linear"):
        to_onnx(torch.nn.Linear(2, 3), target)
    with pytest.raises(RnnkitError, match="lengths= and initial_state= are for a bare network"):
        to_onnx(language_model(), target, lengths=True)
    nade = PianoRollModel(PianoRollModelConfig(hidden_size=4, num_layers=1, output="nade"))
    with pytest.raises(RnnkitError, match="--output nade cannot be exported"):
        to_onnx(nade, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left


def test_rnnkit_imports_without_onnx_and_says_how_to_install_it(tmp_path):
    # A fresh interpreter in which `import onnx` and `import onnxruntime` fail.
    script = f"""
import sys
sys.modules["onnx"] = sys.modules["onnxruntime"] = None
import rnnkit, rnnkit.export
try:
    rnnkit.export.to_onnx(rnnkit.LSTM(2, 3), {str(tmp_path / "m.onnx")!r})
except rnnkit.RnnkitError as error:
    print(error)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pip install 'rnnkit[export]'" in done.stdout
    assert not (tmp_path / "m.onnx").exists()
