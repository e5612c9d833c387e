"""The vanilla RNN, with its options, with hand-written backpropagation through time.

A_t = W x_t + b comes in computed for every step; v_t is what U multiplies, h_{t-1} or
m * h_{t-1} (recurrent dropout); with layer norm, U v_t becomes LN(U v_t) γ:

forward:  for t = 1..T:
              h'_t = f(A_t + U v_t)                    GEMM (the sum in it), f = tanh or relu
              h_t = lerp(h'_t, h_{t-1}, d_t)           zoneout (else h'_t)
backward: with g_t = dL/dh_t (from the output at t and from step t+1),
              da_t = g_t (1 - d_t) * f'(a_t)     f' = 1 - h'^2 (tanh) or [h' > 0] (relu)
              g_{t-1} = (du_t U) * m + g_t d_t          GEMM; du_t = da_t, or LN_back(da_t γ)
          then dU = dU^T V (one GEMM), dγ a sum over all steps.

torch.nn.RNN's CPU backward runs autograd through every step, adding a product for dU at each;
here dU is one product after the loop. Forward saves only the states (and h'_t with zoneout).
Lengths: a padded step keeps h_t = h_{t-1} (a select, so exactly), gets da_t = 0 and passes
g_{t-1} = g_t; its output is zero. Shapes: T steps, B batch, H hidden.
Both loops run in C++ where it is built (fused/cpp/rnn.cpp, float32 and float64 on CPU), with
the same inputs and outputs as `python_forward` and `python_backward`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from rnnkit.backends import onednn
from rnnkit.backends.fused.common import (
    gemm_over_steps,
    in_cpp_where_built,
    layer_norm_backward,
    layer_norm_forward,
    norm_buffers,
    per_step,
    per_step_norms,
    stacked_norms,
    tanh_of_half,
    tanh_slope,
)
from rnnkit.backends.fused.operator import existing, register, restore
from rnnkit.cells.options import EPS


class ForwardStep(NamedTuple):
    """Step t's views of the forward buffers, each (B, .); the step writes h."""

    A: Tensor  # W x_t + b, doubled for tanh
    v: Tensor  # v_t, what U multiplies
    h_prev: Tensor  # h_{t-1}
    h_new: Tensor  # h'_t
    h: Tensor  # h_t
    zone: Tensor | None  # d_t
    mask: Tensor | None  # (B, 1): True inside the sequence, False on padding


class BackwardStep(NamedTuple):
    """Step t's views of the backward buffers, each (B, .); the step writes dA."""

    dA: Tensor  # da_t
    du: Tensor | None  # with layer norm: dL/d(U v_t)
    slope: Tensor  # (1 - d_t) f'(a_t), 0 on padding
    carry: Tensor | None  # d_t, and 1 on padding: the share of g_t that reaches h_{t-1} directly
    d_out: Tensor  # dL/dh_t from the output at t


def python_forward(
    A: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    mask: Tensor | None,
    m: Tensor | None,
    d: Tensor | None,
    gamma_h: Tensor | None,
    relu: bool,
) -> list[Tensor]:
    """(A (T,B,H), h_0 (B,H), U (H,H), mask (T,B,1) | None, m (B,H) | None, d (T,B,H|1) | None,
    γ^h (H,) | None, relu) -> [S = h_0, ..., h_T (T+1,B,H), then what backward reads]."""
    T, B, H = A.shape[0], A.shape[1], h0.shape[-1]
    scale = 1 if relu else 2  # tanh_of_half wants 2a; doubling A and U (or γ) is exact
    U = onednn.prepare(weight_hh * (scale if gamma_h is None else 1), B)
    gain = None if gamma_h is None else gamma_h * scale
    A = A * scale  # a copy: A itself is the caller's
    S = A.new_empty(T + 1, B, H)  # h_0, h_1, ..., h_T
    S[0] = h0
    H_new = S[1:] if d is None else torch.empty_like(A)
    V = S[:-1] if m is None else torch.empty_like(A)
    inside = None if mask is None else mask.bool()  # mask comes in the dtype of A
    norms = []
    views = per_step(
        ForwardStep, A=A, v=V, h_prev=S[:-1], h_new=H_new, h=S[1:], zone=d, mask=inside
    )
    for step in views:
        v = step.h_prev if m is None else torch.mul(step.h_prev, m, out=step.v)
        # h_t = f(W x_t + U h_{t-1} + b)          f = relu, or tanh = 2 sigma(2 .) - 1
        if gain is None:
            a = U(v, step.A)
        else:
            a, norm = layer_norm_forward(U(v), gain)
            norms.append(norm)
            a.add_(step.A)
        if relu:
            torch.clamp(a, min=0, out=step.h_new)
        else:
            tanh_of_half(a, out=step.h_new)
        if d is not None:  # zoneout: h_t = d_t * h_{t-1} + (1 - d_t) * h'_t
            torch.lerp(step.h_new, step.h_prev, step.zone, out=step.h)
        if step.mask is not None:
            torch.where(step.mask, step.h, step.h_prev, out=step.h)  # h_t = h_{t-1} on padding
    return existing(
        S, None if d is None else H_new, None if m is None else V, *stacked_norms(norms)
    )


def fake(A, h0, weight_hh, mask, m, d, gamma_h, relu) -> list[Tensor]:
    """`forward`'s outputs' shapes."""
    T, B, H = A.shape[0], A.shape[1], h0.shape[-1]
    new = [None if x is None else A.new_empty(T, B, H) for x in (d, m)]
    return existing(A.new_empty(T + 1, B, H), *new, *norm_buffers(gamma_h is not None, A, H))


def python_backward(
    A: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    mask: Tensor | None,
    m: Tensor | None,
    d: Tensor | None,
    gamma_h: Tensor | None,
    relu: bool,
    saved: list[Tensor],
    d_states: list[Tensor],
) -> list[Tensor]:
    """forward's inputs, its outputs and dL/dS -> [dA, dh_0, dU, dγ^h (with layer norm)].
    dS[0] goes to h_0, which S[0] copies."""
    S, H_new, V, *stacked = restore(
        saved, True, d is not None, m is not None, *[gamma_h is not None] * 3
    )
    H_new = S[1:] if H_new is None else H_new
    V = S[:-1] if V is None else V
    norms = per_step_norms(*stacked)
    slope = (H_new > 0).to(H_new.dtype) if relu else tanh_slope(H_new)  # f'(a_t)
    carry = d
    if d is not None:
        slope = slope * torch.rsub(d, 1)
    if mask is not None:  # the outputs' gradients come masked (outputs = S[1:] * mask)
        slope = slope * mask
        carry = (1 - mask) if d is None else torch.where(mask.bool(), d, 1.0)
    U_T = onednn.prepare(weight_hh.T, S.shape[1])  # d -> d U
    dA = torch.empty_like(H_new)
    du = dA if gamma_h is None else torch.empty_like(dA)
    d_gain = None if gamma_h is None else torch.zeros_like(gamma_h)
    g = torch.zeros_like(S[0])
    views = per_step(
        BackwardStep,
        reverse=True,
        dA=dA,
        du=du,
        slope=slope.expand_as(dA),
        carry=None if carry is None else carry.expand_as(dA),
        d_out=d_states[0][1:],  # dL/dh_t from the output at t (and, at T, from h_T)
    )
    T = len(views)
    for t, step in zip(range(T - 1, -1, -1), views):
        # g_t = dL/dh_t, from the output at t and from step t+1
        g_t = g + step.d_out
        # da_t = g_t (1 - d_t) * f'(a_t)
        torch.mul(g_t, step.slope, out=step.dA)
        if gamma_h is not None:
            du_t, d_gain_t, _ = layer_norm_backward(step.dA, norms[t], gamma_h)
            step.du.copy_(du_t)
            d_gain.add_(d_gain_t)
        # g_{t-1} = (du_t U) * m + g_t d_t (d_t = 1 on a padded step)
        g = U_T(step.du)
        if m is not None:
            g.mul_(m)
        if step.carry is not None:
            g.addcmul_(g_t, step.carry)
    return existing(dA, g + d_states[0][0], gemm_over_steps(du, V), d_gain)


# The loops in C++ where built (fused/cpp/rnn.cpp), else the Python ones above.
forward = in_cpp_where_built(python_forward, "rnn_forward", EPS)
backward = in_cpp_where_built(python_backward, "rnn_backward")

# (inputs as `forward`) -> [S, ...]; outputs = S[1:] (times mask), h_T = S[T]
op = register("rnn", forward, fake, backward, differentiable_inputs=(0, 1, 2, 6), states=1)
