"""The one generation loop: what it yields equals running the whole prefix again at every step,
each batch row continues its own prime, and banned tokens are never drawn."""

import pytest
import torch

from rnnkit.errors import RnnkitError
from rnnkit.generate.fast import FastStep
from rnnkit.generate.loop import sample_tokens, stream
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.language import LanguageModel, LanguageModelConfig


def model(seed: int = 0, vocab: int = 9) -> LanguageModel:
    torch.manual_seed(seed)
    config = LanguageModelConfig(vocab_size=vocab, hidden_size=12, num_layers=2)
    return LanguageModel(config).eval()


def greedy() -> Sampler:
    return Sampler(SamplerConfig(temperature=0))


def test_stream_equals_rerunning_the_prefix_every_step():
    lm, prime = model(), [1, 4, 2]
    streamed = [int(t) for t in sample_tokens(lm, torch.tensor([prime]), 10, greedy())]
    # Independent computation: the whole sequence from scratch for each new token.
    tokens = list(prime)
    with torch.no_grad():
        for _ in range(10):
            logits, _ = lm(torch.tensor([tokens]))
            tokens.append(int(logits[0, -1].argmax()))
    assert streamed == tokens[len(prime) :]


def test_each_row_of_a_batch_continues_its_own_prime():
    lm = model(seed=2)
    prime = torch.randint(0, 9, (4, 3))
    batch = torch.stack(list(sample_tokens(FastStep(lm), prime, 6, greedy())), dim=1)
    assert batch.shape == (4, 6)
    for row in range(4):
        alone = torch.stack(list(sample_tokens(FastStep(lm), prime[row : row + 1], 6, greedy())))
        assert alone[:, 0].tolist() == batch[row].tolist()


def test_banned_tokens_are_never_drawn():
    lm = model(seed=3, vocab=5)
    with torch.no_grad():  # bias the model towards token 2 so that banning it matters
        lm.output.bias[2] = 50.0
    draws = sample_tokens(lm, torch.tensor([[0]]), 40, Sampler(SamplerConfig(seed=1)), banned=[2])
    drawn = [int(t) for t in draws]
    assert 2 not in drawn
    greedy_draws = [int(t) for t in sample_tokens(lm, torch.tensor([[0]]), 5, greedy())]
    assert greedy_draws == [2] * 5  # without the ban the bias wins


def test_the_loop_feeds_back_what_draw_returns():
    seen = []

    def step(inputs, state):
        seen.append(inputs.clone())
        return inputs.float() * 10, state

    drawn = list(stream(step, torch.tensor([[1, 2]]), 3, lambda last: last.long() + 1))
    assert [int(d) for d in drawn] == [21, 211, 2111]
    assert [s.tolist() for s in seen] == [[[1, 2]], [[21]], [[211]]]  # no step after the last


def test_an_empty_prime_is_an_error():
    with pytest.raises(RnnkitError, match="prime is empty"):
        list(sample_tokens(model(), torch.zeros(1, 0, dtype=torch.long), 3, greedy()))
