"""NADE: the conditionals of the docstring, computed all at once (teacher forcing) and key by key
(sampling), on a few keys where every frame can be enumerated."""

import itertools
import math

import pytest
import torch

from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.nade import NADE

STATE, HIDDEN, KEYS = 3, 4, 5


def random_nade(seed: int = 0, keys: int = KEYS) -> NADE:
    """A float64 NADE with weights of order 1, so that the keys depend strongly on each other."""
    torch.manual_seed(seed)
    nade = NADE(STATE, HIDDEN, keys).double()
    with torch.no_grad():
        for parameter in nade.parameters():
            parameter.normal_(0.0, 1.5)
    return nade


def all_frames(keys: int) -> torch.Tensor:
    """Every frame of `keys` keys, (2^keys, keys) of 0/1."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=keys)), dtype=torch.float64)


@torch.no_grad()
def reference_nll(nade: NADE, h: torch.Tensor, frame: torch.Tensor) -> float:
    """The docstring's equations, one key at a time, for one state h (H,) and frame (K,)."""
    total = 0.0
    for k in range(nade.keys):
        g_k = torch.sigmoid(nade.b_h + nade.W_bh @ h + nade.W[:, :k] @ frame[:k])
        p_k = torch.sigmoid(nade.b_v[k] + nade.W_bv[k] @ h + nade.V[k] @ g_k)
        total -= float(frame[k] * torch.log(p_k) + (1 - frame[k]) * torch.log(1 - p_k))
    return total


def test_the_probabilities_of_all_frames_sum_to_one():
    frames = all_frames(KEYS)  # (32, K)
    for seed in range(3):
        nade = random_nade(seed)
        for h in torch.randn(4, STATE, dtype=torch.float64):
            nll = nade.frame_nll(h.expand(len(frames), STATE), frames)  # (32,)
            assert torch.exp(-nll).sum().item() == pytest.approx(1.0, abs=1e-12)
            assert nll.min().item() > 0  # no frame is certain: the test is not trivial


@pytest.mark.parametrize("fill", ["random", "silent", "full"])
def test_the_vectorised_nll_equals_a_loop_over_keys(fill):
    nade = random_nade(1, keys=7)
    torch.manual_seed(1)
    h = torch.randn(20, STATE, dtype=torch.float64)
    frames = {
        "random": (torch.rand(20, 7) < 0.4).double(),
        "silent": torch.zeros(20, 7, dtype=torch.float64),  # no key sounds in the whole batch
        "full": torch.ones(20, 7, dtype=torch.float64),
    }[fill]
    fast = nade.frame_nll(h, frames)
    slow = [reference_nll(nade, h[n], frames[n]) for n in range(20)]
    torch.testing.assert_close(fast, torch.tensor(slow, dtype=torch.float64))


def test_the_biases_follow_the_state():
    nade = random_nade(2)
    h = torch.randn(6, STATE, dtype=torch.float64)
    b_v, b_h = nade.biases(h)
    torch.testing.assert_close(b_v, nade.b_v + h @ nade.W_bv.T)
    torch.testing.assert_close(b_h, nade.b_h + h @ nade.W_bh.T)
    assert nade.W_bv.shape == (KEYS, STATE) and nade.W_bh.shape == (HIDDEN, STATE)


def test_every_parameter_learns():
    nade = random_nade(3)
    h = torch.randn(8, STATE, dtype=torch.float64, requires_grad=True)
    frames = (torch.rand(8, KEYS) < 0.5).double()
    nade.frame_nll(h, frames).sum().backward()
    for name, parameter in [*nade.named_parameters(), ("h", h)]:
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def draw_many(nade: NADE, h: torch.Tensor, count: int, seed: int, temperature: float = 1.0):
    sampler = Sampler(SamplerConfig(temperature=temperature, seed=seed))
    return nade.sample(h.expand(count, STATE), sampler.bernoulli)  # (count, K)


def test_seeded_sampling_is_reproducible():
    nade = random_nade(4)
    h = torch.randn(STATE, dtype=torch.float64)
    first, again = draw_many(nade, h, 50, seed=7), draw_many(nade, h, 50, seed=7)
    assert torch.equal(first, again)
    assert not torch.equal(first, draw_many(nade, h, 50, seed=8))
    assert set(first.unique().tolist()) <= {0.0, 1.0}


def test_sampled_frames_follow_the_probabilities_of_the_nll():
    # Two code paths: the key-by-key sampler against exp(-NLL) from the all-at-once logits.
    nade = random_nade(5)
    h = torch.randn(STATE, dtype=torch.float64)
    count = 40_000
    samples = draw_many(nade, h, count, seed=3)
    frames = all_frames(KEYS)
    p = torch.exp(-nade.frame_nll(h.expand(len(frames), STATE), frames))  # (32,)
    codes = (samples * 2 ** torch.arange(KEYS - 1, -1, -1)).sum(-1).long()  # itertools' order
    frequency = torch.bincount(codes, minlength=len(frames)).double() / count
    # Each frame's count is Binomial(count, p): its frequency has standard deviation
    # sqrt(p (1 - p) / count) (<= 0.0025 here). Five of them, for each of the 32 frames, fail by
    # chance with probability about 32 * 6e-7; a wrong conditional moves some frame by far more.
    sigma = torch.sqrt(p * (1 - p) / count)
    assert torch.all((frequency - p).abs() <= 5 * sigma + 1e-4), (frequency - p) / sigma
    assert p.max() < 0.5  # a spread-out distribution: the check tests many frames


def test_temperature_zero_takes_the_likely_choice_key_by_key():
    nade = random_nade(6)
    h = torch.randn(10, STATE, dtype=torch.float64)
    frames = nade.sample(h, Sampler(SamplerConfig(temperature=0, seed=1)).bernoulli)
    # The likely choice at each key, given the keys already chosen: p_k > 1/2.
    probabilities = torch.sigmoid(nade.logits(h, frames))  # (10, K)
    assert torch.equal(frames, (probabilities > 0.5).double())


def test_start_at_frequencies_sets_the_visible_biases():
    nade = NADE(STATE, HIDDEN, KEYS)
    frequencies = torch.tensor([0.01, 0.1, 0.5, 0.9, 0.3])
    nade.start_at_frequencies(frequencies)
    with torch.no_grad():
        nade.V.zero_()  # V_k · g_k = 0: only b_v speaks
        nade.bias_weight.zero_()
    frame = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0]])
    expected = -sum(
        math.log(f if v else 1 - f) for f, v in zip(frequencies.tolist(), frame[0].tolist())
    )
    assert nade.frame_nll(torch.randn(1, STATE), frame).item() == pytest.approx(expected, rel=1e-5)
