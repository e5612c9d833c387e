"""The one generation loop, for text, melodies and piano-rolls alike.

    stream(step, prime, length, draw)

feeds the prime through the model once, then repeats: draw the next input of each row from the
model's last output, yield it, feed it back with the kept recurrent state. O(1) work per
generated step: the prefix is never run again.

    step(inputs (B, T, ...), state) -> (outputs (B, T, ...), state)   the model (state None: fresh)
    draw(outputs of the last step (B, ...)) -> the next inputs (B, ...)

`sample_tokens` is the loop for language models (text, melody events): draw = the sampler's choice
among the tokens that may be written (a model never writes <unk>, <pad> or <bos>).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.generate.sampler import Sampler

StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]


def stream(
    step: StepFn, prime: Tensor, length: int, draw: Callable[[Tensor], Tensor]
) -> Iterator[Tensor]:
    """Yield `length` generated inputs (B, ...) that continue each row of prime (B, P, ...)."""
    if prime.dim() < 2 or prime.shape[1] == 0:
        raise RnnkitError("the prime is empty; give at least one step to start from")
    with torch.no_grad():
        outputs, state = step(prime, None)
        for generated in range(length):
            chosen = draw(outputs[:, -1])
            yield chosen
            if generated + 1 < length:
                outputs, state = step(chosen.unsqueeze(1), state)


def sample_tokens(
    step: StepFn,
    prime: Tensor,
    length: int,
    sampler: Sampler,
    banned: Sequence[int] = (),
) -> Iterator[Tensor]:
    """Token ids (B,) continuing each row of prime (B, P), never one of `banned`.

    `step` is a language model's forward or, faster, rnnkit.generate.fast.FastStep(model)."""
    never = torch.tensor(list(banned), dtype=torch.long, device=prime.device) if banned else None

    def draw(logits: Tensor) -> Tensor:
        if never is not None:
            logits = logits.index_fill(-1, never, -math.inf)
        return sampler.choose(logits).to(prime.device)

    return stream(step, prime, length, draw)
