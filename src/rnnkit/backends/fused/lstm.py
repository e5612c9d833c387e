"""The LSTM, with its options, with hand-written backpropagation through time.

Two loops compute it: `python_forward` / `python_backward` below, and the same computation in C++
(fused/cpp/lstm.cpp: same inputs, same outputs), which `forward` / `backward` run for float32
and float64 CPU tensors where it is built; the Python loop runs the rest (bf16, CUDA) and is what
the C++ one is tested against. The equations below are both loops'.

The input product of every step comes in computed, one GEMM for all steps: A_t = W x_t (the
cell's input_product), and the op adds the bias, A_t + b, or with layer norm normalises it first,
LN(A_t; γ^x) + b (the cell's project_input, b being LN's β^x): in the C++ loop row by row, where
A_t is read anyway. A GEMM's bias is a pass of its own over all T*B rows: with the bias in the
GEMM instead, the plain LSTM's inference took 1.05-1.07 times as long at (32,64,128,2) and
(16,200,256,1), 1.00-1.03 at (64,100,512,2) (Intel Xeon, 2 threads, interleaved in one process).
Per step only the products with U (oneDNN's, see backends/onednn.py) and a few element-wise
kernels remain, forward and backward, and dU is one GEMM after the loop.
v_t is what U multiplies (h_{t-1}, or m * h_{t-1} with recurrent dropout), c'_t and h'_t the
step's new values before zoneout, d_t and d^c_t the zoneout masks (1 on padded steps, so that a
padded step keeps its state exactly), gates in storage order i | f | c | o:

forward:  A_t <- LN(A_t; γ^x) + b with γ^x given, else A_t + b
          for t = 1..T:
              [i, f, s, o]_t = sigma(A_t + U v_t)     one GEMM (the sum in it); s = sigma(2 a_c),
                              or sigma(A_t + LN(U v_t) γ^h)     its row of U (or γ^h) doubled
              c~_t = tanh(a_c) = 2 s_t - 1            (in place of s_t)
              c'_t = f_t * c_{t-1} + i_t * c~_t
              k_t = tanh(LN(c'_t; γ^c, β^c)) or tanh(c'_t)      tanh = 2 sigma(2 .) - 1
              m_t = o_t * k_t;  h'_t = W_hr m_t (proj_size) or m_t
              c_t = lerp(c'_t, c_{t-1}, d^c_t);  h_t = lerp(h'_t, h_{t-1}, d_t)
backward: with g_t = dL/dh_t and e_t = dL/dc_t (each from step t+1; g_t also from the output):
              g'_t = g_t (1 - d_t);  dm_t = g'_t W_hr or g'_t                (one GEMM with proj)
              da_o = dm_t * k_t * o_t (1 - o_t);  dk^_t = dm_t * o_t (1 - k_t^2)
              dc'_t = LN_back(dk^_t) or dk^_t,  + e_t (1 - d^c_t)
              [da_i, da_f, da_c] = dc'_t * [c~_t i_t (1 - i_t), c_{t-1} f_t (1 - f_t),
                                            i_t (1 - c~_t^2)]
              e_{t-1} = dc'_t * f_t + e_t d^c_t
              du_t = da_t, or LN_back(da_t γ^h) with layer norm
              g_{t-1} = (du_t U) * m + g_t d_t                               one GEMM
          and after the loop dU = dU^T V and dW_hr = dH'^T M over all steps at once (the gains'
          gradients are summed in the loop, from torch's layer-norm backward), and with γ^x
          dA = LN_back(dA), with dγ^x and db (without γ^x, db = dA summed over every step).
The factors that do not depend on g_t and e_t are computed for all steps at once before the loop.
Shapes: T steps, B batch, H hidden, P = proj_size or H.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from rnnkit.backends import onednn
from rnnkit.backends.fused import cpp
from rnnkit.backends.fused.common import (
    gemm_over_steps,
    layer_norm_backward,
    layer_norm_forward,
    norm_buffers,
    per_step,
    per_step_norms,
    stacked_norms,
    tanh_of_half,
    tanh_slope,
    twice_minus_one,
)
from rnnkit.backends.fused.operator import existing, register, restore
from rnnkit.cells.options import EPS


class ForwardStep(NamedTuple):
    """Step t's views of the forward buffers, each (B, .)."""

    A: Tensor  # A_t, the input part
    A_c: Tensor  # its c block
    y: Tensor  # i_t | f_t | c~_t | o_t
    i: Tensor
    f: Tensor
    c_tilde: Tensor  # first sigma(2 a_c), then c~_t = 2 sigma(2 a_c) - 1
    o: Tensor
    c_prev: Tensor  # c_{t-1}
    c_new: Tensor  # c'_t
    c: Tensor  # c_t
    k: Tensor  # tanh(c'_t), or tanh(LN(c'_t))
    m: Tensor  # o_t * k_t
    v: Tensor  # v_t, what U multiplies
    h_prev: Tensor  # h_{t-1}
    h: Tensor  # h_t
    zone_h: Tensor | None  # d_t
    zone_c: Tensor | None  # d^c_t


class BackwardStep(NamedTuple):
    """Step t's views of the backward buffers, each (B, .)."""

    dA: Tensor  # da_t, all four gates
    dA_o: Tensor  # first k_t o_t (1 - o_t), then da_o
    dA_ifc: Tensor  # (B, 3, H): first the factors of dc'_t (see below), then da_i, da_f, da_c
    du: Tensor | None  # dL/d(U v_t) with layer norm (else dA itself)
    dh_new: Tensor | None  # dL/dh'_t with proj_size, for dW_hr
    k_c: Tensor  # o_t (1 - k_t^2)
    f: Tensor
    keep_h: Tensor | None  # 1 - d_t
    zone_h: Tensor | None
    keep_c: Tensor | None  # 1 - d^c_t
    zone_c: Tensor | None
    d_out_prev: Tensor  # dL/dh_{t-1} from the output at t-1 (dS[0]: what reaches h_0 directly)
    d_c_prev: Tensor  # dL/dc_{t-1} from outside (dC[t-1]: a layer passes on only c_T)


def python_forward(
    A: Tensor,
    h0: Tensor,
    c0: Tensor,
    U: Tensor,
    m: Tensor | None,
    d: Tensor | None,
    d_c: Tensor | None,
    gamma_x: Tensor | None,
    bias: Tensor | None,
    gamma_h: Tensor | None,
    gamma_c: Tensor | None,
    beta_c: Tensor | None,
    W_hr: Tensor | None,
) -> list[Tensor]:
    """(A (T,B,4H), h_0 (B,P), c_0 (B,H), U (4H,P), m (B,P) | None, d (T,B,P|1) | None,
    d^c (T,B,H|1) | None, γ^x (4H,) | None, b (4H,) | None, γ^h (4H,) | None,
    γ^c (H,) | None, β^c (H,) | None, W_hr (P,H) | None) -> [S = h_0, ..., h_T (T+1,B,P),
    C = c_0, ..., c_T (T+1,B,H), then what backward reads]."""
    T, B, H = A.shape[0], A.shape[1], c0.shape[-1]
    norm_x = (None, None, None)  # the input's layer norm: (W x, mean, 1/std)
    if gamma_x is not None:
        A, norm_x = layer_norm_forward(A, gamma_x, bias)
    elif bias is not None:
        A = A + bias
    # tanh(a_c) = 2 sigma(2 a_c) - 1: the c block of A and of U v (or of γ^h) doubled, exactly
    double_c = torch.ones_like(A[0, 0])
    double_c[2 * H : 3 * H] = 2
    if gamma_h is None:
        U2 = onednn.prepare(U * double_c[:, None], B)
    else:
        U2, gain2 = onednn.prepare(U, B), gamma_h * double_c
    proj = None if W_hr is None else onednn.prepare(W_hr, B)
    Y = A.new_empty(T, B, 4 * H)
    S = A.new_empty(T + 1, *h0.shape)  # h_0, h_1, ..., h_T
    S[0] = h0
    C = A.new_empty(T + 1, B, H)  # c_0, c_1, ..., c_T
    C[0] = c0
    C_new = C[1:] if d_c is None else A.new_empty(T, B, H)  # c'_t
    K = A.new_empty(T, B, H)
    M = S[1:] if W_hr is None and d is None else A.new_empty(T, B, H)
    V = S[:-1] if m is None else A.new_empty(T, *h0.shape)
    norms_h, norms_c = (
        [],
        [],
    )  # per step, what LN's backward needs: (U v_t or c'_t, mean, 1/std)
    views = per_step(
        ForwardStep,
        A=A,
        A_c=A[..., 2 * H : 3 * H],
        y=Y,
        i=Y[..., :H],
        f=Y[..., H : 2 * H],
        c_tilde=Y[..., 2 * H : 3 * H],
        o=Y[..., 3 * H :],
        c_prev=C[:-1],
        c_new=C_new,
        c=C[1:],
        k=K,
        m=M,
        v=V,
        h_prev=S[:-1],
        h=S[1:],
        zone_h=d,
        zone_c=d_c,
    )
    for step in views:
        v = step.h_prev if m is None else torch.mul(step.h_prev, m, out=step.v)
        # [i, f, s, o]_t = sigma(W x_t + U v_t + b), or with LN(U v_t) γ^h     gates
        if gamma_h is None:
            a = U2(v, step.A)
        else:
            a, norm = layer_norm_forward(U2(v), gain2)
            norms_h.append(norm)
            a.add_(step.A)
        a[:, 2 * H : 3 * H].add_(step.A_c)  # 2 a_c (a copy of A doubled would not fit memory)
        torch.sigmoid(a, out=step.y)
        twice_minus_one(step.c_tilde)  # c~_t = tanh(a_c) = 2 sigma(2 a_c) - 1
        # c'_t = f_t * c_{t-1} + i_t * c~_t                                      cell state
        c_new = torch.mul(step.f, step.c_prev, out=step.c_new).addcmul_(step.i, step.c_tilde)
        # k_t = tanh(c'_t), or tanh(LN(c'_t; γ^c, β^c))
        if gamma_c is not None:
            c_new, norm = layer_norm_forward(c_new, gamma_c, beta_c)
            norms_c.append(norm)
        tanh_of_half(torch.add(c_new, c_new, out=step.k), out=step.k)
        # h'_t = o_t * k_t, or W_hr (o_t * k_t)                                  hidden state
        h_new = torch.mul(step.o, step.k, out=step.m)
        if proj is not None:
            h_new = proj(h_new)
        # zoneout (and padding): c_t = lerp(c'_t, c_{t-1}, d^c_t), h_t likewise
        if d_c is not None:
            torch.lerp(step.c_new, step.c_prev, step.zone_c, out=step.c)
        if d is not None:
            torch.lerp(h_new, step.h_prev, step.zone_h, out=step.h)
        elif proj is not None:
            step.h.copy_(h_new)
    own_M = W_hr is not None or d is not None  # else M is S[1:]
    norms = [*stacked_norms(norms_h), *stacked_norms(norms_c), *norm_x[1:]]
    return existing(S, C, Y, K, M if own_M else None, None if m is None else V, *norms)


def fake(
    A, h0, c0, U, m, d, d_c, gamma_x, bias, gamma_h, gamma_c, beta_c, W_hr, save
) -> list[Tensor]:
    """`forward`'s outputs' shapes."""
    T, B, H = A.shape[0], A.shape[1], c0.shape[-1]
    kept = T if save else 1
    S, C = A.new_empty(T + 1, *h0.shape), A.new_empty(T + 1 if save else 2, B, H)
    Y, K, M = A.new_empty(kept, B, 4 * H), A.new_empty(kept, B, H), A.new_empty(kept, B, H)
    own_M = W_hr is not None or d is not None
    V = None if m is None else A.new_empty(kept, *h0.shape)
    layer_norm, like = gamma_h is not None, A.new_empty(kept, B, 1)
    norms = [*norm_buffers(layer_norm, like, 4 * H), *norm_buffers(layer_norm, like, H)]
    if gamma_x is not None:  # the moments of A_t
        norms += [torch.empty_like(like), torch.empty_like(like)]
    return existing(S, C, Y, K, M if own_M else None, V, *norms)


def python_backward(
    A: Tensor,
    h0: Tensor,
    c0: Tensor,
    U: Tensor,
    m: Tensor | None,
    d: Tensor | None,
    d_c: Tensor | None,
    gamma_x: Tensor | None,
    bias: Tensor | None,
    gamma_h: Tensor | None,
    gamma_c: Tensor | None,
    beta_c: Tensor | None,
    W_hr: Tensor | None,
    saved: list[Tensor],
    d_states: list[Tensor],
) -> list[Tensor]:
    """forward's inputs, its outputs and dL/dS, dL/dC -> [dA, dh_0, dc_0, dU, dγ^x (with it), db
    (with a bias), with layer norm dγ^h, dγ^c, dβ^c, with proj_size dW_hr]."""
    own_M = W_hr is not None or d is not None
    layer_norm = [gamma_h is not None] * 6
    S, C, Y, K, M, V, *stacked, mean_x, rstd_x = restore(
        saved, True, True, True, True, own_M, m is not None, *layer_norm, *[gamma_x is not None] * 2
    )
    M = S[1:] if M is None else M
    V = S[:-1] if V is None else V
    norms_h, norms_c = per_step_norms(*stacked[:3]), per_step_norms(*stacked[3:])
    T, B, H = K.shape
    I, F, c_tilde, O = Y.split(H, dim=-1)
    # The factors of g_t and e_t, for every step at once (see the module docstring), each
    # written where its gradient will be: da_t = dA's factor times dm_t or dc'_t, in place
    # (new (T, B, 4H) buffers cost more than their arithmetic: memory traffic, page faults).
    dA = torch.empty_like(Y)
    dA_i, dA_f, dA_c, dA_o = dA.split(H, dim=-1)
    torch.mul(I, I, out=dA_i).neg_().add_(I).mul_(c_tilde)  # c~_t i_t (1 - i_t)
    torch.mul(F, F, out=dA_f).neg_().add_(F).mul_(C[:-1])  # c_{t-1} f_t (1 - f_t)
    torch.mul(c_tilde, c_tilde, out=dA_c).neg_().add_(1).mul_(I)  # i_t (1 - c~_t^2)
    torch.mul(O, O, out=dA_o).neg_().add_(O).mul_(K)  # k_t o_t (1 - o_t)
    k_c = tanh_slope(K).mul_(O)  # o_t (1 - k_t^2)
    dS, dC = d_states  # dS[t]: dL/dh_t from the output at t (and, at T, from h_T); dS[0] = 0
    du = dA if gamma_h is None else torch.empty_like(Y)
    d_gains = [None if g is None else torch.zeros_like(g) for g in (gamma_h, gamma_c, beta_c)]
    dH_new = None if W_hr is None else torch.empty_like(S[1:])
    views = per_step(
        BackwardStep,
        reverse=True,
        dA=dA,
        dA_o=dA[..., 3 * H :],
        dA_ifc=dA[..., : 3 * H].unflatten(-1, (3, H)),
        du=du,
        dh_new=dH_new,
        k_c=k_c,
        f=F,
        keep_h=None if d is None else torch.rsub(d, 1),
        zone_h=d,
        keep_c=None if d_c is None else torch.rsub(d_c, 1),
        zone_c=d_c,
        d_out_prev=dS[:-1],
        d_c_prev=dC[:-1],
    )
    U_T = onednn.prepare(U.T, B)  # du -> du U
    proj_T = None if W_hr is None else onednn.prepare(W_hr.T, B)
    # g_t = dL/dh_t, from the output at t and from step t+1 (after the loop for t = T)
    g = dS[T]
    e = dC[T]  # dL/dc_T
    for t, step in zip(range(T - 1, -1, -1), views):
        # zoneout: g'_t = g_t (1 - d_t) reaches h'_t, g_t d_t reaches h_{t-1} unchanged
        g_new = g if d is None else g * step.keep_h
        # dm_t = g'_t W_hr with proj_size (h'_t = W_hr m_t), else g'_t
        dm = g_new if proj_T is None else proj_T(step.dh_new.copy_(g_new))
        # da_o = dm_t * k_t * o_t (1 - o_t)
        step.dA_o.mul_(dm)
        # dc'_t = dm_t * o_t (1 - k_t^2) (through LN(c'_t)) + e_t (1 - d^c_t)
        if gamma_c is None:
            dc = torch.addcmul(e if d_c is None else e * step.keep_c, dm, step.k_c)
        else:
            dc, d_gain, d_bias = layer_norm_backward(dm * step.k_c, norms_c[t], gamma_c, beta_c)
            d_gains[1].add_(d_gain)
            d_gains[2].add_(d_bias)
            dc = dc.add_(e) if d_c is None else dc.addcmul_(e, step.keep_c)
        # [da_i, da_f, da_c] = dc'_t * [c~ i (1 - i), c_{t-1} f (1 - f), i (1 - c~^2)]
        step.dA_ifc.mul_(dc.unsqueeze(1))
        # e_{t-1} = dc'_t * f_t (+ e_t d^c_t)
        e = dc.mul_(step.f) if d_c is None else dc.mul_(step.f).addcmul_(e, step.zone_c)
        e.add_(step.d_c_prev)
        # g_{t-1} = (du_t U) * m + g_t d_t + the output's, du_t = da_t or LN_back(da_t γ^h)
        if gamma_h is not None:
            du_t, d_gain, _ = layer_norm_backward(step.dA, norms_h[t], gamma_h)
            step.du.copy_(du_t)
            d_gains[0].add_(d_gain)
        if m is None and d is None:
            g = U_T(step.du, step.d_out_prev)
            continue
        g_prev = U_T(step.du)
        if m is not None:
            g_prev.mul_(m)
        if d is not None:
            g_prev.addcmul_(g, step.zone_h)
        g = g_prev.add_(step.d_out_prev)
    dW_hr = None if W_hr is None else gemm_over_steps(dH_new, M)
    d_norm_x = [None, None if bias is None else dA.sum((0, 1))]  # dγ^x, db
    if gamma_x is not None:  # dA through LN(A_t; γ^x) + b
        dA, *d_norm_x = layer_norm_backward(dA, (A, mean_x, rstd_x), gamma_x, bias)
    return existing(dA, g, e, gemm_over_steps(du, V), *d_norm_x, *d_gains, dW_hr)


def forward(
    A: Tensor,
    h0: Tensor,
    c0: Tensor,
    U: Tensor,
    m: Tensor | None,
    d: Tensor | None,
    d_c: Tensor | None,
    gamma_x: Tensor | None,
    bias: Tensor | None,
    gamma_h: Tensor | None,
    gamma_c: Tensor | None,
    beta_c: Tensor | None,
    W_hr: Tensor | None,
    save: bool,
) -> list[Tensor]:
    """`python_forward`'s computation, in C++ where it runs (fused/cpp/), else in Python.
    save: keep what backward reads for every step; without it (inference) those buffers hold
    one step each, which the C++ loop rewrites in place (30% faster at (64,100,512)), and C
    two steps, the last c_T."""
    inputs = (A, h0, c0, U, m, d, d_c, gamma_x, bias, gamma_h, gamma_c, beta_c, W_hr)
    if not cpp.runs(A):
        outputs = python_forward(*inputs)
        if save:
            return outputs
        S, C, *rest = outputs
        return [S, C[-2:].clone(), *(x[:1].clone() for x in rest)]
    gains = _contiguous(gamma_x, bias, gamma_h, gamma_c, beta_c)
    return cpp.ops().lstm_forward(A, h0, c0, U, m, d, d_c, *gains, W_hr, EPS, save)


def backward(
    A: Tensor,
    h0: Tensor,
    c0: Tensor,
    U: Tensor,
    m: Tensor | None,
    d: Tensor | None,
    d_c: Tensor | None,
    gamma_x: Tensor | None,
    bias: Tensor | None,
    gamma_h: Tensor | None,
    gamma_c: Tensor | None,
    beta_c: Tensor | None,
    W_hr: Tensor | None,
    save: bool,
    saved: list[Tensor],
    d_states: list[Tensor],
) -> list[Tensor]:
    """`python_backward`'s computation, in C++ where it runs, else in Python (of a forward
    that saved: autograd records the op only with `save`)."""
    if not cpp.runs(A):
        inputs = (A, h0, c0, U, m, d, d_c, gamma_x, bias, gamma_h, gamma_c, beta_c, W_hr)
        return python_backward(*inputs, saved, d_states)
    gains = _contiguous(gamma_x, bias, gamma_h, gamma_c, beta_c)
    return cpp.ops().lstm_backward(A, h0, U, m, d, d_c, *gains, W_hr, saved, *d_states)


def _contiguous(*tensors: Tensor | None) -> list[Tensor | None]:
    return [None if t is None else t.contiguous() for t in tensors]


# (inputs as `forward`) -> [S, C, ...]; outputs = S[1:], h_T = S[T], c_T = C[T]
op = register(
    "lstm",
    forward,
    fake,
    backward,
    differentiable_inputs=(0, 1, 2, 3, 7, 8, 9, 10, 11, 12),
    states=2,
)
