"""torch.save of whole models and torch.load under its default weights_only=True
(rnnkit/layers/safe_loading.py)."""

import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

import rnnkit
from rnnkit.layers.dropout import Dropout


def every_layer_kind() -> nn.ModuleList:
    torch.manual_seed(0)

    def direction(reverse: bool) -> rnnkit.Recurrent:
        return rnnkit.Recurrent(rnnkit.GRUCell(3, 4, reset="after"), reverse=reverse)

    return nn.ModuleList(
        [
            rnnkit.RNN(3, 4, nonlinearity="relu"),
            rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, dropout=0.5),
            rnnkit.GRU(3, 4, batch_first=True),
            rnnkit.GRU(3, 4, reset="after", bidirectional=True, merge="sum", backend="loop"),
            rnnkit.LSTM(3, 4, layer_norm=True, zoneout=0.1, recurrent_dropout=0.2, proj_size=2),
            rnnkit.LSTMCell(3, 4),
            rnnkit.GRUCell(3, 4),
            rnnkit.RNNCell(3, 4, bias=False),
            rnnkit.Recurrent(rnnkit.LSTMCell(3, 4)),
            rnnkit.Bidirectional(direction(False), direction(True), merge="mean"),
            Dropout(0.3),  # the models' dropout, for a model of one's own built from them
        ]
    ).double()


def outputs(model: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output on x (T, B, D); the cells take its first step."""
    with torch.no_grad():
        found = []
        for layer in model:
            result = layer(x[0]) if isinstance(layer, rnnkit.cells.Cell) else layer(x)
            found.append(result[0] if isinstance(result, tuple) else result)
        return found


def test_a_model_of_every_layer_kind_reloads_with_torch_load_defaults(tmp_path):
    model = every_layer_kind().eval()
    torch.save(model, tmp_path / "model.pt")
    loaded = torch.load(tmp_path / "model.pt")  # weights_only=True: nothing but safe classes
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    for got, want in zip(outputs(loaded, x), outputs(model, x), strict=True):
        assert torch.equal(got, want)
    assert [layer.backend for layer in loaded[:5]] == [layer.backend for layer in model[:5]]
    assert repr(loaded) == repr(model)


def test_a_fresh_process_importing_torch_and_rnnkit_reloads_it(tmp_path):
    model = every_layer_kind().eval()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.save(model, tmp_path / "model.pt")
    torch.save(x, tmp_path / "x.pt")
    program = (
        "import sys, torch, rnnkit\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from test_safe_loading import outputs\n"
        "folder = sys.argv[1]\n"
        "model = torch.load(f'{folder}/model.pt')\n"
        "torch.save(outputs(model, torch.load(f'{folder}/x.pt')), f'{folder}/outputs.pt')\n"
    )
    tests = str(Path(__file__).parent)
    subprocess.run([sys.executable, "-c", program, str(tmp_path), tests], check=True)
    for got, want in zip(torch.load(tmp_path / "outputs.pt"), outputs(model, x), strict=True):
        assert torch.equal(got, want)


PLAIN = (bool, int, float, str, type(None))
TORCH_MODULE_STATE = set(vars(nn.Module())) - {"training"}  # hooks, parameters, submodules


def is_plain(value) -> bool:
    if isinstance(value, (list, tuple, set)):
        return all(is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(is_plain(key) and is_plain(item) for key, item in value.items())
    return isinstance(value, PLAIN)


def test_layers_hold_only_plain_state():
    """What torch.save pickles besides tensors: numbers, strings and containers of them, so that
    no function, dataclass, enum or chosen implementation needs unpickling; and no hooks."""
    for module in every_layer_kind().modules():
        own = {
            name: value for name, value in vars(module).items() if name not in TORCH_MODULE_STATE
        }
        assert is_plain(own), (type(module).__name__, own)
        hooks = [value for name, value in vars(module).items() if name.endswith("hooks")]
        assert not any(hooks), type(module).__name__
