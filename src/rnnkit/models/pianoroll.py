"""The polyphonic model: read a piano-roll frame, update the state, predict the next frame.

    h_t = recurrent layer(v_t, h_{t-1})       v_t in {0, 1}^88, the keys sounding at step t
    p_t = sigmoid(V h_t + b_y)                (88,) p_t[k] = P(key k sounds at step t + 1)

The 88 keys of the next frame are independent Bernoulli variables given the state, so the
negative log-likelihood of a frame is the sum over the keys of each key's log-loss:

    NLL(v_{t+1} | v_1..v_t) = - sum_k [ v_{t+1,k} ln p_{t,k} + (1 - v_{t+1,k}) ln (1 - p_{t,k}) ]

Scoring (as the reference code of Bai et al. 2018): each piece of T frames predicts frames 2..T
from the frames before (frame 1 is given, never predicted); the NLL in nats is summed over the 88
keys and over time, and the sum over a whole split is divided by the number of predicted frames
in that split (sum over pieces of T - 1). Other normalisations (per piece, then averaged; per
frame including frame 1) give numbers that differ by whole nats.

Shape legend: B batch, T time, K = 88 keys, H hidden size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.recurrent import RecurrentConfig

# The piano's keys, MIDI 21..108 (rnnkit.data.music.pianoroll.KEYS; not imported from there, since
# that package loads music21, which is slow, and `rnnkit --help` imports this module).
KEYS = 88
State = Tensor | tuple[Tensor, Tensor] | None


@dataclass
class PianoRollModelConfig(RecurrentConfig):
    """Everything needed to rebuild a PianoRollModel (saved in the run's config.json): the
    recurrent layers read frames of 88 keys (the input is fixed, so nothing else is needed)."""


class PianoRollModel(nn.Module):
    """Piano-roll (B, T, 88) -> recurrent layers -> dropout -> linear -> 88 logits.

    The input is not dropped out: removing notes from a chord changes the music it shows.

    forward(roll, state) -> (logits (B, T, 88), state): logits[:, t] scores frame t + 1.
    step(frame (B, 88), state) runs one time step for generation, keeping the state.
    """

    def __init__(self, config: PianoRollModelConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = config.build(input_size=KEYS)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(self.rnn.output_size, KEYS)  # V h_t + b_y

    def forward(self, roll: Tensor, state: State = None) -> tuple[Tensor, State]:
        """roll (B, T, 88) of 0/1 floats -> logits (B, T, 88) of the next frames, final state."""
        h, state = self.rnn(roll, state)  # (B, T, H)
        return self.output(self.dropout(h)), state

    @torch.no_grad()
    def start_at_frequencies(self, frequencies: Tensor) -> None:
        """Set b_y[k] = ln(f_k / (1 - f_k)), the log-odds of how often each key sounds in the
        training data (f clipped to [1e-4, 1 - 1e-4]): with V h_t near 0 at the start, the first
        predictions are those frequencies, about 11 nats per frame on JSB Chorales instead of
        88 ln 2 = 61, and training starts on the harmony rather than on the keys' base rates."""
        f = frequencies.clamp(1e-4, 1 - 1e-4).to(self.output.bias)
        self.output.bias.copy_(torch.log(f / (1 - f)))

    @torch.no_grad()
    def step(self, frame: Tensor, state: State = None) -> tuple[Tensor, State]:
        """One time step: frame (B, 88) -> logits (B, 88) of the next frame, and the new state."""
        logits, state = self(frame.unsqueeze(1), state)  # (B, 1, 88)
        return logits[:, 0], state


def frame_nll(logits: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
    """The summed Bernoulli NLL (nats) of a batch, and the number of frames it predicts.

    logits (B, T, 88) scores targets (B, T, 88), the frames 2..T_b+1 of each padded piece;
    lengths (B,) says how many of the T steps of each row are predicted frames (the rest is
    padding and never counts). Divide the first by the second for the NLL per predicted frame.
    """
    steps = torch.arange(logits.shape[1], device=logits.device)  # (T,)
    real = steps[None, :] < lengths.to(logits.device)[:, None]  # (B, T)
    per_key = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # (B, T, 88)
    per_frame = per_key.sum(dim=-1)  # (B, T): the sum over the 88 keys
    return (per_frame * real).sum(), int(real.sum())
