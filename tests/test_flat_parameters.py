"""layers/flat_parameters.py: networks that keep their kernel weights in one buffer stay in step
with it through training, loading, .to() and copying. Networks flatten by themselves on CUDA
only (flat_weights.DEVICES); these tests add the CPU to run the same code without a GPU."""

import copy
import io

import pytest
import torch

import rnnkit
from rnnkit.backends import flat_weights
from rnnkit.layers.flat_parameters import apart
from rnnkit.train.checkpoint import load_weights, save_weights


@pytest.fixture
def flat_on_cpu(monkeypatch):
    monkeypatch.setattr(flat_weights, "DEVICES", ("cpu", "cuda"))


def shares_the_buffer(network) -> bool:
    storage = network._flat.buffer.untyped_storage().data_ptr()
    return network.kernel_weights() is not None and all(
        p.untyped_storage().data_ptr() == storage for p in network.parameters()
    )


def test_on_the_cpu_networks_keep_separate_parameters():
    network = rnnkit.LSTM(3, 4)
    assert network.kernel_weights() is None


@pytest.mark.usefixtures("flat_on_cpu")
@pytest.mark.parametrize(
    "make",
    [
        lambda: rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True),
        lambda: rnnkit.LSTM(3, 4, proj_size=2),
        lambda: rnnkit.RNN(3, 4, num_layers=2, nonlinearity="relu"),
    ],
)
def test_a_training_step_is_seen_by_the_next_call(make):
    torch.manual_seed(0)
    network = make()
    separate = copy.deepcopy(network)
    separate._flat = None  # the same weights, handed to the kernel one by one
    assert shares_the_buffer(network)
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(network(x)[0], separate(x)[0], rtol=0, atol=0)
    for model in (network, separate):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        model(x)[0].square().sum().backward()
        optimizer.step()
    assert shares_the_buffer(network)
    torch.testing.assert_close(network(x)[0], separate(x)[0], rtol=0, atol=1e-6)


@pytest.mark.usefixtures("flat_on_cpu")
def test_load_state_dict_to_and_copies_stay_in_step():
    torch.manual_seed(0)
    network, other = rnnkit.LSTM(3, 4, num_layers=2), rnnkit.LSTM(3, 4, num_layers=2)
    x = torch.randn(5, 2, 3)
    network.load_state_dict(other.state_dict())
    assert shares_the_buffer(network)
    torch.testing.assert_close(network(x)[0], other(x)[0], rtol=0, atol=0)
    network.double()
    assert shares_the_buffer(network) and network._flat.buffer.dtype == torch.float64
    torch.testing.assert_close(network(x.double())[0], other(x)[0].double(), atol=1e-6, rtol=0)
    for copied in (copy.deepcopy(network), pickled(network)):
        assert shares_the_buffer(copied)
        assert copied._flat.buffer.data_ptr() != network._flat.buffer.data_ptr()
        torch.testing.assert_close(copied(x.double())[0], network(x.double())[0])


def pickled(network):
    data = io.BytesIO()
    torch.save(network, data)
    data.seek(0)
    return torch.load(data, weights_only=False)


@pytest.mark.usefixtures("flat_on_cpu")
def test_assigned_parameters_fall_back_until_flattened_again():
    network = rnnkit.LSTM(3, 4)
    network.load_state_dict(rnnkit.LSTM(3, 4).state_dict(), assign=True)
    assert network.kernel_weights() is None
    network.flatten_parameters()
    assert shares_the_buffer(network)


@pytest.mark.usefixtures("flat_on_cpu")
def test_a_flattened_network_round_trips_through_safetensors(tmp_path):
    """safetensors refuses views that share a storage; checkpoints write them apart."""
    network, other = rnnkit.LSTM(3, 4, num_layers=2), rnnkit.LSTM(3, 4, num_layers=2)
    save_weights(tmp_path / "model.safetensors", network)
    assert shares_the_buffer(network)
    load_weights(other, tmp_path / "model.safetensors")
    assert shares_the_buffer(other)
    for mine, theirs in zip(network.parameters(), other.parameters()):
        assert torch.equal(mine, theirs)
    with apart(other):
        assert other.cells[0].weight_ih.untyped_storage().nbytes() == 4 * 16 * 3
