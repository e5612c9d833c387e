"""Training-time augmentation of padded series batches (Le Guennec et al. 2016; Um et al. 2017).

    window slicing   each series replaced by a random window of `crop` of its length:
                     x'_t = x_{s+t}, t = 0..ceil(crop * T) - 1, s ~ U{0..T - ceil(crop * T)}
    jitter           x'_t = x_t + sigma * e_t,  e_t ~ N(0, 1), on the valid steps only

Both draw from torch's global generator, which checkpoints save and restore, so a resumed run
draws what an uninterrupted one would. Prediction always reads whole, unjittered series.

Shapes: B batch, T time, D features.
"""

from __future__ import annotations

import torch
from torch import Tensor


def random_windows(x: Tensor, lengths: Tensor, crop: float) -> tuple[Tensor, Tensor]:
    """A random window of ceil(crop * T_b) steps of each series b: (x' (B, T', D), lengths')."""
    if crop >= 1.0:
        return x, lengths
    short = torch.clamp(torch.ceil(lengths.to(torch.float64) * crop).long(), min=1)  # (B,)
    start = (torch.rand(len(lengths), dtype=torch.float64) * (lengths - short + 1)).long()
    steps = torch.arange(int(short.max()))
    index = (start[:, None] + steps[None, :]).clamp(max=x.shape[1] - 1)  # (B, T')
    windows = torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))
    valid = steps[None, :] < short[:, None]
    return windows * valid[:, :, None].to(x.dtype), short


def jitter(x: Tensor, lengths: Tensor, sigma: float) -> Tensor:
    """x plus Gaussian noise of standard deviation sigma on the valid steps (padding stays 0)."""
    if sigma <= 0:
        return x
    valid = torch.arange(x.shape[1])[None, :] < lengths[:, None]  # (B, T)
    return x + sigma * torch.randn_like(x) * valid[:, :, None].to(x.dtype)
