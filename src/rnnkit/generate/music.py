"""New pieces from the music models, on the one generation loop (rnnkit.generate.loop).

    roll_piece(model, start, count, sampler, grid)      piano-roll: `start` frames (P, 88), then
                                                        `count` frames drawn one at a time
    melody_piece(model, events, count, sampler, grid)   melody: event tokens drawn until `count`
                                                        grid steps are written

A piano-roll frame is drawn by the model (PianoRollModel.next_frame) with the sampler's yes/no
draws (Sampler.bernoulli): all 88 keys at once from a sigmoid output, key by key from a NADE;
a melody token by the sampler among the events a melody can hold (never <pad>, <bos> or <eos>:
a piece of the asked length is wanted). rnnkit.data.music loads music21 (slow), so import this
module where music is generated, not at the top of a task module.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnkit.data.music import (
    EventVocabulary,
    Piece,
    events_to_piece,
    roll_to_piece,
    steps_per_quarter,
)
from rnnkit.generate.fast import FastStep
from rnnkit.generate.loop import sample_tokens, stream
from rnnkit.generate.sampler import Sampler
from rnnkit.models.language import LanguageModel
from rnnkit.models.pianoroll import PianoRollModel

NEVER_WRITTEN = ("<pad>", "<bos>", "<eos>")
QUARTERS_PER_BAR = 4  # generated pieces are written in 4/4


def bar_steps(grid: str) -> int:
    """Grid steps in one 4/4 bar."""
    return QUARTERS_PER_BAR * steps_per_quarter(grid)


def roll_piece(
    model: PianoRollModel, start: np.ndarray, count: int, sampler: Sampler, grid: str
) -> Piece:
    """The frames of `start` (P, 88) followed by `count` generated frames, as a piece."""
    device = next(model.parameters()).device
    start = start.astype(np.float32)
    prime = torch.from_numpy(start)[None].to(device)  # (1, P, 88)
    model.eval()
    frames = stream(model, prime, count, lambda h: model.next_frame(h, sampler.bernoulli))
    roll = np.concatenate([start, *(frame.cpu().numpy() for frame in frames)])  # (P + count, 88)
    bars = range(0, len(roll), bar_steps(grid))
    return roll_to_piece(roll, steps_per_quarter(grid), "generated", bars)


def melody_piece(
    model: LanguageModel, events: list[str], count: int, sampler: Sampler, grid: str
) -> Piece:
    """`events` (starting with <bos>) continued until `count` more grid steps are written.

    A bar line takes no time: at most 2 * count tokens are drawn, so that a model writing only bar
    lines still stops."""
    vocab = EventVocabulary()
    device = next(model.parameters()).device
    prime = torch.tensor([vocab.encode(events)], device=device)  # (1, P)
    model.eval()
    tokens, written = list(events), 0
    banned = vocab.encode(NEVER_WRITTEN)
    for token_id in sample_tokens(FastStep(model), prime, 2 * count, sampler, banned):
        token = vocab.tokens[int(token_id)]
        tokens.append(token)
        written += token != "bar"
        if written == count:
            break
    return events_to_piece(tokens, steps_per_quarter(grid), "generated")
