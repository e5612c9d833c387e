"""The sampler: temperature, top-k, top-p, seeds, and yes/no draws for piano keys."""

import math
from itertools import accumulate

import pytest
import torch

from rnnkit.errors import NotFinite, RnnkitError
from rnnkit.generate.sampler import Sampler, SamplerConfig

PROBS = [0.5, 0.3, 0.15, 0.05]
LOGITS = torch.tensor([[math.log(p) for p in PROBS]])  # (1, 4)


def sampler(**settings) -> Sampler:
    return Sampler(SamplerConfig(**settings))


def test_temperature_one_keeps_the_model_distribution():
    torch.testing.assert_close(sampler().probabilities(LOGITS), torch.tensor([PROBS]))


def test_temperature_sharpens_as_p_to_the_power_one_over_tau():
    powered = [p**2 for p in PROBS]  # tau = 0.5: exp(z / tau) = p^2
    expected = torch.tensor([[q / sum(powered) for q in powered]])
    torch.testing.assert_close(sampler(temperature=0.5).probabilities(LOGITS), expected)


def test_temperature_zero_is_greedy():
    picks = sampler(temperature=0).choose(torch.tensor([[0.1, 2.0, 1.0], [3.0, 0.0, 0.0]]))
    assert picks.tolist() == [1, 0]


def test_top_k_keeps_the_k_likeliest():
    expected = torch.tensor([[0.5 / 0.8, 0.3 / 0.8, 0.0, 0.0]])
    torch.testing.assert_close(sampler(top_k=2).probabilities(LOGITS), expected)


def test_top_p_keeps_the_smallest_set_reaching_p():
    # 0.5 < 0.7 <= 0.5 + 0.3: the two likeliest tokens.
    expected = torch.tensor([[0.5 / 0.8, 0.3 / 0.8, 0.0, 0.0]])
    torch.testing.assert_close(sampler(top_p=0.7).probabilities(LOGITS), expected)
    # p = 0.9 needs the third token too (0.5 + 0.3 = 0.8 < 0.9).
    assert (sampler(top_p=0.9).probabilities(LOGITS) > 0).sum().item() == 3


def test_bad_settings_are_refused():
    for settings in ({"temperature": -1}, {"top_k": 0}, {"top_p": 1.5}):
        with pytest.raises(RnnkitError):
            sampler(**settings)


def test_same_seed_same_samples():
    logits = torch.zeros(1, 50)
    a, b = sampler(seed=7), sampler(seed=7)
    draws_a = [a.choose(logits).item() for _ in range(20)]
    draws_b = [b.choose(logits).item() for _ in range(20)]
    assert draws_a == draws_b
    assert draws_a != [sampler(seed=8).choose(logits).item() for _ in range(20)]


def test_sampling_frequencies_follow_the_distribution():
    s = sampler(seed=0)
    draws = s.choose(LOGITS.expand(20000, 4))
    counts = torch.bincount(draws, minlength=4).float() / 20000
    torch.testing.assert_close(counts, torch.tensor(PROBS), atol=0.02, rtol=0)


def test_a_draw_is_the_inverse_cdf_of_one_seeded_uniform_per_row():
    """What lets a program outside torch reproduce a seeded sample (docs/DEPLOY.md)."""
    logits = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    s = sampler(seed=3, top_k=4, temperature=0.7)
    picks = s.choose(logits).tolist()
    uniforms = torch.rand(6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for row, u, pick in zip(s.probabilities(logits).tolist(), uniforms.tolist(), picks):
        total = sum(row)
        first_above_u = next(i for i, c in enumerate(accumulate(row)) if c / total > u)
        assert pick == first_above_u


def test_bernoulli_is_greedy_at_zero_temperature():
    picks = sampler(temperature=0).bernoulli(torch.tensor([[2.0, -1.0, 0.5]]))
    assert picks.tolist() == [[1.0, 0.0, 1.0]]


def test_nan_outputs_are_refused_not_sampled():
    """searchsorted put a nan row past the last token (an IndexError in the vocabulary)."""
    logits = torch.tensor([[0.0, math.nan, 1.0]])
    for temperature in (1.0, 0.0):  # (greedy one-hot the nan into a finite distribution)
        sampler = Sampler(SamplerConfig(temperature=temperature, seed=0))
        for draw in (sampler.choose, sampler.bernoulli):
            with pytest.raises(NotFinite, match="outputs became nan or inf"):
                draw(logits)
    banned = torch.tensor([[0.0, -math.inf, 1.0]])  # -inf: a token the caller bans
    assert Sampler(SamplerConfig(seed=0)).choose(banned).item() in (0, 2)
