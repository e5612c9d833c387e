"""Fast sampling against the model itself: the same logits; with a fixed seed, the same tokens."""

import pytest
import torch

from rnnkit.generate.fast import FastStep
from rnnkit.generate.loop import sample_tokens
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.language import LanguageModel, LanguageModelConfig

CELLS = ("lstm", "gru", "gru-after", "rnn")


def make_model(cell: str, embedding_size: int | None = 6, seed: int = 0, **more) -> LanguageModel:
    torch.manual_seed(seed)
    config = LanguageModelConfig(
        vocab_size=11, cell=cell, hidden_size=8, num_layers=2, embedding_size=embedding_size, **more
    )
    return LanguageModel(config, WORDS).double().eval()


WORDS = ["<unk>", "\n", "king", "King,", "king.", "queen", "Queen,", "a", "A", "a,", "the"]
INPUTS = {  # embedding_size 6, one-hot, tied to the adaptive softmax's weights, word features
    "embedding": {},
    "one-hot": {"embedding_size": 0},
    "adaptive-tied": {"embedding_size": None, "output": "adaptive", "tie_weights": True},
    "word-features": {"word_features": True},
    "word-features-adaptive-tied": {
        "embedding_size": None,
        "output": "adaptive",
        "tie_weights": True,
        "word_features": True,
    },
}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("inputs", INPUTS)
def test_step_by_step_logits_equal_the_whole_sequence(cell, inputs):
    model = make_model(cell, **INPUTS[inputs])
    tokens = torch.randint(0, 11, (3, 9))
    expected, _ = model(tokens)
    step = FastStep(model)
    logits, state = step(tokens[:, :4], None)  # the prime, through the model once
    got = [logits]
    for t in range(4, 9):
        logits, state = step(tokens[:, t : t + 1], state)
        got.append(logits)
    torch.testing.assert_close(torch.cat(got, dim=1), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_fixed_seed_gives_the_tokens_of_the_model_itself(cell):
    model = make_model(cell, seed=1)
    prime = torch.tensor([[3, 1, 4, 1, 5]])
    slow = list(sample_tokens(model, prime, 30, Sampler(SamplerConfig(seed=7))))
    fast = list(sample_tokens(FastStep(model), prime, 30, Sampler(SamplerConfig(seed=7))))
    assert torch.equal(torch.stack(fast), torch.stack(slow))
