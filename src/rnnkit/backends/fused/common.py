"""What the fused Functions share: per-step views, tanh through sigmoid, and the gradients
computed after the loop.

After the backward loop has filled dA (T, B, G*H), the gradients of the pre-activations
a_t = W x_t + U h_{t-1} + b for every step, the parameter and input gradients are one matrix
product each over all T*B rows at once:

    dW = dA^T X     dU = dA^T V (V: what U multiplied, h_{t-1} or r_t * h_{t-1})
    db = sum over t and b of dA     dX = dA W

A Function may keep dA in blocks (gates whose products differ); the blocks are concatenated.
"""

from __future__ import annotations

from itertools import repeat
from typing import TypeVar

import torch
from torch import Tensor

Step = TypeVar("Step", bound=tuple)  # a NamedTuple of one step's views


def per_step(step: type[Step], reverse: bool = False, **buffers: Tensor | None) -> list[Step]:
    """One `step` (a NamedTuple) per time step, each field the step's slice of the (T, ...) buffer
    of the same name (a None buffer gives None), in time order or, for a backward loop, reversed.

    All views are made at once, before the loop: indexing inside it costs more than the
    arithmetic at small B and H.
    """
    columns = [
        repeat(None) if buffers[name] is None else buffers[name].unbind(0) for name in step._fields
    ]
    steps = [step._make(views) for views in zip(*columns)]
    return steps[::-1] if reverse else steps


def tanh_of_half(a2: Tensor, out: Tensor) -> Tensor:
    """tanh(a) = 2 sigma(2a) - 1, from a2 = 2a, into `out`.

    torch's CPU sigmoid runs several times faster than its tanh (one exp against a polynomial
    on each side of zero), and doubling the weights and inputs that make a2 is exact.
    """
    return torch.sigmoid(a2, out=out).mul_(2).sub_(1)


def update_factors(Z: Tensor, candidate: Tensor, Hp: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The factors of g_t in a GRU's backward step, for every step at once (all (T, B, H)):

        coef_h = z_t (1 - c_t^2)              c_t: the candidate state, h~_t or n_t
        coef_z = (c_t - h_{t-1}) z_t (1 - z_t)
        keep   = 1 - z_t

    Each is one new tensor, built by in-place steps: at T*B*H floats a fresh temporary per
    operation costs more (memory traffic, page faults) than the arithmetic.
    """
    keep = torch.rsub(Z, 1)
    coef_h = tanh_slope(candidate).mul_(Z)
    coef_z = torch.sub(candidate, Hp).mul_(Z).mul_(keep)
    return coef_h, coef_z, keep


def tanh_slope(T: Tensor) -> Tensor:
    """1 - t^2, the derivative of t = tanh(a) read from t, as one new tensor."""
    return torch.mul(T, T).neg_().add_(1)


def sigmoid_slope_times(S: Tensor, other: Tensor) -> Tensor:
    """other * s (1 - s), the derivative of s = sigma(a) times `other`, as one new tensor."""
    return torch.rsub(S, 1).mul_(S).mul_(other)


def _rows(tensor: Tensor) -> Tensor:
    return tensor.flatten(0, 1)  # (T, B, n) -> (T*B, n)


def weight_grad(ctx, index: int, *blocks: tuple[Tensor, Tensor]) -> Tensor | None:
    """[dA_1^T V_1; dA_2^T V_2; ...] for the Function's input `index`, if it needs one."""
    if not ctx.needs_input_grad[index]:
        return None
    return torch.cat([_rows(dA).T @ _rows(V) for dA, V in blocks])


def bias_grad(ctx, index: int, *blocks: Tensor) -> Tensor | None:
    """[sum dA_1, sum dA_2, ...] over steps and batch."""
    if not ctx.needs_input_grad[index]:
        return None
    return torch.cat([dA.sum((0, 1)) for dA in blocks])


def input_grad(ctx, *blocks: tuple[Tensor, Tensor]) -> Tensor | None:
    """dX = dA_1 W_1 + dA_2 W_2 + ... (T, B, D), for the Function's input 0 (x)."""
    if not ctx.needs_input_grad[0]:
        return None
    (dA, W), *rest = blocks
    dX = _rows(dA) @ W
    for dA, W in rest:
        dX.addmm_(_rows(dA), W)
    return dX.view(*dA.shape[:2], -1)
