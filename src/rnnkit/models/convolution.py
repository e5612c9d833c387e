"""The convolutional branch of LSTM-FCN (Karim et al. 2017): Wang et al. 2017's fully
convolutional network for time series, made exact on padded batches.

    h^0 = x                                                   (B, D, T)
    h^k = ReLU(BatchNorm(conv_k(h^k-1)))    k = 1, 2, 3      filters N, 2N, N of widths 8, 5, 3
    s   = (1/T) sum_t h^3_t                                   global average pooling -> (B, N)

With squeeze-and-excite (Hu et al. 2018, as MLSTM-FCN places it: after blocks 1 and 2), each
channel of a block's output is rescaled by a gate computed from the whole sequence:

    z = (1/T) sum_t h^k_t,   e = sigmoid(W_2 ReLU(W_1 z)),   h^k_t <- e * h^k_t    (W_1: C -> C/16)

Each convolution keeps the length T ("same" padding: (w - 1) // 2 zeros before, w // 2 after).
Padding never leaks in: after each block the steps past a sequence's end are set to 0, which is
what a sequence alone would see, and batch normalisation takes its batch statistics over valid
steps only; so a sequence gets the same vector alone or in a padded batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.pooling import padded, valid_steps

WIDTHS = (8, 5, 3)  # filter widths of the three blocks (Wang et al. 2017)
SCALE = (1, 2, 1)  # filters per block, in multiples of N
REDUCTION = 16  # squeeze-and-excite: C channels -> C/16 -> C (Hu et al. 2018)


class MaskedBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over (B, C, T) whose batch statistics skip the padded steps.

    Training: y = (h - mean) / sqrt(var + eps) * gamma + beta, with mean and (biased) var per
    channel over the valid steps of the batch; the running averages take the unbiased var, as
    torch's does. Evaluation: the running averages, as torch's."""

    def forward(self, h: Tensor, valid: Tensor | None) -> Tensor:
        """h (B, C, T); valid (B, 1, T), 1 on the steps inside a sequence, or None when there is
        no padding: then torch's own kernel computes exactly this, faster."""
        if valid is None:
            return super().forward(h)
        if not self.training:
            return super().forward(h) * valid
        count = valid.sum()
        mean = (h * valid).sum(dim=(0, 2)) / count  # (C,)
        centred = (h - mean[:, None]) * valid  # 0 on padding
        var = (centred * centred).sum(dim=(0, 2)) / count
        with torch.no_grad():
            unbiased = var * count / (count - 1).clamp(min=1)
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(unbiased, self.momentum)
            self.num_batches_tracked += 1
        scale = self.weight * torch.rsqrt(var + self.eps)  # (C,)
        # (h - mean) / sqrt(var + eps) * gamma + beta, kept 0 on padding; one pass over h
        return torch.addcmul(self.bias[:, None] * valid, centred, scale[:, None])


class SqueezeExcite(nn.Module):
    """h (B, C, T) -> e * h, e = sigmoid(W_2 ReLU(W_1 z)) from z, the mean over valid steps."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.W_1 = nn.Linear(channels, max(1, channels // REDUCTION))
        self.W_2 = nn.Linear(max(1, channels // REDUCTION), channels)

    def forward(self, h: Tensor, lengths: Tensor) -> Tensor:
        z = h.sum(dim=2) / lengths.to(h.device, h.dtype)[:, None]  # padding is 0: adds nothing
        e = torch.sigmoid(self.W_2(torch.relu(self.W_1(z))))  # (B, C)
        return h * e[:, :, None]


class FullyConvolutional(nn.Module):
    """x (B, T, D), lengths (B,) -> (B, N): three convolution blocks, then the mean over time."""

    def __init__(self, input_size: int, channels: int, squeeze_excite: bool = False) -> None:
        super().__init__()
        sizes = [input_size, *(channels * scale for scale in SCALE)]
        self.convs = nn.ModuleList(
            nn.Conv1d(sizes[k], sizes[k + 1], width, padding=(width - 1) // 2)
            for k, width in enumerate(WIDTHS)
        )
        self.norms = nn.ModuleList(MaskedBatchNorm(size) for size in sizes[1:])
        excited = sizes[1:-1] if squeeze_excite else []  # after the first two blocks
        self.excite = nn.ModuleList(SqueezeExcite(size) for size in excited)
        self.output_size = sizes[-1]

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        valid = None  # (B, 1, T), or None without padding
        if padded(lengths, x.shape[1]):
            valid = valid_steps(lengths, x.shape[1], x.device).to(x.dtype)[:, None, :]
        h = x.transpose(1, 2)  # (B, D, T)
        for k, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            even = 1 - conv.kernel_size[0] % 2  # an even width takes its last zero after
            h = conv(F.pad(h, (0, even)) if even else h)  # (B, C, T)
            h = torch.relu(norm(h, valid))
            if k < len(self.excite):
                h = self.excite[k](h, lengths)
        return h.sum(dim=2) / lengths.to(h.device, h.dtype)[:, None]
