"""GRU(reset="after"), cuDNN's placement, with hand-written backpropagation through time.

forward:  A = X W^T + b                         one GEMM for every step's input part
          for t = 1..T:
              G_t = h_{t-1} U^T                                    one GEMM for r, z and h
              [r_t, z_t] = sigma(A_rz,t + G_rz,t)
              n_t = tanh(A_h,t + r_t * (G_h,t + b_hn))             the candidate h~_t
              h_t = h_{t-1} + z_t * (n_t - h_{t-1})                = (1 - z_t) h_{t-1} + z_t n_t
backward: with g_t = dL/dh_t, q_t = G_h,t + b_hn (saved),
              da_h,t = g_t * z_t * (1 - n_t^2)
              da_z,t = g_t * (n_t - h_{t-1}) * z_t (1 - z_t)
              da_r,t = da_h,t * q_t * r_t (1 - r_t)
              dq_t = da_h,t * r_t
              g_{t-1} = g_t (1 - z_t) + [da_r,t, da_z,t, dq_t] U              one GEMM
          then dU = [da_r, da_z, dq]^T H_{t-1} and db_hn = sum dq (one GEMM, one sum), and
          dW, db, dX from [da_r, da_z, da_h] (fused/common.py).

Unlike the lecture's GRU, this one needs a single product with U per step, forward and backward,
as torch's kernel does; it can still beat torch.nn.GRU's CPU path, whose backward runs autograd
through every step and multiplies for dU at each. Lengths: z_t = 0 on padded steps, as in gru.py.
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
    """Step t's views of the forward buffers, each (B, .); the step writes rz, q2, n, h."""

    A_rz: Tensor  # W_r x_t + b_r | W_z x_t + b_z
    A_h2: Tensor  # 2 (W_h x_t + b_h)
    rz: Tensor  # r_t | z_t
    r: Tensor
    z: Tensor
    q2: Tensor  # 2 q_t = 2 (U_h h_{t-1} + b_hn)
    n: Tensor  # n_t, the candidate h~_t
    h_prev: Tensor  # h_{t-1}
    h: Tensor  # h_t
    mask: Tensor | None  # (B, 1): 1 inside the sequence, 0 on padding


class BackwardStep(NamedTuple):
    """Step t's views of the backward buffers, each (B, .); the step writes dG and dA_h."""

    dG: Tensor  # da_r,t | da_z,t | dq_t: what multiplies U
    dA_r: Tensor
    dA_z: Tensor
    dq: Tensor
    dA_h: Tensor  # da_h,t
    coef_h: Tensor  # z_t (1 - n_t^2)
    coef_z: Tensor  # (n_t - h_{t-1}) z_t (1 - z_t)
    coef_r: Tensor  # q_t r_t (1 - r_t)
    keep: Tensor  # 1 - z_t
    r: Tensor  # r_t
    d_out: Tensor  # dL/dh_t from the output at t


class GRUAfterFunction(torch.autograd.Function):
    """(x (T,B,D), h_0 (B,H), W (3H,D), U (3H,H), b (3H,) | None, mask (T,B,1) | None,
    b_hn (H,) | None) -> (outputs (T,B,H), h_T (B,H))."""

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias, mask, b_hn):
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        # tanh_of_half wants 2a: the h rows of U, b_hn and A are doubled (exactly).
        double_h = torch.ones_like(weight_hh[:, 0])
        double_h[2 * H :] = 2
        U = onednn.prepare(weight_hh * double_h[:, None], B)
        b_hn2 = 2 * b_hn if b_hn is not None else h0.new_zeros(H)
        # A = X W^T + b: W x_t + b of every step, one GEMM over all T*B rows
        A = onednn.prepare(weight_ih, T * B, bias=bias)(x.flatten(0, 1)).view(T, B, 3 * H)
        A[..., 2 * H :].mul_(2)
        RZ = x.new_empty(T, B, 2 * H)  # r_t | z_t (z_t is 0 on padded steps)
        Q2 = x.new_empty(T, B, H)  # 2 q_t = 2 (U_h h_{t-1} + b_hn)
        N = x.new_empty(T, B, H)  # n_t
        S = x.new_empty(T + 1, B, H)  # h_0, h_1, ..., h_T
        S[0] = h0
        views = per_step(
            ForwardStep,
            A_rz=A[..., : 2 * H],
            A_h2=A[..., 2 * H :],
            rz=RZ,
            r=RZ[..., :H],
            z=RZ[..., H:],
            q2=Q2,
            n=N,
            h_prev=S[:-1],
            h=S[1:],
            mask=mask,
        )
        for step in views:
            G = U(step.h_prev)  # (B, 3H): U_r h_{t-1} | U_z h_{t-1} | 2 U_h h_{t-1}
            # [r_t, z_t] = sigma_g(W_rz x_t + U_rz h_{t-1} + b_rz)            reset, update gates
            torch.sigmoid(G[:, : 2 * H].add_(step.A_rz), out=step.rz)
            if step.mask is not None:
                step.z.mul_(step.mask)  # z_t = 0 on padding: h_t = h_{t-1}
            # n_t = sigma_h(W_h x_t + b_h + r_t * (U_h h_{t-1} + b_hn))       the candidate h~_t
            torch.add(G[:, 2 * H :], b_hn2, out=step.q2)
            tanh_of_half(torch.addcmul(step.A_h2, step.r, step.q2), out=step.n)
            # h_t = (1 - z_t) * h_{t-1} + z_t * n_t                           new state
            torch.lerp(step.h_prev, step.n, step.z, out=step.h)
        ctx.save_for_backward(x, weight_ih, weight_hh, mask)
        ctx.intermediates = RZ, Q2, N, S
        outputs = S[1:] if mask is None else S[1:] * mask
        return outputs, S[T]

    @staticmethod
    def backward(ctx, d_outputs, d_hT):
        x, weight_ih, weight_hh, mask = ctx.saved_tensors
        RZ, Q2, N, S = ctx.intermediates
        B, H = N.shape[1:]
        R, Z, Hp = RZ[..., :H], RZ[..., H:], S[:-1]
        # Factors of g_t, for all steps at once (see the module docstring).
        coef_h, coef_z, keep = update_factors(Z, N, Hp)
        coef_r = sigmoid_slope_times(R, Q2).mul_(0.5)  # Q2 holds 2 q_t
        if d_outputs is None:
            d_outputs = torch.zeros_like(N)
        elif mask is not None:
            d_outputs = d_outputs * mask
        U_T = onednn.prepare(weight_hh.T, B)  # d -> d U
        dG = torch.empty(*N.shape[:2], 3 * H, dtype=N.dtype, device=N.device)  # da_r|da_z|dq
        dA_h = torch.empty_like(N)
        g = torch.zeros_like(N[0]) if d_hT is None else d_hT
        views = per_step(
            BackwardStep,
            reverse=True,
            dG=dG,
            dA_r=dG[..., :H],
            dA_z=dG[..., H : 2 * H],
            dq=dG[..., 2 * H :],
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
            # da_h,t = g_t * z_t * (1 - n_t^2)
            torch.mul(g, step.coef_h, out=step.dA_h)
            # da_z,t = g_t * (n_t - h_{t-1}) * z_t (1 - z_t)
            torch.mul(g, step.coef_z, out=step.dA_z)
            # da_r,t = da_h,t * q_t * r_t (1 - r_t)
            torch.mul(step.dA_h, step.coef_r, out=step.dA_r)
            # dq_t = da_h,t * r_t
            torch.mul(step.dA_h, step.r, out=step.dq)
            # g_{t-1} = [da_r,t, da_z,t, dq_t] U + g_t (1 - z_t)
            g = U_T(step.dG).addcmul_(g, step.keep)
        dA_rz = dG[..., : 2 * H]
        return (
            input_grad(ctx, (dA_rz, weight_ih[: 2 * H]), (dA_h, weight_ih[2 * H :])),
            g if ctx.needs_input_grad[1] else None,
            weight_grad(ctx, 2, (dA_rz, x), (dA_h, x)),
            weight_grad(ctx, 3, (dG, Hp)),
            bias_grad(ctx, 4, dA_rz, dA_h),
            None,
            bias_grad(ctx, 6, dG[..., 2 * H :]),
        )
