"""One vector per sequence from a recurrent layer's states h_1..h_T, padding never counted.

    last       s = h_T                     the state after the last valid step
                                           (bidirectional: [h->_T, h<-_1])
    mean       s = (1/T) sum_t h_t
    max        s_j = max_t h_{t,j}         each unit's strongest response, wherever it was
    attention  a_t = softmax_t(v^T tanh(W h_t + b)),   s = sum_t a_t h_t
               (the sequence decides which steps matter: Bahdanau et al. 2015's scores,
               Zhou et al. 2016's pooling)

T is each sequence's own length. Shapes: B batch, T time, F features per step (dirs*H).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

POOLINGS = ("last", "mean", "max", "attention")


def valid_steps(lengths: Tensor, steps: int, device: torch.device) -> Tensor:
    """mask (B, T): True where step t is inside sequence b."""
    return torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]


def padded(lengths: Tensor, steps: int) -> bool:
    """Whether any sequence of a batch of `steps` steps is shorter: the padding-free batch takes
    the faster calls (no lengths, no masks)."""
    return bool((lengths < steps).any())


def mean_over_time(output: Tensor, lengths: Tensor) -> Tensor:
    """output (B, T, F) -> (B, F): the mean over each sequence's valid steps."""
    valid = valid_steps(lengths, output.shape[1], output.device).to(output.dtype)
    total = (output * valid[:, :, None]).sum(dim=1)
    return total / lengths.to(output.device, output.dtype)[:, None]


def max_over_time(output: Tensor, lengths: Tensor) -> Tensor:
    """output (B, T, F) -> (B, F): each feature's largest value over the valid steps."""
    valid = valid_steps(lengths, output.shape[1], output.device)
    return output.masked_fill(~valid[:, :, None], -torch.inf).amax(dim=1)


def last_state(h_n: Tensor, output_size: int) -> Tensor:
    """The top layer's final states of h_n (L*dirs, B, H), side by side: (B, dirs*H)."""
    directions = output_size // h_n.shape[-1]
    top = h_n[-directions:]  # (dirs, B, H): the last layer, forward then backward
    return top.transpose(0, 1).reshape(h_n.shape[1], -1)


class AttentionPooling(nn.Module):
    """s = sum_t a_t h_t with a_t = softmax over the valid steps of v^T tanh(W h_t + b)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.W = nn.Linear(features, features)
        self.v = nn.Linear(features, 1, bias=False)

    def forward(self, output: Tensor, lengths: Tensor) -> Tensor:
        """output (B, T, F) -> (B, F)."""
        scores = self.v(torch.tanh(self.W(output))).squeeze(-1)  # (B, T)
        valid = valid_steps(lengths, output.shape[1], output.device)
        a = scores.masked_fill(~valid, -torch.inf).softmax(dim=1)  # (B, T), 0 on padding
        return (a[:, :, None] * output).sum(dim=1)
