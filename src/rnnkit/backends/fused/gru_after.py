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

import torch

from rnnkit.backends import onednn
from rnnkit.backends.fused.common import (
    bias_grad,
    input_grad,
    sigmoid_slope_times,
    tanh_of_half,
    update_factors,
    weight_grad,
)


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
        A = onednn.prepare(weight_ih, T * B, bias=bias)(x.flatten(0, 1)).view(T, B, 3 * H)
        A[..., 2 * H :].mul_(2)
        RZ = x.new_empty(T, B, 2 * H)  # r_t | z_t (z_t is 0 on padded steps)
        Q2 = x.new_empty(T, B, H)  # 2 q_t = 2 (U_h h_{t-1} + b_hn)
        N = x.new_empty(T, B, H)  # n_t
        S = x.new_empty(T + 1, B, H)  # h_0, h_1, ..., h_T
        S[0] = h0
        masks = [None] * T if mask is None else mask.unbind(0)
        steps = (A[..., : 2 * H], A[..., 2 * H :], RZ, RZ[..., :H], RZ[..., H:], Q2, N)
        for A_rz, A_h2, rz, r, z, q2, n, h, h_next, m in zip(
            *(tensor.unbind(0) for tensor in (*steps, S[:-1], S[1:])), masks
        ):
            G = U(h)  # (B, 3H)
            torch.sigmoid(G[:, : 2 * H].add_(A_rz), out=rz)
            if m is not None:
                z.mul_(m)
            torch.add(G[:, 2 * H :], b_hn2, out=q2)
            tanh_of_half(torch.addcmul(A_h2, r, q2), out=n)
            torch.lerp(h, n, z, out=h_next)
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
        steps = (dG, dG[..., :H], dG[..., H : 2 * H], dG[..., 2 * H :], dA_h)
        factors = (coef_h, coef_z, coef_r, keep, R, d_outputs)
        for dG_t, dA_r, dA_z, dq, dA_h_t, coef_h_t, coef_z_t, coef_r_t, keep_t, r, d_out in zip(
            *(tensor.unbind(0)[::-1] for tensor in (*steps, *factors))
        ):
            g = g + d_out
            torch.mul(g, coef_h_t, out=dA_h_t)
            torch.mul(g, coef_z_t, out=dA_z)
            torch.mul(dA_h_t, coef_r_t, out=dA_r)
            torch.mul(dA_h_t, r, out=dq)
            g = U_T(dG_t).addcmul_(g, keep_t)
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
