"""The fused kernels as torch custom operators: one op each for the forward and the backward of
a whole direction of a layer, so torch.compile, torch.export and autograd each see one op.

A kernel module (rnn.py, gru.py, gru_after.py, lstm.py) gives, for its op `rnnkit::NAME`:
- `forward(inputs...) -> [S, ...]`: the states (S = h_0, h_1, ..., h_T; an LSTM's C after it)
  and then what its backward reads again (the gates, ...), each a new buffer: an op's outputs
  may not alias one another, so views of them (outputs = S[1:], h_T = S[T]) are made outside;
- `fake(inputs...)`: the same outputs' shapes, without computing them (torch.compile's tracing);
- `backward(inputs..., saved, d_states) -> grads`: the hand-written backpropagation through
  time, the gradients of `differentiable` inputs (those not None), in order;

and `register` makes the two ops and joins them with torch's autograd. Random masks (dropout,
zoneout) are drawn outside the op, by the cell (cells/options.py), and come in as inputs: the
op is deterministic and a seed reproduces the masks (compiled code draws them with Inductor's
generator; with `torch._inductor.config.fallback_random` the same masks as eager).

Second derivatives (`create_graph=True`): the hand-written backward is not itself
differentiable, so while autograd records the backward (grad mode on inside it), the gradients
come instead from the same function recomputed differentiably from the cells' own step
(fused/differentiable.py) and differentiated by autograd: exact, and only as fast as the loop
backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from rnnkit.backends.fused import differentiable
from rnnkit.backends.fused.common import collector_paused


def existing(*buffers: Tensor | None) -> list[Tensor]:
    """The buffers that exist (a None one is an option that is off)."""
    return [buffer for buffer in buffers if buffer is not None]


def restore(saved: Sequence[Tensor], *present: bool) -> list[Tensor | None]:
    """`existing`'s inverse: the saved buffers in their places, None where `present` is False."""
    buffers = iter(saved)
    return [next(buffers) if exists else None for exists in present]


def _custom_op(name: str, function: Callable) -> torch.library.CustomOpDef:
    """`function` as the op `rnnkit::name`, Python's cyclic collector paused while it runs
    (common.collector_paused); the schema from its annotations."""
    schema = torch.library.infer_schema(function, mutates_args=())
    return torch.library.custom_op(
        f"rnnkit::{name}", collector_paused()(function), mutates_args=(), schema=schema
    )


def register(
    name: str,
    forward: Callable[..., list[Tensor]],
    fake: Callable[..., list[Tensor]],
    backward: Callable[..., list[Tensor]],
    differentiable_inputs: tuple[int, ...],
    states: int,
) -> Callable[..., list[Tensor]]:
    """The op `rnnkit::name` computing `forward`, with `fake` as its shapes and autograd through
    the op `rnnkit::name_backward` computing `backward`. `differentiable_inputs`: the positions
    of the inputs that get gradients; `states`: how many leading outputs carry gradients."""
    op = _custom_op(name, forward)
    op.register_fake(fake)
    backward_op = _custom_op(f"{name}_backward", backward)

    @backward_op.register_fake
    def _(*arguments) -> list[Tensor]:
        inputs = arguments[: len(arguments) - 2]
        return [torch.empty_like(inputs[i]) for i in differentiable_inputs if inputs[i] is not None]

    def setup_context(ctx, inputs: tuple, output: list[Tensor]) -> None:
        tensors = [x if isinstance(x, Tensor) else None for x in inputs]
        ctx.others = [None if isinstance(x, Tensor) else x for x in inputs]
        ctx.save_for_backward(*tensors, *output)
        ctx.set_materialize_grads(False)  # the saved buffers' gradients stay None, no zeros

    def gradients(ctx, d_outputs: list[Tensor | None]) -> tuple[Tensor | None, ...]:
        saved = ctx.saved_tensors
        count = len(ctx.others)
        inputs = [t if o is None else o for t, o in zip(saved[:count], ctx.others)]
        outputs = saved[count:]
        d_states = [
            torch.zeros_like(s) if d is None else d for s, d in zip(outputs, d_outputs[:states])
        ]
        wanted = [i for i in differentiable_inputs if ctx.needs_input_grad[i]]
        result: list[Tensor | None] = [None] * count
        if torch.is_grad_enabled():  # create_graph: a backward autograd can differentiate
            recomputed = differentiable.states(name, inputs)
            found = torch.autograd.grad(
                recomputed,
                [inputs[i] for i in wanted],
                d_states,
                create_graph=True,
                allow_unused=True,
            )
            for i, d in zip(wanted, found):
                result[i] = d
            return tuple(result)
        found = backward_op(*inputs, list(outputs), d_states)
        present = [i for i in differentiable_inputs if inputs[i] is not None]
        for i, d in zip(present, found):
            result[i] = d if i in wanted else None
        return tuple(result)

    op.register_autograd(gradients, setup_context=setup_context)
    return op
