"""The continuous cache (Grave, Joulin & Usunier 2017): a language model's distribution mixed
with a memory of the text just read. Used at evaluation (`rnnkit evaluate --cache N`); nothing
is trained.

The top layer's h_i of the last N tokens of the same text are kept, each with the token w_{i+1}
that followed it. The cache predicts a token seen in that window in proportion to how alike its
context was to the current one:

    p_cache(w | h_t) = sum over i in the window with w_{i+1} = w of softmax_i(θ h_t . h_i)
    p(w | h_t)       = (1 - λ) p_model(w | h_t) + λ p_cache(w | h_t)

Words that recur within a text (the names of a story, the speakers of a play) become likelier
after their first use. A token with nothing before it in its text takes p_model alone. The mixture
is a distribution over the same V tokens, so its perplexity compares with the model's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError

THETA = 0.3  # θ: how sharply the cache prefers the most alike contexts
LAMBDA = 0.1  # λ: the cache's share of the mixture


@dataclass(frozen=True)
class CacheSettings:
    """N (the window, in tokens), θ and λ of the module docstring."""

    size: int
    theta: float = THETA
    lam: float = LAMBDA

    def check(self) -> None:
        if self.size < 1:
            raise RnnkitError(f"--cache is a number of tokens, 1 or more; not {self.size}")
        if not 0 < self.lam < 1:
            raise RnnkitError(f"--cache-lambda is a share in (0, 1), e.g. 0.1; not {self.lam}")
        if not self.theta >= 0:
            raise RnnkitError(f"--cache-theta is 0 or more, e.g. 0.3; not {self.theta}")


class ContinuousCache:
    """The window of one pass over a text read as B parallel rows (one window per row), fed
    chunk after chunk in reading order."""

    def __init__(self, settings: CacheSettings) -> None:
        settings.check()
        self.settings = settings
        self.keys: Tensor | None = None  # (B, K, H): h_i of the last K <= N tokens of each row
        self.words: Tensor | None = None  # (B, K): the token w_{i+1} after each

    def log_probs(self, h: Tensor, targets: Tensor, model_log_probs: Tensor) -> Tensor:
        """ln p(target) of the mixture for a chunk: h (B, T, H) the top layer's outputs,
        targets (B, T) the next tokens, model_log_probs (B, T) the model's ln p(target).
        Adds the chunk to the window."""
        N, theta, lam = self.settings.size, self.settings.theta, self.settings.lam
        h = h.float()
        keys = h if self.keys is None else torch.cat([self.keys, h], dim=1)
        words = targets if self.words is None else torch.cat([self.words, targets], dim=1)
        T, K = h.shape[1], keys.shape[1]
        position = torch.arange(K - T, K, device=h.device)[:, None]  # each step's own key
        key = torch.arange(K, device=h.device)
        visible = (key < position) & (key >= position - N)  # (T, K): the N tokens before it
        scores = (theta * h @ keys.transpose(1, 2)).masked_fill(~visible, -math.inf)
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # a step with no past: all 0
        p_cache = (weights * (words[:, None, :] == targets[:, :, None])).sum(-1)  # (B, T)
        mixed = torch.logaddexp(model_log_probs + math.log(1 - lam), p_cache.log() + math.log(lam))
        has_past = visible.any(dim=-1)  # (T,)
        self.keys, self.words = keys[:, -N:], words[:, -N:]
        return torch.where(has_past, mixed, model_log_probs)
