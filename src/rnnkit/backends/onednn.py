"""The matrix products of the fused backend's time loop, through oneDNN where it can run them.

    product(x) = x @ weight^T (+ bias)   x (B, K), weight (N, K) -> (B, N)
    product(x, add) = x @ weight^T + add  the sum in the same call (the step's input part)

The time loop multiplies by the same weight T times. oneDNN's linear, the op torch's own compiler
emits on CPU (`torch.ops.mkldnn._linear_pointwise`), can take the weight reordered once into its
own blocked layout; torch's default matmul (MKL) repacks it on every call, and on AMD CPUs runs
the small-batch recurrent GEMM well below oneDNN's speed.

That op is internal to torch, so it is wrapped here, once: at import it is checked to exist, to
run, and to agree with matmul on a small case, and `prepare` is oneDNN's or matmul's accordingly.
oneDNN's path covers float32 CPU products of at least MIN_MACS multiply-adds; smaller ones, and
any other dtype or device (float64, bfloat16 on CPUs without AVX-512, CUDA), get matmul.
No autograd: the fused backend calls these in its own forward and backward; `linear`, the one
differentiable product here, is the input projection X W^T + b of every step at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from rnnkit.backends.fused import cpp

# A weight prepared for repeated products: (x (B, K), add (B, N) or None) -> x @ weight^T
# (+ bias) (+ add) (B, N).
Product = Callable[..., Tensor]
Prepare = Callable[..., Product]  # (weight, batch_size, bias=None) -> Product

# oneDNN's fixed cost per call (tens of microseconds here, against a few for MKL) and the reorder
# of the weight outweigh its faster kernel below about this size (64 x 512 x 128 multiply-adds).
MIN_MACS = 1 << 22


def cpu_vendor() -> str:
    """The CPU's vendor as Linux names it ("GenuineIntel", "AuthenticAMD"), "" where unknown."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("vendor_id"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return ""


def min_rows(vendor: str) -> int:
    """From how many rows a single product (the input projection of a whole sequence) goes to
    oneDNN. It pays the reorder on every call: below about 3,072 rows MKL's matmul is faster,
    measured on an AMD EPYC (2 threads): 2,048 x 128 x 512 in 1.32 ms against oneDNN's 1.44,
    2,048 x 512 x 128 1.35 against 1.56; 3,200 x 256 x 1,024 oneDNN's 8.2 against 9.7,
    4,096 x 128 x 512 2.70 against 2.80. On Intel CPUs MKL, Intel's own, is as fast or faster
    at every size: measured on an Intel Xeon (AVX-512, 2 threads), with the bias, 6,400 x 512 x
    2,048 in 67.4 and 69.3 ms against oneDNN's 65.3 and 70.8 (a tie), 3,200 x 256 x 1,024 5.96
    against 6.76, 2,048 x 128 x 512 1.05 against 1.21; dX = dY W (6,400 x 2,048 x 512) 44.6
    against 50.4, (3,200 x 1,024 x 256) 5.85 against 6.28.
    """
    return sys.maxsize if vendor == "GenuineIntel" else 3072


MIN_ROWS = min_rows(cpu_vendor())


def matmul_product(weight: Tensor, batch_size: int, bias: Tensor | None = None) -> Product:
    """x -> x @ weight^T + bias through torch's default matmul (MKL on CPU, cuBLAS on GPU)."""
    return partial(matmul_linear, weight=weight, bias=bias)


def matmul_linear(x: Tensor, add: Tensor | None = None, *, weight: Tensor, bias: Tensor | None):
    if add is None:
        return torch.nn.functional.linear(x, weight, bias)
    return torch.addmm(add if bias is None else add + bias, x, weight.T)


def onednn_product(
    weight: Tensor, batch_size: int, bias: Tensor | None = None, min_macs: int = MIN_MACS
) -> Product:
    """x -> x @ weight^T + bias through oneDNN, the weight reordered once for rows of
    `batch_size`. Also worth it for one large product (all T*B rows at once): measured here,
    oneDNN ran (6400 x 512) x (512 x 1536) in 87 ms against matmul's 108 ms."""
    small = batch_size * weight.numel() < min_macs
    if small or weight.device.type != "cpu" or weight.dtype != torch.float32:
        return matmul_product(weight, batch_size, bias)
    packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), batch_size)
    bias = None if bias is None else bias.detach()
    return partial(onednn_linear, packed=packed, bias=bias)


def onednn_linear(x: Tensor, add: Tensor | None = None, *, packed: Tensor, bias: Tensor | None):
    if add is None:
        return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")
    return torch.ops.mkldnn._linear_pointwise.binary(x, add, packed, bias, "add")


def onednn_works() -> bool:
    """True when oneDNN's linear exists, runs, and matches matmul on a small float32 case."""
    if not torch.backends.mkldnn.is_available():
        return False
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, 24, generator=generator)
    weight = torch.randn(40, 24, generator=generator)
    add = torch.randn(5, 40, generator=generator)
    try:
        product = onednn_product(weight, 5, min_macs=0)
        result, with_add = product(x), product(x, add)
    except (AttributeError, RuntimeError):  # the op is missing or refuses this build or CPU
        return False
    expected = x @ weight.T
    return (
        result.shape == (5, 40)
        and torch.allclose(result, expected, rtol=1e-4, atol=1e-4)
        and torch.allclose(with_add, expected + add, rtol=1e-4, atol=1e-4)
    )


def choose(works: bool) -> Prepare:
    """oneDNN's products when oneDNN works, matmul's otherwise."""
    return onednn_product if works else matmul_product


prepare: Prepare = choose(onednn_works())


@torch.library.custom_op("rnnkit::linear", mutates_args=())
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x W^T + b for x (..., K) of many rows (a whole sequence's steps), with `prepare`'s
    products from MIN_ROWS rows up (matmul's below; on Intel CPUs always): measured on an AMD EPYC
    at (6400 x 512) x (512 x 2048), oneDNN ran the forward in 309-325 ms and dX = dY W in
    256-266 ms, against 344-350 and 304-361 ms for matmul, which also copies the bias into every
    row first (35-70 ms). dW = dY^T x stays matmul's (as fast). Matmul's product runs in C++
    where the fused kernels are built (fused/cpp/linear.cpp), into a buffer reused from call to
    call once free: a large one (52 MB at 6,400 x 2,048) is otherwise faulted in afresh at every
    call, which made the fused LSTM's inference at (64,100,512,2) 1.16-1.17x as slow (Intel
    Xeon, 2 threads, interleaved in one process).

    A torch custom operator: torch.compile cannot trace oneDNN's packed weights, so it sees one
    op; its backward is this op again and torch's own, so any order of derivative works."""
    rows = x.reshape(-1, x.shape[-1])
    if cpp.runs(rows) and (rows.shape[0] < MIN_ROWS or prepare is matmul_product):
        product = cpp.ops().linear(rows, weight, bias)  # matmul's, into a reused buffer
    else:
        once = prepare if rows.shape[0] >= MIN_ROWS else matmul_product
        product = once(weight, rows.shape[0], bias)(rows)
    return product.view(*x.shape[:-1], -1)


@linear.register_fake
def _(x, weight, bias=None):
    return x.new_empty(*x.shape[:-1], weight.shape[0])


def _save(ctx, inputs, output) -> None:
    x, weight, bias = inputs
    ctx.save_for_backward(x, weight)
    ctx.has_bias = bias is not None


def _gradients(ctx, d_out):
    x, weight = ctx.saved_tensors
    needs = ctx.needs_input_grad
    d_rows = d_out.reshape(-1, d_out.shape[-1])
    return (
        linear(d_out, weight.T) if needs[0] else None,
        d_rows.T @ x.reshape(-1, x.shape[-1]) if needs[1] else None,
        d_rows.sum(0) if ctx.has_bias and needs[2] else None,
    )


linear.register_autograd(_gradients, setup_context=_save)
