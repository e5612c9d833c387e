"""The one sampler: pick the next token from the model's logits, one step at a time.

A model's output y_t = softmax(V h_t + b_y) is a distribution over the next token. Sampling:

    temperature τ:  p_i = exp(z_i / τ) / Σ_j exp(z_j / τ)   (τ < 1 sharper, τ > 1 flatter,
                                                              τ = 0 always the most likely token)
    top-k:          keep the k most likely tokens, renormalise
    top-p:          keep the smallest set of most likely tokens whose probabilities sum to >= p

The loop that feeds the chosen tokens back into the model is rnnkit.generate.loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnnkit.errors import NotFinite
from rnnkit.values import COUNT, MASS, NON_NEGATIVE, POSITIVE_INT, check_settings, setting


@dataclass
class SamplerConfig:
    """How to turn logits into tokens."""

    temperature: float = setting(1.0, "τ; 0 picks the most likely token (greedy)", NON_NEGATIVE)
    top_k: int | None = setting(None, "keep only the k most likely tokens", POSITIVE_INT)
    top_p: float | None = setting(None, "keep the most likely tokens up to this mass", MASS)
    seed: int | None = setting(None, "the same seed gives the same samples", COUNT)


class Sampler:
    """Turns logits into tokens with temperature, top-k and top-p, from its own seeded generator
    (so sampling never disturbs the global random state a training run depends on)."""

    def __init__(self, config: SamplerConfig | None = None) -> None:
        self.config = config = check_settings(config or SamplerConfig())
        self.generator = torch.Generator()
        if config.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(config.seed)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (B, V) -> the filtered, renormalised distribution (B, V) sampled from."""
        c = self.config
        logits = logits.detach().float().cpu()
        if c.temperature == 0:  # (argmax makes a nan row a finite one: checked here)
            _check_finite(logits)
            return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
        logits = logits / c.temperature
        if c.top_k is not None and c.top_k < logits.shape[-1]:
            kth = logits.topk(c.top_k, dim=-1).values[:, -1:]  # (B, 1)
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = logits.softmax(-1)
        if c.top_p is not None and c.top_p < 1:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            # Drop a token when the tokens more likely than it already reach top_p.
            before = sorted_probs.cumsum(-1) - sorted_probs
            sorted_probs = sorted_probs.masked_fill(before >= c.top_p, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
            probs = probs / probs.sum(-1, keepdim=True)
        return probs

    def choose(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (B, V) -> one token id per row (B,) drawn from `probabilities(logits)`.

        By inverse CDF, so that any program can reproduce a seeded sample from the same
        uniforms (docs/DEPLOY.md): one u per row, then the first token whose cumulative
        probability exceeds u,

            u = torch.rand(B, generator=self.generator, dtype=torch.float64)
            token = min { i : (p_1 + ... + p_i) / (p_1 + ... + p_V) > u }

        in float64. A token of probability 0 is never chosen.
        """
        probs = self.probabilities(logits).double()
        u = torch.rand(probs.shape[0], 1, generator=self.generator, dtype=torch.float64)
        cdf = probs.cumsum(-1)
        _check_finite(cdf[:, -1])  # (a row of -inf only: nothing to draw from)
        cdf = cdf / cdf[:, -1:]  # ends at exactly 1 > u, whatever the rounding of the sum
        return torch.searchsorted(cdf, u, right=True)[:, 0]

    def bernoulli(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (B, K) of K independent yes/no events (e.g. piano keys) -> 0/1 floats (B, K).

        Temperature scales the logits as above; τ = 0 gives the likely choice (p > 0.5).
        """
        logits = logits.detach().float().cpu()
        _check_finite(logits)
        if self.config.temperature == 0:
            return (logits > 0).float()
        probs = torch.sigmoid(logits / self.config.temperature)
        return torch.bernoulli(probs, generator=self.generator)


def _check_finite(numbers: torch.Tensor) -> None:
    """Refuse to sample from nan or +inf (a token beyond the vocabulary, or torch's own error);
    -inf is a logit a caller may set (a token it bans). One sum, as sampling is a hot path: it is
    nan or +inf when some number is (or when finite numbers above 1e38 overflow it: no model's)."""
    total = float(numbers.sum())
    if math.isnan(total) or total == math.inf:
        raise NotFinite(
            "the model's outputs became nan or inf (its weights grew too large, or are damaged)"
        )
