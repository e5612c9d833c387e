"""GRU(reset="after"), cuDNN's placement, with its options, with hand-written backpropagation
through time.

A_t = W x_t + b comes in computed for every step (r | z | h blocks); v_t is what U multiplies,
h_{t-1} or m * h_{t-1} (recurrent dropout); with layer norm, G_t is LN(U v_t) γ per gate:

forward:  for t = 1..T:
              G_t = U v_t                                          one GEMM for r, z and h
              [r_t, z_t] = sigma(A_rz,t + G_rz,t)
              n_t = tanh(A_h,t + r_t * (G_h,t + b_hn))             the candidate h~_t
              h'_t = h_{t-1} + z_t * (n_t - h_{t-1})               = (1 - z_t) h_{t-1} + z_t n_t
              h_t = lerp(h'_t, h_{t-1}, d_t)                       zoneout (else h'_t)
backward: with g_t = dL/dh_t, g'_t = g_t (1 - d_t), q_t = G_h,t + b_hn (saved),
              da_h,t = g'_t * z_t * (1 - n_t^2)
              da_z,t = g'_t * (n_t - h_{t-1}) * z_t (1 - z_t)
              da_r,t = da_h,t * q_t * r_t (1 - r_t)
              dq_t = da_h,t * r_t
              g_{t-1} = g'_t (1 - z_t) + g_t d_t + (du_t U) * m             one GEMM
          with du_t = [da_r,t, da_z,t, dq_t], or LN_back of it times γ; then dU = dU^T V and
          db_hn = sum dq (one GEMM, one sum), dγ = a sum over all steps.

Unlike the lecture's GRU, this one needs a single product with U per step, forward and backward,
as torch's kernel does; it can still beat torch.nn.GRU's CPU path, whose backward runs autograd
through every step and multiplies for dU at each. Lengths: z_t = 0 on padded steps, as in gru.py.
Both loops run in C++ where it is built (fused/cpp/gru_after.cpp, float32 and float64 on CPU), with
the same inputs and outputs as `python_forward` and `python_backward`.
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
    """Step t's views of the forward buffers, each (B, .); the step writes rz, q2, n, h."""

    A_rz: Tensor  # W_r x_t + b_r | W_z x_t + b_z
    A_h2: Tensor  # 2 (W_h x_t + b_h)
    rz: Tensor  # r_t | z_t
    r: Tensor
    z: Tensor
    v: Tensor  # v_t, what U multiplies
    q2: Tensor  # 2 q_t = 2 (G_h,t + b_hn)
    n: Tensor  # n_t, the candidate h~_t
    h_prev: Tensor  # h_{t-1}
    h_new: Tensor  # h'_t
    h: Tensor  # h_t
    zone: Tensor | None  # d_t
    mask: Tensor | None  # (B, 1): 1 inside the sequence, 0 on padding


class BackwardStep(NamedTuple):
    """Step t's views of the backward buffers, each (B, .); the step writes dG and dA_h."""

    dG: Tensor  # da_r,t | da_z,t | dq_t: what multiplies U (through layer norm)
    dA_r: Tensor
    dA_z: Tensor
    dq: Tensor
    du: Tensor | None  # with layer norm: dL/d(U v_t)
    dA_h: Tensor  # da_h,t
    coef_h: Tensor  # z_t (1 - n_t^2)
    coef_z: Tensor  # (n_t - h_{t-1}) z_t (1 - z_t)
    coef_r: Tensor  # q_t r_t (1 - r_t)
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
    b_hn: Tensor | None,
) -> list[Tensor]:
    """(A (T,B,3H), h_0 (B,H), U (3H,H), mask (T,B,1) | None, m (B,H) | None,
    d (T,B,H|1) | None, γ^h (3H,) | None, b_hn (H,) | None) -> [S = h_0, ..., h_T (T+1,B,H),
    then what backward reads]."""
    T, B, H = A.shape[0], A.shape[1], h0.shape[-1]
    # tanh_of_half wants 2a: the h rows of U (or of γ^h), b_hn and A are doubled (exactly).
    double_h = torch.ones_like(weight_hh[:, 0])
    double_h[2 * H :] = 2
    if gamma_h is None:
        U = onednn.prepare(weight_hh * double_h[:, None], B)
    else:
        U, gain2 = onednn.prepare(weight_hh, B), gamma_h * double_h
    b_hn2 = 2 * b_hn if b_hn is not None else h0.new_zeros(H)
    A_h2 = 2 * A[..., 2 * H :]
    RZ = A.new_empty(T, B, 2 * H)  # r_t | z_t (z_t is 0 on padded steps)
    Q2 = A.new_empty(T, B, H)  # 2 q_t = 2 (G_h,t + b_hn)
    N = A.new_empty(T, B, H)  # n_t
    S = A.new_empty(T + 1, B, H)  # h_0, h_1, ..., h_T
    S[0] = h0
    V = S[:-1] if m is None else A.new_empty(T, B, H)
    norms = []
    views = per_step(
        ForwardStep,
        A_rz=A[..., : 2 * H],
        A_h2=A_h2,
        rz=RZ,
        r=RZ[..., :H],
        z=RZ[..., H:],
        v=V,
        q2=Q2,
        n=N,
        h_prev=S[:-1],
        h_new=S[1:] if d is None else torch.empty_like(N),
        h=S[1:],
        zone=d,
        mask=mask,
    )
    for step in views:
        v = step.h_prev if m is None else torch.mul(step.h_prev, m, out=step.v)
        G = U(v)  # (B, 3H): U_r v | U_z v | 2 U_h v, or their layer norm
        if gamma_h is not None:
            G, norm = layer_norm_forward(G, gain2)
            norms.append(norm)
        # [r_t, z_t] = sigma_g(W_rz x_t + U_rz h_{t-1} + b_rz)            reset, update gates
        torch.sigmoid(G[:, : 2 * H].add_(step.A_rz), out=step.rz)
        if step.mask is not None:
            step.z.mul_(step.mask)  # z_t = 0 on padding: h_t = h_{t-1}
        # n_t = sigma_h(W_h x_t + b_h + r_t * (U_h h_{t-1} + b_hn))       the candidate h~_t
        torch.add(G[:, 2 * H :], b_hn2, out=step.q2)
        tanh_of_half(torch.addcmul(step.A_h2, step.r, step.q2), out=step.n)
        # h_t = (1 - z_t) * h_{t-1} + z_t * n_t                           new state
        torch.lerp(step.h_prev, step.n, step.z, out=step.h_new)
        if d is not None:  # zoneout: h_t = d_t * h_{t-1} + (1 - d_t) * h'_t
            torch.lerp(step.h_new, step.h_prev, step.zone, out=step.h)
    return existing(S, RZ, Q2, N, None if m is None else V, *stacked_norms(norms))


def fake(A, h0, weight_hh, mask, m, d, gamma_h, b_hn) -> list[Tensor]:
    """`forward`'s outputs' shapes."""
    T, B, H = A.shape[0], A.shape[1], h0.shape[-1]
    S, RZ = A.new_empty(T + 1, B, H), A.new_empty(T, B, 2 * H)
    Q2, N, V = (A.new_empty(T, B, H) for _ in range(3))
    norms = norm_buffers(gamma_h is not None, A, 3 * H)
    return existing(S, RZ, Q2, N, None if m is None else V, *norms)


def python_backward(
    A: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    mask: Tensor | None,
    m: Tensor | None,
    d: Tensor | None,
    gamma_h: Tensor | None,
    b_hn: Tensor | None,
    saved: list[Tensor],
    d_states: list[Tensor],
) -> list[Tensor]:
    """forward's inputs, its outputs and dL/dS -> [dA, dh_0, dU, dγ^h (with layer norm),
    db_hn (with b_hn)]. dS[0] goes to h_0, which S[0] copies."""
    layer_norm = [gamma_h is not None] * 3
    S, RZ, Q2, N, V, *stacked = restore(saved, True, True, True, True, m is not None, *layer_norm)
    V = S[:-1] if V is None else V
    norms = per_step_norms(*stacked)
    B, H = N.shape[1:]
    R, Z, Hp = RZ[..., :H], RZ[..., H:], S[:-1]
    # Factors of g_t, for all steps at once (see the module docstring).
    coef_h, coef_z, keep = update_factors(Z, N, Hp)
    coef_r = sigmoid_slope_times(R, Q2).mul_(0.5)  # Q2 holds 2 q_t
    U_T = onednn.prepare(weight_hh.T, B)  # d -> d U
    dG = torch.empty(*N.shape[:2], 3 * H, dtype=N.dtype, device=N.device)  # da_r|da_z|dq
    du = dG if gamma_h is None else torch.empty_like(dG)
    d_gain = None if gamma_h is None else torch.zeros_like(gamma_h)
    dA_h = torch.empty_like(N)
    g = torch.zeros_like(N[0])
    views = per_step(
        BackwardStep,
        reverse=True,
        dG=dG,
        dA_r=dG[..., :H],
        dA_z=dG[..., H : 2 * H],
        dq=dG[..., 2 * H :],
        du=du,
        dA_h=dA_h,
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
        # da_h,t = g'_t * z_t * (1 - n_t^2)
        torch.mul(g_new, step.coef_h, out=step.dA_h)
        # da_z,t = g'_t * (n_t - h_{t-1}) * z_t (1 - z_t)
        torch.mul(g_new, step.coef_z, out=step.dA_z)
        # da_r,t = da_h,t * q_t * r_t (1 - r_t)
        torch.mul(step.dA_h, step.coef_r, out=step.dA_r)
        # dq_t = da_h,t * r_t
        torch.mul(step.dA_h, step.r, out=step.dq)
        if gamma_h is not None:
            du_t, d_gain_t, _ = layer_norm_backward(step.dG, norms[t], gamma_h)
            step.du.copy_(du_t)
            d_gain.add_(d_gain_t)
        # g_{t-1} = (du_t U) * m + g'_t (1 - z_t) + g_t d_t
        g_prev = U_T(step.du)
        if m is not None:
            g_prev.mul_(m)
        g_prev.addcmul_(g_new, step.keep)
        g = g_prev if d is None else g_prev.addcmul_(g, step.zone)
    dA = torch.cat([dG[..., : 2 * H], dA_h], dim=-1)
    d_b_hn = None if b_hn is None else dG[..., 2 * H :].sum((0, 1))
    return existing(dA, g + d_states[0][0], gemm_over_steps(du, V), d_gain, d_b_hn)


# The loops in C++ where built (fused/cpp/gru_after.cpp), else the Python ones above.
forward = in_cpp_where_built(python_forward, "gru_after_forward", EPS)
backward = in_cpp_where_built(python_backward, "gru_after_backward")

# (inputs as `forward`) -> [S, ...]; outputs = S[1:] (times mask), h_T = S[T]
op = register("gru_after", forward, fake, backward, differentiable_inputs=(0, 1, 2, 6, 7), states=1)
