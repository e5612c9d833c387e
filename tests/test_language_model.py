"""The language model: shapes, initial loss, stepping, weight tying, one-hot input, overfitting."""

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.errors import RnnkitError
from rnnkit.models.language import LanguageModel, LanguageModelConfig, detach_state


def tiny(**overrides) -> LanguageModel:
    torch.manual_seed(0)
    settings = {"vocab_size": 11, "hidden_size": 16, "num_layers": 2, "dropout": 0.0}
    return LanguageModel(LanguageModelConfig(**{**settings, **overrides}))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru-after"])
def test_forward_shapes_for_every_cell(cell):
    model = tiny(cell=cell)
    logits, state = model(torch.randint(0, 11, (3, 5)))
    assert logits.shape == (3, 5, 11)
    h = state[0] if isinstance(state, tuple) else state
    assert h.shape == (2, 3, 16)  # (L, B, H)


def test_initial_loss_is_close_to_ln_vocabulary():
    torch.manual_seed(1)
    model = LanguageModel(LanguageModelConfig(vocab_size=80, hidden_size=64, num_layers=2))
    model.eval()
    tokens = torch.randint(0, 80, (8, 33))
    logits, _ = model(tokens[:, :-1])
    loss = F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
    assert abs(loss.item() - math.log(80)) < 0.05


def test_stepping_one_token_at_a_time_equals_the_full_forward():
    model = tiny().eval()
    tokens = torch.randint(0, 11, (2, 9))
    full, _ = model(tokens)
    state, steps = None, []
    for t in range(tokens.shape[1]):
        logits, state = model.step(tokens[:, t], state)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=1), full)


def test_weight_tying_shares_one_matrix():
    model = tiny(tie_weights=True)
    assert model.output.weight is model.embedding.weight
    untied = tiny()
    assert untied.num_parameters() - model.num_parameters() == 11 * 16
    with pytest.raises(RnnkitError, match="embedding size = hidden size"):
        tiny(tie_weights=True, embedding_size=8)


def test_one_hot_input_has_no_embedding():
    model = tiny(embedding_size=0, num_layers=1, cell="rnn")
    assert model.embedding is None
    assert model.rnn.layers[0].cell.input_size == 11  # x_t is the one-hot vector of the token
    logits, _ = model(torch.randint(0, 11, (2, 4)))
    assert logits.shape == (2, 4, 11)


def test_detach_state_keeps_values_and_drops_history():
    h = torch.ones(2, requires_grad=True) * 3
    pair = detach_state((h, h * 2))
    assert not pair[0].requires_grad and pair[1].tolist() == [6.0, 6.0]
    assert detach_state(None) is None


def test_tiny_model_overfits_a_tiny_text():
    text = "the cat sat on the mat. " * 4
    chars = sorted(set(text))
    ids = torch.tensor([[chars.index(c) for c in text]])  # (1, 96)
    torch.manual_seed(0)
    model = LanguageModel(
        LanguageModelConfig(vocab_size=len(chars), hidden_size=32, num_layers=1, dropout=0.0)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        logits, _ = model(ids[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # Only the first "t" of the text is unpredictable; the rest is memorised.
    assert loss.item() < 0.1 < math.log(len(chars))


def test_adaptive_softmax_is_a_distribution_and_its_nll_scores_only_the_targets():
    torch.manual_seed(2)
    model = tiny(vocab_size=50, output="adaptive").eval()  # head of 5, one cluster of 45
    tokens = torch.randint(0, 50, (3, 7))
    logits, _ = model(tokens[:, :-1])
    assert logits.shape == (3, 6, 50)
    torch.testing.assert_close(logits.exp().sum(-1), torch.ones(3, 6))  # sums to 1 over all V
    loss, _ = model.nll(tokens[:, :-1], tokens[:, 1:])
    expected = F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
    torch.testing.assert_close(loss, expected)  # the cheap path = the full distribution's loss
    steps, state = [], None
    for t in range(6):
        step_logits, state = model.step(tokens[:, t], state)
        steps.append(step_logits)
    torch.testing.assert_close(torch.stack(steps, dim=1), logits)


def test_tied_adaptive_input_reads_the_adaptive_softmax_weights():
    model = tiny(vocab_size=50, output="adaptive", tie_weights=True, hidden_size=32)
    assert model.embedding is None
    untied = tiny(vocab_size=50, output="adaptive", hidden_size=32)
    assert untied.num_parameters() - model.num_parameters() == 50 * 32  # no embedding of its own
    adaptive = model.output  # cutoffs [5]: words 0-4 in the head, 5-49 in one cluster of 8 features
    assert adaptive.cutoffs == [5, 50]
    tokens = torch.tensor([[0, 4, 5, 49], [7, 3, 3, 20]])
    x = model.input_vectors()[tokens]
    torch.testing.assert_close(x[0, 1], adaptive.head.weight[4])  # W_head[w]
    P, T = adaptive.tail[0][0].weight, adaptive.tail[0][1].weight  # (8, 32), (45, 8)
    torch.testing.assert_close(x[0, 3], P.T @ T[49 - 5])  # P^T T[w - c]
    torch.testing.assert_close(x[1, 0], P.T @ T[7 - 5])
    # With every target in the head, the cluster's rows learn only from being read as input.
    loss, _ = model.nll(torch.tensor([[20, 7, 1]]), torch.tensor([[1, 2, 3]]))
    loss.backward()
    read = T.grad.abs().sum(1).nonzero().flatten()
    assert read.tolist() == [7 - 5, 20 - 5]
    steps, state = [], None
    model.eval()
    full, _ = model(tokens)
    for t in range(tokens.shape[1]):
        logits, state = model.step(tokens[:, t], state)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=1), full)
