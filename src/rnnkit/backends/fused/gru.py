"""The lecture's GRU (reset before U_h) with hand-written backpropagation through time.

No torch or cuDNN kernel computes GRU(reset="before"), so this one does, as a custom autograd
Function that keeps the per-step work to two matrix products and a few element-wise kernels:

forward:  A = X W^T + b                     one GEMM for every step's input part, a_r | a_z | a_h
          for t = 1..T:
              [r_t, z_t] = sigma(A_rz,t + h_{t-1} U_rz^T)         GEMM, sigmoid
              h~_t = tanh(A_h,t + (r_t * h_{t-1}) U_h^T)          GEMM, tanh = 2 sigma(2 .) - 1
              h_t = h_{t-1} + z_t * (h~_t - h_{t-1})              = (1 - z_t) h_{t-1} + z_t h~_t

backward: with g_t = dL/dh_t (from the output at t and from step t+1),
              da_h,t = g_t * z_t * (1 - h~_t^2)                 pre-activation of h~
              d(rh)_t = da_h,t U_h                              GEMM
              da_z,t = g_t * (h~_t - h_{t-1}) * z_t (1 - z_t)
              da_r,t = d(rh)_t * h_{t-1} * r_t (1 - r_t)
              g_{t-1} = g_t (1 - z_t) + d(rh)_t * r_t + [da_r,t, da_z,t] U_rz     GEMM
          and after the loop, one GEMM per weight block over all steps at once:
              dW = dA^T X,  dU_rz = dA_rz^T H_{t-1},  dU_h = dA_h^T (R * H_{t-1}),  db = sum dA,
              dX = dA W.
The factors that do not depend on g_t are computed for all steps at once before the backward loop.
Forward saves only the gates r, z, h~, the products r * h_{t-1} and the states h; everything else
is recomputed.

Lengths: a padded step gets z_t = 0, so h_t = h_{t-1} exactly and every gradient through the
step is zero except g_{t-1} = g_t; its output is zero.
Shapes: T steps, B batch, D input, H hidden; gates are stored r | z | h like the cell.
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
    sigmoid_slope_times,
    tanh_of_half,
    update_factors,
    weight_grad,
)


class ForwardStep(NamedTuple):
    """Step t's views of the forward buffers, each (B, .); the step writes rz, rh, h_tilde, h."""

    A_rz: Tensor  # W_r x_t + b_r | W_z x_t + b_z
    A_h2: Tensor  # 2 (W_h x_t + b_h)
    rz: Tensor  # r_t | z_t
    r: Tensor
    z: Tensor
    rh: Tensor  # r_t * h_{t-1}
    h_tilde: Tensor  # h~_t
    h_prev: Tensor  # h_{t-1}
    h: Tensor  # h_t
    mask: Tensor | None  # (B, 1): 1 inside the sequence, 0 on padding


class BackwardStep(NamedTuple):
    """Step t's views of the backward buffers, each (B, .); the step writes dA_rz and dA_h."""

    dA_rz: Tensor  # da_r,t | da_z,t
    dA_r: Tensor
    dA_z: Tensor
    dA_h: Tensor  # da_h,t
    coef_h: Tensor  # z_t (1 - h~_t^2)
    coef_z: Tensor  # (h~_t - h_{t-1}) z_t (1 - z_t)
    coef_r: Tensor  # h_{t-1} r_t (1 - r_t)
    keep: Tensor  # 1 - z_t
    r: Tensor  # r_t
    d_out: Tensor  # dL/dh_t from the output at t


class GRUBeforeFunction(torch.autograd.Function):
    """(x (T,B,D), h_0 (B,H), W (3H,D), U (3H,H), b (3H,) | None, mask (T,B,1) | None)
    -> (outputs (T,B,H), h_T (B,H))."""

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias, mask):
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        U_rz = onednn.prepare(weight_hh[: 2 * H], B)
        # Doubling A_h and U_h is exact and hands tanh_of_half the 2a it wants.
        U_h2 = onednn.prepare(2 * weight_hh[2 * H :], B)
        # A = X W^T + b: W x_t + b of every step, one GEMM over all T*B rows
        A = onednn.prepare(weight_ih, T * B, bias=bias)(x.flatten(0, 1)).view(T, B, 3 * H)
        A[..., 2 * H :].mul_(2)
        RZ = x.new_empty(T, B, 2 * H)  # r_t | z_t (z_t is 0 on padded steps)
        HT = x.new_empty(T, B, H)  # h~_t
        RH = x.new_empty(T, B, H)  # r_t * h_{t-1}: what U_h multiplies, kept for dU_h
        S = x.new_empty(T + 1, B, H)  # h_0, h_1, ..., h_T
        S[0] = h0
        views = per_step(
            ForwardStep,
            A_rz=A[..., : 2 * H],
            A_h2=A[..., 2 * H :],
            rz=RZ,
            r=RZ[..., :H],
            z=RZ[..., H:],
            rh=RH,
            h_tilde=HT,
            h_prev=S[:-1],
            h=S[1:],
            mask=mask,
        )
        for step in views:
            # [r_t, z_t] = sigma_g(W_rz x_t + U_rz h_{t-1} + b_rz)            reset, update gates
            torch.sigmoid(U_rz(step.h_prev).add_(step.A_rz), out=step.rz)
            if step.mask is not None:
                step.z.mul_(step.mask)  # z_t = 0 on padding: h_t = h_{t-1}
            # h~_t = sigma_h(W_h x_t + U_h (r_t * h_{t-1}) + b_h)             new update information
            rh = torch.mul(step.r, step.h_prev, out=step.rh)
            tanh_of_half(U_h2(rh).add_(step.A_h2), out=step.h_tilde)
            # h_t = (1 - z_t) * h_{t-1} + z_t * h~_t                          new state
            torch.lerp(step.h_prev, step.h_tilde, step.z, out=step.h)
        ctx.save_for_backward(x, weight_ih, weight_hh, mask)
        ctx.intermediates = RZ, RH, HT, S
        outputs = S[1:] if mask is None else S[1:] * mask
        return outputs, S[T]

    @staticmethod
    def backward(ctx, d_outputs, d_hT):
        x, weight_ih, weight_hh, mask = ctx.saved_tensors
        RZ, RH, HT, S = ctx.intermediates
        B, H = HT.shape[1:]
        R, Z, Hp = RZ[..., :H], RZ[..., H:], S[:-1]  # Hp: h_{t-1} for every t
        # Factors of g_t, for all steps at once (see the module docstring).
        coef_h, coef_z, keep = update_factors(Z, HT, Hp)
        coef_r = sigmoid_slope_times(R, Hp)
        if d_outputs is None:
            d_outputs = torch.zeros_like(HT)
        elif mask is not None:
            d_outputs = d_outputs * mask
        U_rz_T = onednn.prepare(weight_hh[: 2 * H].T, B)  # d -> d U_rz
        U_h_T = onednn.prepare(weight_hh[2 * H :].T, B)
        dA_rz = torch.empty_like(RZ)
        dA_h = torch.empty_like(HT)
        g = torch.zeros_like(HT[0]) if d_hT is None else d_hT  # dL/dh_T from after the loop
        views = per_step(
            BackwardStep,
            reverse=True,
            dA_rz=dA_rz,
            dA_r=dA_rz[..., :H],
            dA_z=dA_rz[..., H:],
            dA_h=dA_h,
            coef_h=coef_h,
            coef_z=coef_z,
            coef_r=coef_r,
            keep=keep,
            r=R,
            d_out=d_outputs,
        )
        for step in views:
            # g_t = dL/dh_t, from the output at t and from step t+1
            g = g + step.d_out
            # da_h,t = g_t * z_t * (1 - h~_t^2)
            torch.mul(g, step.coef_h, out=step.dA_h)
            # d(rh)_t = da_h,t U_h
            d_rh = U_h_T(step.dA_h)
            # da_r,t = d(rh)_t * h_{t-1} * r_t (1 - r_t)
            torch.mul(d_rh, step.coef_r, out=step.dA_r)
            # da_z,t = g_t * (h~_t - h_{t-1}) * z_t (1 - z_t)
            torch.mul(g, step.coef_z, out=step.dA_z)
            # g_{t-1} = [da_r,t, da_z,t] U_rz + d(rh)_t * r_t + g_t (1 - z_t)
            g = U_rz_T(step.dA_rz).addcmul_(d_rh, step.r).addcmul_(g, step.keep)
        return (
            input_grad(ctx, (dA_rz, weight_ih[: 2 * H]), (dA_h, weight_ih[2 * H :])),
            g if ctx.needs_input_grad[1] else None,
            weight_grad(ctx, 2, (dA_rz, x), (dA_h, x)),
            weight_grad(ctx, 3, (dA_rz, Hp), (dA_h, RH)),
            bias_grad(ctx, 4, dA_rz, dA_h),
            None,
        )
