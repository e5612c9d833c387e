"""NADE output: the keys of the next frame predicted one after another, each given the keys below.

A sigmoid output treats the 88 keys of a frame as independent given the RNN's state h, so it
cannot say "C, E and G together, or none of them". A NADE (neural autoregressive distribution
estimator, Larochelle & Murray 2011) writes the frame's probability as a product of K = 88
conditionals, keys in a fixed order from low to high (k = 1..K), each a small network of the keys
already decided. In the RNN-NADE (Boulanger-Lewandowski, Bengio & Vincent 2012) the NADE's biases
are linear functions of h, the state that has read frames 1..t and predicts frame t + 1:

    b_v(h) = b_v + W_bv h                           (K,)    visible biases
    b_h(h) = b_h + W_bh h                           (n_h,)  hidden biases
    g_k    = σ(b_h(h) + W_{:,<k} v_<k)              (n_h,)  the hidden units that predict key k
           = σ(b_h(h) + Σ_{j<k} W_{:,j} v_j)
    p(v_k = 1 | v_<k, h) = σ(b_v(h)_k + V_k · g_k)
    NLL(v | h) = - Σ_k [ v_k ln p_k + (1 - v_k) ln (1 - p_k) ]       nats

with W (n_h, K) and V (K, n_h) shared by all keys and all time steps. The conditionals multiply
to a distribution over all 2^K frames, so the NLL is exact, not a bound.

Training reads the true frame (teacher forcing): every g_k comes from the same running sum, so
all K conditionals are computed at once, with no loop over keys, from the exclusive cumulative
sum over the keys of W_{:,k} v_k. That sum changes only after a key that sounds: a frame with m
sounding keys has only m + 1 different hidden layers (g after 0, 1, ..., m of its sounding keys),
so each is computed once and key k reads the one for the number of sounding keys below it (a JSB
chorale frame sounds at most 4 keys: 5 hidden layers to compute instead of 88). Sampling must
decide key k before it can compute g_{k+1}: it is the one loop over keys (88 steps, each
vectorised over the batch).

Shape legend: N frames (batch and time flattened), H the RNN's state size, K keys, n_h the NADE's
hidden units.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Turns logits (N, n) of n independent yes/no events into 0/1 floats (N, n): Sampler.bernoulli,
# which applies the temperature and draws from the sampler's seeded generator.
Draw = Callable[[Tensor], Tensor]


class NADE(nn.Module):
    """A NADE over K binary keys whose biases come from the RNN's state h (module docstring).

    Parameters: W (n_h, K), V (K, n_h), and one linear map from h to both biases, stored as
    `bias_weight` (K + n_h, H) = [W_bv; W_bh] and `bias_bias` (K + n_h,) = [b_v; b_h], so that
    b_v(h) and b_h(h) are one matrix product; W_bv, W_bh, b_v, b_h are views onto them.
    """

    def __init__(self, state_size: int, hidden_size: int, keys: int) -> None:
        super().__init__()
        self.keys, self.hidden_size = keys, hidden_size
        self.W = nn.Parameter(torch.empty(hidden_size, keys))
        self.V = nn.Parameter(torch.empty(keys, hidden_size))
        self.bias_weight = nn.Parameter(torch.empty(keys + hidden_size, state_size))
        self.bias_bias = nn.Parameter(torch.empty(keys + hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in ±1/sqrt(fan-in), as torch.nn.Linear: every product starts near 0."""
        state_size = self.bias_weight.shape[1]
        for weight, fan_in in (
            (self.W, self.keys),
            (self.V, self.hidden_size),
            (self.bias_weight, state_size),
            (self.bias_bias, state_size),
        ):
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(weight, -bound, bound)

    @property
    def W_bv(self) -> Tensor:
        return self.bias_weight[: self.keys]

    @property
    def W_bh(self) -> Tensor:
        return self.bias_weight[self.keys :]

    @property
    def b_v(self) -> Tensor:
        return self.bias_bias[: self.keys]

    @property
    def b_h(self) -> Tensor:
        return self.bias_bias[self.keys :]

    def biases(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """h (..., H) -> b_v(h) (..., K) = b_v + W_bv h and b_h(h) (..., n_h) = b_h + W_bh h."""
        both = F.linear(h, self.bias_weight, self.bias_bias)  # (..., K + n_h)
        return both[..., : self.keys], both[..., self.keys :]

    def logits(self, h: Tensor, frames: Tensor) -> Tensor:
        """The logit of every conditional p(v_k = 1 | v_<k, h), reading the true frames.

        h (N, H) and frames (N, K) of 0/1 -> logits (N, K): logit_k = b_v(h)_k + V_k · g_k.
        """
        b_v, b_h = self.biases(h)  # (N, K), (N, n_h)
        m = int(frames.sum(dim=-1).max())  # the most keys sounding in one frame
        # Each frame's sounding keys, low to high (a stable sort), then silent ones up to m.
        keys = frames.argsort(dim=-1, descending=True, stable=True)[:, :m]  # (N, m)
        steps = self.W.t()[keys] * frames.gather(-1, keys)[..., None]  # (N, m, n_h): W_{:,j} v_j
        # Row i: b_h(h) + the sum over the frame's first i sounding keys (row 0: none of them).
        running = b_h[:, None] + F.pad(steps.cumsum(dim=1), (0, 0, 1, 0))  # (N, m + 1, n_h)
        scores = torch.sigmoid(running) @ self.V.t()  # (N, m + 1, K): V_k · g for every row
        below = (frames.cumsum(dim=-1) - frames).long()  # (N, K): sounding keys below key k
        return b_v + scores.gather(1, below[:, None, :])[:, 0]  # (N, K): V_k · g_k + b_v(h)_k

    def frame_nll(self, h: Tensor, frames: Tensor) -> Tensor:
        """-ln p(frame | h) in nats: h (N, H), frames (N, K) of 0/1 -> (N,)."""
        logits = self.logits(h, frames)
        return F.binary_cross_entropy_with_logits(logits, frames, reduction="none").sum(-1)

    @torch.no_grad()
    def sample(self, h: Tensor, draw: Draw) -> Tensor:
        """One frame per row of h (N, H), key by key from low to high -> (N, K) of 0/1.

        Key k is drawn by `draw` from its logit b_v(h)_k + V_k · g_k; then W_{:,k} v_k joins
        the running sum that g_{k+1} reads.
        """
        b_v, running = self.biases(h)  # (N, K), (N, n_h): running = b_h(h) + Σ_{j<k} W_{:,j} v_j
        frame = torch.zeros_like(b_v)  # (N, K)
        for k in range(self.keys):
            logit = b_v[:, k] + torch.sigmoid(running) @ self.V[k]  # (N,)
            v_k = draw(logit[:, None])[:, 0].to(running)  # (N,)
            frame[:, k] = v_k
            running = running + v_k[:, None] * self.W[:, k]
        return frame

    @torch.no_grad()
    def start_at_frequencies(self, frequencies: Tensor) -> None:
        """b_v[k] = ln(f_k / (1 - f_k)) (f clipped to [1e-4, 1 - 1e-4]): with the other terms
        near 0 at the start, each key starts near its base rate f_k."""
        f = frequencies.clamp(1e-4, 1 - 1e-4).to(self.bias_bias)
        self.bias_bias[: self.keys] = torch.log(f / (1 - f))

    def extra_repr(self) -> str:
        state_size = self.bias_weight.shape[1]
        return f"state_size={state_size}, hidden_size={self.hidden_size}, keys={self.keys}"
