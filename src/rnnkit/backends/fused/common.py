"""What the fused kernels share: per-step views, tanh through sigmoid, layer norm per gate,
and the gradients computed after the loop.

After the backward loop has filled dA (T, B, G*H), the gradients of the pre-activations
a_t = A_t + U v_t for every step (dU, through layer norm where there is one), the gradient of U is
one matrix product over all T*B rows at once, dU = dU^T V (V: what U multiplied, h_{t-1},
m * h_{t-1} or r_t * h_{t-1}); dA itself goes back to autograd, which differentiates the input
part A = W x_t + b (cells' project_input) with one GEMM for dW and one for dx.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, wraps
from itertools import repeat
from typing import TypeVar

import torch
from torch import Tensor

from rnnkit.backends.fused import cpp
from rnnkit.cells.options import EPS

# What layer normalisation's backward needs of one step: its input, mean and 1/std.
Norm = tuple[Tensor, Tensor, Tensor]

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


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a kernel's forward or backward (as a
    decorator): its loop makes thousands of short-lived objects (the steps' views and
    NamedTuples, none in a cycle), and each collection they trigger walks every live object.
    Measured here: 50 against 56 ms for a training step of rnnkit.LSTM at (32,64,128,2)."""
    if not gc.isenabled():  # the caller's choice stands
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def in_cpp_where_built(python_loop: Callable, cpp_op: str, *settings: object) -> Callable:
    """`python_loop`, run by the C++ op `cpp_op` (fused/cpp/) where that is built and computes
    for the first input's device and dtype, with `settings` (epsilon) after the inputs; the same
    signature, which the op's schema is read from. A backward's last input, the list of state
    gradients, goes to the C++ op as its elements."""

    @wraps(python_loop)
    def run(*inputs):
        if not cpp.runs(inputs[0]):
            return python_loop(*inputs)
        if cpp_op.endswith("_backward"):
            *inputs, d_states = inputs
            inputs = [*inputs, *d_states]
        return getattr(cpp.ops(), cpp_op)(*inputs, *settings)

    return run


@cache
def constant(value: float, dtype: torch.dtype) -> Tensor:
    """`value` as a 0-dim tensor: in a step's element-wise work a Python number costs a
    conversion per call (about 7 µs against 3 µs for a tensor, measured here at 32 x 128).
    Cached, so made outside inference mode: an inference tensor could not serve autograd later."""
    with torch.inference_mode(False):
        return torch.tensor(value, dtype=dtype)


def tanh_of_half(a2: Tensor, out: Tensor) -> Tensor:
    """tanh(a) = 2 sigma(2a) - 1, from a2 = 2a, into `out`.

    torch's CPU sigmoid runs several times faster than its tanh (one exp against a polynomial
    on each side of zero), and doubling the weights and inputs that make a2 is exact.
    """
    return twice_minus_one(torch.sigmoid(a2, out=out))


def twice_minus_one(s: Tensor) -> Tensor:
    """s <- 2 s - 1, in place: tanh(a) from s = sigma(2a)."""
    return s.mul_(constant(2.0, s.dtype)).sub_(constant(1.0, s.dtype))


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


def gemm_over_steps(dA: Tensor, V: Tensor) -> Tensor:
    """dA^T V over every step and batch row at once: (T, B, n), (T, B, k) -> (n, k)."""
    return dA.flatten(0, 1).T @ V.flatten(0, 1)


def layer_norm_forward(u: Tensor, gain: Tensor, bias: Tensor | None = None) -> tuple[Tensor, Norm]:
    """LN(u; γ, β) over u's last dimension (torch's kernel), and what its backward needs."""
    normalised, mean, rstd = torch.native_layer_norm(u, u.shape[-1:], gain, bias, EPS)
    return normalised, (u, mean, rstd)


def layer_norm_backward(
    d_out: Tensor, norm: Norm, gain: Tensor, bias: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """dL/du, and this step's share of dL/dγ (and of dL/dβ when LN has a bias), from
    dL/dLN(u). Summing the shares in the loop costs less than keeping every step's u for one sum
    after it (memory, at large T B H)."""
    u, mean, rstd = norm
    mask = (True, True, bias is not None)
    return torch.ops.aten.native_layer_norm_backward(
        d_out, u, u.shape[-1:], mean, rstd, gain, bias, mask
    )


def stacked_norms(norms: list[Norm]) -> list[Tensor | None]:
    """Every step's Norm as three (T, ...) buffers (an op's outputs are tensors), or three None
    without layer norm."""
    if not norms:
        return [None, None, None]
    return [torch.stack(parts) for parts in zip(*norms)]


def norm_buffers(present: bool, like: Tensor, width: int) -> list[Tensor | None]:
    """`stacked_norms`' shapes for u (T, B, width), like (T, B, .): u, mean and 1/std."""
    if not present:
        return [None, None, None]
    T, B = like.shape[:2]
    return [like.new_empty(T, B, width), like.new_empty(T, B, 1), like.new_empty(T, B, 1)]


def per_step_norms(U_v: Tensor | None, mean: Tensor | None, rstd: Tensor | None) -> list[Norm]:
    """`stacked_norms`' inverse: one Norm per step (none without layer norm)."""
    if U_v is None:
        return []
    return list(zip(U_v.unbind(0), mean.unbind(0), rstd.unbind(0)))
