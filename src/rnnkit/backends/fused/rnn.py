"""The vanilla RNN with hand-written backpropagation through time.

forward:  A = X W^T + b                         one GEMM for every step's input part
          for t = 1..T:   h_t = f(A_t + h_{t-1} U^T)         GEMM, f = tanh or relu
backward: with g_t = dL/dh_t (from the output at t and from step t+1),
              da_t = g_t * f'(a_t)          f' = 1 - h_t^2 (tanh) or [h_t > 0] (relu)
              g_{t-1} = da_t U                                   GEMM
          then dW = dA^T X, dU = dA^T H_{t-1}, db = sum dA, dX = dA W (fused/common.py).

torch.nn.RNN's CPU backward runs autograd through every step, adding a product for dU at each;
here dU is one product after the loop. Forward saves only the states h.
Lengths: a padded step keeps h_t = h_{t-1} (a select, so exactly), gets da_t = 0 and passes
g_{t-1} = g_t; its output is zero. Shapes: T steps, B batch, D input, H hidden.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from rnnkit.backends import onednn
from rnnkit.backends.fused.common import (
    bias_grad,
    input_grad,
    per_step,
    tanh_of_half,
    tanh_slope,
    weight_grad,
)


class ForwardStep(NamedTuple):
    """Step t's views of the forward buffers, each (B, .); the step writes h."""

    A: Tensor  # W x_t + b, doubled for tanh
    h_prev: Tensor  # h_{t-1}
    h: Tensor  # h_t
    mask: Tensor | None  # (B, 1): True inside the sequence, False on padding


class BackwardStep(NamedTuple):
    """Step t's views of the backward buffers, each (B, .); the step writes dA."""

    dA: Tensor  # da_t
    slope: Tensor  # f'(a_t), 0 on padding
    d_out: Tensor  # dL/dh_t from the output at t
    keep: Tensor | None  # 1 on padding (g_t passes the step unchanged), else 0


class RNNFunction(torch.autograd.Function):
    """(x (T,B,D), h_0 (B,H), W (H,D), U (H,H), b (H,) | None, mask (T,B,1) | None, relu: bool)
    -> (outputs (T,B,H), h_T (B,H))."""

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias, mask, relu):
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        scale = 1 if relu else 2  # tanh_of_half wants 2a; doubling A and U is exact
        U = onednn.prepare(scale * weight_hh, B)
        # A = X W^T + b: W x_t + b of every step, one GEMM over all T*B rows
        A = onednn.prepare(weight_ih, T * B, bias=bias)(x.flatten(0, 1)).view(T, B, H)
        A.mul_(scale)
        S = x.new_empty(T + 1, B, H)  # h_0, h_1, ..., h_T
        S[0] = h0
        inside = None if mask is None else mask.bool()  # mask comes in the dtype of x
        for step in per_step(ForwardStep, A=A, h_prev=S[:-1], h=S[1:], mask=inside):
            # h_t = f(W x_t + U h_{t-1} + b)          f = relu, or tanh = 2 sigma(2 .) - 1
            a = U(step.h_prev).add_(step.A)
            if relu:
                torch.clamp(a, min=0, out=step.h)
            else:
                tanh_of_half(a, out=step.h)
            if step.mask is not None:
                torch.where(step.mask, step.h, step.h_prev, out=step.h)  # h_t = h_{t-1} on padding
        ctx.save_for_backward(x, weight_ih, weight_hh, mask)
        ctx.states, ctx.relu = S, relu
        outputs = S[1:] if mask is None else S[1:] * mask
        return outputs, S[T]

    @staticmethod
    def backward(ctx, d_outputs, d_hT):
        x, weight_ih, weight_hh, mask = ctx.saved_tensors
        S = ctx.states
        Hs = S[1:]
        slope = (Hs > 0).to(Hs.dtype) if ctx.relu else tanh_slope(Hs)  # f'(a_t), from h_t
        if d_outputs is None:
            d_outputs = torch.zeros_like(Hs)
        keep = None
        if mask is not None:
            d_outputs = d_outputs * mask
            slope = slope * mask
            keep = (1 - mask).expand_as(Hs)  # g_t passes padded steps unchanged
        U_T = onednn.prepare(weight_hh.T, S.shape[1])  # d -> d U
        dA = torch.empty_like(Hs)
        g = torch.zeros_like(S[0]) if d_hT is None else d_hT
        views = per_step(BackwardStep, reverse=True, dA=dA, slope=slope, d_out=d_outputs, keep=keep)
        for step in views:
            # g_t = dL/dh_t, from the output at t and from step t+1
            g_t = g + step.d_out
            # da_t = g_t * f'(a_t)
            torch.mul(g_t, step.slope, out=step.dA)
            # g_{t-1} = da_t U (+ g_t on a padded step)
            g = U_T(step.dA)
            if step.keep is not None:
                g.addcmul_(g_t, step.keep)
        return (
            input_grad(ctx, (dA, weight_ih)),
            g if ctx.needs_input_grad[1] else None,
            weight_grad(ctx, 2, (dA, x)),
            weight_grad(ctx, 3, (dA, S[:-1])),
            bias_grad(ctx, 4, dA),
            None,
            None,
        )
