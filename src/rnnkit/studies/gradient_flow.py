"""How much gradient reaches each time step: ||d loss / d h_t|| against the distance T - t.

Back-propagation through time multiplies the gradient by one Jacobian per step,

    d l / d h_t = (d h_{t+1} / d h_t)^T  d l / d h_{t+1}      (plus any direct term from step t)

so in a vanilla RNN, whose Jacobian is diag(tanh'(.)) U, the norm shrinks (or grows) roughly
geometrically with the distance from the step where the loss is read: the vanishing gradient the
LSTM was made to fix. For a 1-unit linear RNN h_t = w h_{t-1} + u x_t with loss h_T the Jacobian
is w, so d loss / d h_t = w^(T - t) exactly; the tests check that.

The measurement steps the layer one time step at a time, `layer(x_t, state)`, and adds a zero
tensor e_t to the state after each step, h_t <- h_t + e_t, so that autograd's d loss / d e_t is the
total derivative d loss / d h_t (through every later step, and through h_t's own output). For an
LSTM the cell state c_t is held fixed: the gradient is the one that flows into h_t.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

# outputs (B, T, H) -> one loss per sequence (B,)
SequenceLoss = Callable[[Tensor], Tensor]


def state_gradient_norms(layer: nn.Module, x: Tensor, losses: SequenceLoss) -> Tensor:
    """Mean over the batch of ||d l_b / d h_t||, indexed by distance from the end.

    `layer` is a unidirectional, batch-first recurrent layer; x is (B, T, D); `losses` maps the
    top layer's states h_1..h_T, stacked (B, T, H), to each sequence's loss l_b. Returns (T,):
    entry k is the norm at t = T - k (entry 0 is the last step). For a stacked layer, h_t is every
    layer's state at step t.
    """
    state = None
    perturbations, tops = [], []
    for t in range(x.shape[1]):
        _, state = layer(x[:, t : t + 1], state)
        hidden = state[0] if isinstance(state, tuple) else state  # (L, B, H)
        zero = torch.zeros_like(hidden, requires_grad=True)
        hidden = hidden + zero
        state = (hidden, *state[1:]) if isinstance(state, tuple) else hidden
        perturbations.append(zero)
        tops.append(hidden[-1])
    # Summing the per-sequence losses keeps each sequence's gradient its own: d sum / d h_t^(b)
    # = d l_b / d h_t^(b).
    total = losses(torch.stack(tops, dim=1)).sum()
    grads = torch.autograd.grad(total, perturbations)
    norms = torch.stack([g.transpose(0, 1).flatten(1).norm(dim=1).mean() for g in grads])  # (T,)
    return norms.flip(0).detach()
