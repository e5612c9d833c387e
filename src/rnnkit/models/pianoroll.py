"""The polyphonic model: read a piano-roll frame, update the state, predict the next frame.

    h_t = recurrent layer(v_t, h_{t-1})       v_t in {0, 1}^88, the keys sounding at step t
    p(v_{t+1} | h_t)                          the output: a distribution over the next frame

Two outputs (PianoRollModelConfig.output):

sigmoid: the 88 keys of the next frame are independent Bernoulli variables given the state,

    p_t = sigmoid(V h_t + b_y)                (88,) p_t[k] = P(key k sounds at step t + 1)

so the negative log-likelihood of a frame is the sum over the keys of each key's log-loss:

    NLL(v_{t+1} | v_1..v_t) = - sum_k [ v_{t+1,k} ln p_{t,k} + (1 - v_{t+1,k}) ln (1 - p_{t,k}) ]

nade: each key is predicted given h_t and the keys below it in the same frame (the RNN-NADE of
Boulanger-Lewandowski et al. 2012, rnnkit.models.nade); the NLL is the same sum of log-losses,
of the conditionals p(v_{t+1,k} | v_{t+1,<k}, h_t).

Scoring (as the reference code of Bai et al. 2018): each piece of T frames predicts frames 2..T
from the frames before (frame 1 is given, never predicted); the NLL in nats is summed over the 88
keys and over time, and the sum over a whole split is divided by the number of predicted frames
in that split (sum over pieces of T - 1). Other normalisations (per piece, then averaged; per
frame including frame 1) give numbers that differ by whole nats.

Shape legend: B batch, T time, K = 88 keys, H hidden size, N frames (batch and time flattened).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers.dropout import Dropout
from rnnkit.models.nade import NADE, Draw
from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.values import POSITIVE_INT, setting

# The piano's keys, MIDI 21..108 (rnnkit.data.music.pianoroll.KEYS; not imported from there, since
# that package loads music21, which is slow, and `rnnkit --help` imports this module).
KEYS = 88
OUTPUTS = ("sigmoid", "nade")
State = Tensor | tuple[Tensor, Tensor] | None


@dataclass
class PianoRollModelConfig(RecurrentConfig):
    """Everything needed to rebuild a PianoRollModel (saved in the run's config.json): the
    recurrent layers read frames of 88 keys (the input is fixed), and the output predicts the
    next frame from their state."""

    output: str = setting(
        "sigmoid",
        "sigmoid: the 88 keys independent given the state; nade: each key given the state and "
        "the keys below it (RNN-NADE)",
        choices=OUTPUTS,
    )
    # 300 reached a lower valid NLL than 150 on JSB Chorales in the same epochs (docs/MUSIC.md).
    nade_hidden_size: int = setting(
        300, "nade: n_h, the NADE's hidden units", POSITIVE_INT, flag="--nade-hidden"
    )


class SigmoidOutput(nn.Linear):
    """The sigmoid output: logits V h_t + b_y (K,), one independent Bernoulli variable per key."""

    def frame_nll(self, h: Tensor, frames: Tensor) -> Tensor:
        """-ln p(frame | h) in nats: h (N, H), frames (N, K) of 0/1 -> (N,), summed over keys."""
        per_key = F.binary_cross_entropy_with_logits(self(h), frames, reduction="none")
        return per_key.sum(dim=-1)

    @torch.no_grad()
    def sample(self, h: Tensor, draw: Draw) -> Tensor:
        """One frame per row of h (N, H): all keys drawn at once by `draw` -> (N, K) of 0/1."""
        return draw(self(h)).to(h)

    @torch.no_grad()
    def start_at_frequencies(self, frequencies: Tensor) -> None:
        """b_y[k] = ln(f_k / (1 - f_k)) (f clipped to [1e-4, 1 - 1e-4])."""
        f = frequencies.clamp(1e-4, 1 - 1e-4).to(self.bias)
        self.bias.copy_(torch.log(f / (1 - f)))


class PianoRollModel(nn.Module):
    """Piano-roll (B, T, 88) -> recurrent layers -> dropout -> h_t -> output (sigmoid or NADE).

    The input is not dropped out: removing notes from a chord changes the music it shows.

    forward(roll, state) -> (h (B, T, H), state): h[:, t] is what the output reads to predict
        frame t + 1 (the top layer's state after dropout).
    nll(inputs, targets, lengths) -> (summed NLL, predicted frames): the loss of a padded batch.
    step(frame (B, 88), state) -> (h (B, H), state): one time step, for generation.
    next_frame(h (B, H), draw) -> frame (B, 88) of 0/1: draws the frame that h predicts.
    """

    def __init__(self, config: PianoRollModelConfig) -> None:
        super().__init__()
        if config.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {config.output!r}")
        self.config = config
        self.rnn = config.build(input_size=KEYS)
        self.dropout = Dropout(config.dropout)
        self.output: SigmoidOutput | NADE
        size = self.rnn.output_size  # hidden_size, or the projection's size with --proj
        if config.output == "nade":
            self.output = NADE(size, config.nade_hidden_size, KEYS)
        else:
            self.output = SigmoidOutput(size, KEYS)  # V h_t + b_y

    def forward(self, roll: Tensor, state: State = None) -> tuple[Tensor, State]:
        """roll (B, T, 88) of 0/1 floats -> h (B, T, H) that predicts the next frames, state."""
        h, state = self.rnn(roll, state)  # (B, T, H)
        return self.dropout(h), state

    def nll(self, inputs: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        """The summed NLL (nats) of a batch, and the number of frames it predicts.

        inputs (B, T, 88) are frames 1..T_b - 1 of each padded piece and targets (B, T, 88)
        frames 2..T_b; lengths (B,) says how many of the T steps of each row are predicted
        frames. Padding is never scored. Divide the first by the second for the NLL per
        predicted frame.
        """
        h, _ = self(inputs)  # (B, T, H)
        steps = torch.arange(h.shape[1], device=h.device)  # (T,)
        real = steps[None, :] < lengths.to(h.device)[:, None]  # (B, T)
        per_frame = self.output.frame_nll(h[real], targets[real])  # (N,), N = real frames
        return per_frame.sum(), int(real.sum())

    @torch.no_grad()
    def step(self, frame: Tensor, state: State = None) -> tuple[Tensor, State]:
        """One time step: frame (B, 88) -> h (B, H) that predicts the next frame, new state."""
        h, state = self(frame.unsqueeze(1), state)  # (B, 1, H)
        return h[:, 0], state

    @torch.no_grad()
    def next_frame(self, h: Tensor, draw: Draw) -> Tensor:
        """The next frame (B, 88) of 0/1, drawn from p(v_{t+1} | h_t) for h (B, H).

        `draw` turns logits of independent yes/no events into 0/1 (Sampler.bernoulli, which
        applies the temperature and the seeded generator): the sigmoid output calls it once
        for all 88 keys, the NADE once per key, low to high.
        """
        return self.output.sample(h, draw)

    @torch.no_grad()
    def start_at_frequencies(self, frequencies: Tensor) -> None:
        """Set the output's key biases (b_y, or the NADE's b_v) to ln(f_k / (1 - f_k)), the
        log-odds of how often each key sounds in the training data (f clipped to
        [1e-4, 1 - 1e-4]): with the rest of the output near 0 at the start, the first
        predictions are those frequencies, about 11 nats per frame on JSB Chorales instead of
        88 ln 2 = 61, and training starts on the harmony rather than on the keys' base rates."""
        self.output.start_at_frequencies(frequencies)
