"""The lecture's GRU (reset before U_h), with its options, with hand-written backpropagation
through time.

No torch or cuDNN kernel computes GRU(reset="before"), so this one does, as a torch custom
operator that keeps the per-step work to two matrix products and a few element-wise kernels.
A_t = W x_t + b comes in computed for every step (r | z | h blocks); v_t is what U multiplies,
h_{t-1} or m * h_{t-1} (recurrent dropout); LN(.) γ is the per-gate layer norm when given gains:

forward:  for t = 1..T:
              [r_t, z_t] = sigma(A_rz,t + U_rz v_t)     GEMM (the sum in it), or LN(U_rz v_t) γ_rz
              h~_t = tanh(A_h,t + U_h (r_t * v_t))      GEMM, tanh = 2 sigma(2 .) - 1
              h'_t = h_{t-1} + z_t * (h~_t - h_{t-1})   = (1 - z_t) h_{t-1} + z_t h~_t
              h_t = lerp(h'_t, h_{t-1}, d_t)             zoneout (else h'_t)

backward: with g_t = dL/dh_t (from the output at t and from step t+1), g'_t = g_t (1 - d_t),
              da_h,t = g'_t * z_t * (1 - h~_t^2)        pre-activation of h~
              d(rv)_t = du_h,t U_h                      GEMM; du_h = da_h, or LN_back(da_h γ_h)
              da_z,t = g'_t * (h~_t - h_{t-1}) * z_t (1 - z_t)
              da_r,t = d(rv)_t * v_t * r_t (1 - r_t)
              g_{t-1} = g'_t (1 - z_t) + g_t d_t + (d(rv)_t * r_t + du_rz,t U_rz) * m      GEMM
          and after the loop, one GEMM per weight block over all steps at once:
              dU_rz = dU_rz^T V,  dU_h = dU_h^T (R * V),  dγ = sums over all steps.
The factors that do not depend on g_t are computed for all steps at once before the backward loop.
Forward saves only the gates r, z, h~, the products r * v and the states h; everything else
is recomputed.

Lengths: a padded step gets z_t = 0, so h_t = h_{t-1} exactly and every gradient through the
step is zero except g_{t-1} = g_t; its output is zero.
Both run in C++ where it is built (fused/cpp/gru.cpp, float32 and float64 on CPU), with the
same inputs and outputs as `python_forward` and `python_backward`: either backward reads either
forward.
Shapes: T steps, B batch, H hidden; gates are stored r | z | h like the cell.
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
    sigmoid_slope_times,
    stacked_norms,
    tanh_of_half,
    update_factors,
)
from rnnkit.backends.fused.operator import existing, register, restore
from rnnkit.cells.options import EPS


class ForwardStep(NamedTuple):
    """Step t's views of the forward buffers, each (B, .); the step writes rz, rv, h_tilde, h."""

    A_rz: Tensor  # W_r x_t + b_r | W_z x_t + b_z
    A_h2: Tensor  # 2 (W_h x_t + b_h)
    rz: Tensor  # r_t | z_t
    r: Tensor
    z: Tensor
    v: Tensor  # v_t, what U_rz multiplies
    rv: Tensor  # r_t * v_t, what U_h multiplies
    h_tilde: Tensor  # h~_t
    h_prev: Tensor  # h_{t-1}
    h_new: Tensor  # h'_t
    h: Tensor  # h_t
    zone: Tensor | None  # d_t
    mask: Tensor | None  # (B, 1): 1 inside the sequence, 0 on padding


class BackwardStep(NamedTuple):
    """Step t's views of the backward buffers, each (B, .); the step writes dA_rz and dA_h."""

    dA_rz: Tensor  # da_r,t | da_z,t
    dA_r: Tensor
    dA_z: Tensor
    dA_h: Tensor  # da_h,t
    du_rz: Tensor | None  # with layer norm: dL/d(U_rz v_t)
    du_h: Tensor | None  # and dL/d(U_h (r_t * v_t))
    coef_h: Tensor  # z_t (1 - h~_t^2)
    coef_z: Tensor  # (h~_t - h_{t-1}) z_t (1 - z_t)
    coef_r: Tensor  # v_t r_t (1 - r_t)
    keep: Tensor  # 1 - z_t
    r: Tensor  # r_t
    zone: Tensor | None  # d_t
    keep_zone: Tensor | None  # 1 - d_t
    d_out: Tensor  # dL/dh_t from the output at t


def python_forward(
    A: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    mask: Tensor | None,
    m: Tensor | None,
    d: Tensor | None,
    gamma_h: Tensor | None,
) -> list[Tensor]:
    """(A (T,B,3H), h_0 (B,H), U (3H,H), mask (T,B,1) | None, m (B,H) | None,
    d (T,B,H|1) | None, γ^h (3H,) | None) -> [S = h_0, ..., h_T (T+1,B,H), then what backward
    reads]."""
    T, B, H = A.shape[0], A.shape[1], h0.shape[-1]
    # Doubling A_h and U_h (or its gain γ_h) is exact and hands tanh_of_half the 2a it wants.
    U_rz = onednn.prepare(weight_hh[: 2 * H], B)
    U_h2 = onednn.prepare(weight_hh[2 * H :] * (2 if gamma_h is None else 1), B)
    if gamma_h is not None:
        gain_rz, gain_h2 = gamma_h[: 2 * H], 2 * gamma_h[2 * H :]
    A_h2 = 2 * A[..., 2 * H :]
    RZ = A.new_empty(T, B, 2 * H)  # r_t | z_t (z_t is 0 on padded steps)
    HT = A.new_empty(T, B, H)  # h~_t
    RV = A.new_empty(T, B, H)  # r_t * v_t: what U_h multiplies, kept for dU_h
    S = A.new_empty(T + 1, B, H)  # h_0, h_1, ..., h_T
    S[0] = h0
    V = S[:-1] if m is None else A.new_empty(T, B, H)
    norms_rz, norms_h = [], []
    views = per_step(
        ForwardStep,
        A_rz=A[..., : 2 * H],
        A_h2=A_h2,
        rz=RZ,
        r=RZ[..., :H],
        z=RZ[..., H:],
        v=V,
        rv=RV,
        h_tilde=HT,
        h_prev=S[:-1],
        h_new=S[1:] if d is None else torch.empty_like(HT),
        h=S[1:],
        zone=d,
        mask=mask,
    )
    for step in views:
        v = step.h_prev if m is None else torch.mul(step.h_prev, m, out=step.v)
        # [r_t, z_t] = sigma_g(W_rz x_t + U_rz h_{t-1} + b_rz)            reset, update gates
        if gamma_h is None:
            a_rz = U_rz(v, step.A_rz)
        else:
            a_rz, norm = layer_norm_forward(U_rz(v), gain_rz)
            norms_rz.append(norm)
            a_rz.add_(step.A_rz)
        torch.sigmoid(a_rz, out=step.rz)
        if step.mask is not None:
            step.z.mul_(step.mask)  # z_t = 0 on padding: h_t = h_{t-1}
        # h~_t = sigma_h(W_h x_t + U_h (r_t * h_{t-1}) + b_h)             new update information
        rv = torch.mul(step.r, v, out=step.rv)
        if gamma_h is None:
            a_h2 = U_h2(rv, step.A_h2)
        else:
            a_h2, norm = layer_norm_forward(U_h2(rv), gain_h2)
            norms_h.append(norm)
            a_h2.add_(step.A_h2)
        tanh_of_half(a_h2, out=step.h_tilde)
        # h_t = (1 - z_t) * h_{t-1} + z_t * h~_t                          new state
        torch.lerp(step.h_prev, step.h_tilde, step.z, out=step.h_new)
        if d is not None:  # zoneout: h_t = d_t * h_{t-1} + (1 - d_t) * h'_t
            torch.lerp(step.h_new, step.h_prev, step.zone, out=step.h)
    norms = [*stacked_norms(norms_rz), *stacked_norms(norms_h)]
    return existing(S, RZ, RV, HT, None if m is None else V, *norms)


def fake(A, h0, weight_hh, mask, m, d, gamma_h) -> list[Tensor]:
    """`forward`'s outputs' shapes."""
    T, B, H = A.shape[0], A.shape[1], h0.shape[-1]
    S, RZ = A.new_empty(T + 1, B, H), A.new_empty(T, B, 2 * H)
    RV, HT, V = (A.new_empty(T, B, H) for _ in range(3))
    norms = [*norm_buffers(gamma_h is not None, A, 2 * H), *norm_buffers(gamma_h is not None, A, H)]
    return existing(S, RZ, RV, HT, None if m is None else V, *norms)


def python_backward(
    A: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    mask: Tensor | None,
    m: Tensor | None,
    d: Tensor | None,
    gamma_h: Tensor | None,
    saved: list[Tensor],
    d_states: list[Tensor],
) -> list[Tensor]:
    """forward's inputs, its outputs and dL/dS -> [dA, dh_0, dU, dγ^h (with layer norm)].
    dS[0] goes to h_0, which S[0] copies."""
    layer_norm = [gamma_h is not None] * 6
    S, RZ, RV, HT, V, *stacked = restore(saved, True, True, True, True, m is not None, *layer_norm)
    V = S[:-1] if V is None else V
    norms_rz, norms_h = per_step_norms(*stacked[:3]), per_step_norms(*stacked[3:])
    B, H = HT.shape[1:]
    R, Z, Hp = RZ[..., :H], RZ[..., H:], S[:-1]  # Hp: h_{t-1} for every t
    # Factors of g_t, for all steps at once (see the module docstring).
    coef_h, coef_z, keep = update_factors(Z, HT, Hp)
    coef_r = sigmoid_slope_times(R, V)
    U_rz_T = onednn.prepare(weight_hh[: 2 * H].T, B)  # d -> d U_rz
    U_h_T = onednn.prepare(weight_hh[2 * H :].T, B)
    dA_rz = torch.empty_like(RZ)
    dA_h = torch.empty_like(HT)
    du_rz = dA_rz if gamma_h is None else torch.empty_like(RZ)
    du_h = dA_h if gamma_h is None else torch.empty_like(HT)
    d_gain = None if gamma_h is None else torch.zeros_like(gamma_h)
    g = torch.zeros_like(HT[0])
    views = per_step(
        BackwardStep,
        reverse=True,
        dA_rz=dA_rz,
        dA_r=dA_rz[..., :H],
        dA_z=dA_rz[..., H:],
        dA_h=dA_h,
        du_rz=du_rz,
        du_h=du_h,
        coef_h=coef_h,
        coef_z=coef_z,
        coef_r=coef_r,
        keep=keep,
        r=R,
        zone=d,
        keep_zone=None if d is None else torch.rsub(d, 1),
        d_out=d_states[0][1:],  # dL/dh_t from the output at t (and, at T, from h_T)
    )
    T = len(views)
    for t, step in zip(range(T - 1, -1, -1), views):
        # g_t = dL/dh_t, from the output at t and from step t+1
        g = g + step.d_out
        g_new = g if d is None else g * step.keep_zone  # g'_t, what reaches h'_t
        # da_h,t = g'_t * z_t * (1 - h~_t^2)
        torch.mul(g_new, step.coef_h, out=step.dA_h)
        # d(rv)_t = du_h,t U_h
        if gamma_h is not None:
            du, d_gain_h, _ = layer_norm_backward(step.dA_h, norms_h[t], gamma_h[2 * H :])
            step.du_h.copy_(du)
            d_gain[2 * H :].add_(d_gain_h)
        d_rv = U_h_T(step.du_h)
        # da_r,t = d(rv)_t * v_t * r_t (1 - r_t)
        torch.mul(d_rv, step.coef_r, out=step.dA_r)
        # da_z,t = g'_t * (h~_t - h_{t-1}) * z_t (1 - z_t)
        torch.mul(g_new, step.coef_z, out=step.dA_z)
        if gamma_h is not None:
            du, d_gain_rz, _ = layer_norm_backward(step.dA_rz, norms_rz[t], gamma_h[: 2 * H])
            step.du_rz.copy_(du)
            d_gain[: 2 * H].add_(d_gain_rz)
        # g_{t-1} = (du_rz,t U_rz + d(rv)_t * r_t) * m + g'_t (1 - z_t) + g_t d_t
        g_prev = U_rz_T(step.du_rz).addcmul_(d_rv, step.r)
        if m is not None:
            g_prev.mul_(m)
        g_prev.addcmul_(g_new, step.keep)
        g = g_prev if d is None else g_prev.addcmul_(g, step.zone)
    dU = torch.cat([gemm_over_steps(du_rz, V), gemm_over_steps(du_h, RV)])
    return existing(torch.cat([dA_rz, dA_h], dim=-1), g + d_states[0][0], dU, d_gain)


# The loops in C++ where built (fused/cpp/gru.cpp), else the Python ones above.
forward = in_cpp_where_built(python_forward, "gru_forward", EPS)
backward = in_cpp_where_built(python_backward, "gru_backward")

# (inputs as `forward`) -> [S, ...]; outputs = S[1:] (times mask), h_T = S[T]
op = register("gru_before", forward, fake, backward, differentiable_inputs=(0, 1, 2, 6), states=1)
