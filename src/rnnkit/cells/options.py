"""What a cell can add to the lecture's equations: normalisation, dropout, zoneout, a projection.

Every option is off by default (the lecture's cell). Each is part of the cell's function: the cells
write them into `step_quantities` with the lecture's letters, so every backend computes them.
With g a gate (LSTM: i, f, c, o; GRU: r, z, h; RNN: its one block) and H hidden units:

    layer_norm=True       a = LN(W x_t; γ^x) + LN(U h_{t-1}; γ^h) + b, all gates at once
                          (Ba et al. 2016); LSTM also: h_t = o_t * tanh(LN(c_t; γ^c, β^c)),
                          the state keeping c_t
    input_dropout=p       W_g x_t        -> W_g (m_x * x_t)           (locked dropout)
    recurrent_dropout=p   U_g h_{t-1}    -> U_g (m_h * h_{t-1})       (Gal & Ghahramani 2016)
    output_dropout=p      y_t = m_y * h_t, what the layer outputs; the state keeps h_t
    weight_dropout=p      U              -> M * U                     (DropConnect on U, Merity
                                                                        et al. 2017)
    zoneout=p             h_t = d_t * h_{t-1} + (1 - d_t) * h'_t      (Krueger et al. 2016), h'_t
                          the step's new value; zoneout_c=p the same for an LSTM's c_t
    proj_size=k (LSTM)    h_t = W_hr (o_t * tanh(c_t)), k features: torch.nn.LSTM's projection
                          (Sak et al. 2014); U then multiplies the k-feature h_{t-1}

LN(v; γ) = γ * (v - mean(v)) / sqrt(var(v) + 1e-5) over the whole of one product with a weight
matrix, every gate's units together, as Ba et al. write it: W x_t (G*H) and U h_{t-1} (G*H); the
lecture's GRU has two products with U, U_rz h_{t-1} (2H) and U_h (r_t * h_{t-1}) (H), each
normalised on its own. Ba et al. give each LN a bias β as well; on W x_t and U h_{t-1} those
biases are always added to b, so the one bias b stands for all three: the same function without
redundant parameters. LN of c_t (H) keeps its β^c.

Masks, all from torch's random generator (so a seed reproduces them and a checkpoint that saves the
generator's state resumes them): m_x, m_h, m_y keep each unit with probability 1 - p and scale it by
1 / (1 - p), one mask per sequence (the same at every step); M keeps each entry of U likewise, one
mask per forward call; d_t is 1 (keep the previous value) with probability p, a new mask at every
step. In evaluation (`cell.eval()`) each is replaced by its expectation: the dropout masks by 1,
d_t by p.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import torch
from torch import Tensor

EPS = 1e-5  # LN's epsilon, torch.nn.LayerNorm's default

DROPOUTS = ("input_dropout", "recurrent_dropout", "output_dropout", "weight_dropout")
ZONEOUTS = ("zoneout", "zoneout_c")
LSTM_ONLY = ("zoneout_c", "proj_size")


@dataclass(frozen=True)
class Options:
    """A cell's options (see the module docstring); the defaults are the lecture's cell."""

    layer_norm: bool = False
    input_dropout: float = 0.0
    recurrent_dropout: float = 0.0
    output_dropout: float = 0.0
    weight_dropout: float = 0.0
    zoneout: float = 0.0
    zoneout_c: float = 0.0
    proj_size: int = 0

    @classmethod
    def of(cls, cell_name: str, allowed: tuple[str, ...], given: dict) -> Options:
        """Options from keyword arguments, each checked; one ValueError names what is wrong."""
        for name in given:
            if name not in allowed:
                raise ValueError(
                    f"{cell_name} takes no option {name!r}; its options are {', '.join(allowed)}"
                    + (" (zoneout_c and proj_size are LSTM's)" if name in LSTM_ONLY else "")
                )
        options = cls(**given)
        for name in DROPOUTS + ZONEOUTS:
            value = getattr(options, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")
        if not isinstance(options.layer_norm, bool):
            raise ValueError(f"layer_norm must be True or False, got {options.layer_norm!r}")
        proj = options.proj_size
        if isinstance(proj, bool) or not isinstance(proj, int) or proj < 0:
            raise ValueError(f"proj_size must be 0 (none) or a positive integer, got {proj!r}")
        return options

    def active(self, training: bool) -> tuple[str, ...]:
        """The options that change the cell's function in this mode (dropout only in training)."""
        return tuple(
            name
            for name in OPTION_NAMES
            if getattr(self, name) and (training or name not in DROPOUTS)
        )

    def __str__(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in self.active(True))


# The options' names, once: torch.compile cannot trace dataclasses.fields in a forward call.
OPTION_NAMES = tuple(f.name for f in fields(Options))


class StepNoise(NamedTuple):
    """What one step reads of its sequence's masks (None: that option is off)."""

    h: Tensor | None = None  # m_h (B, P), on h_{t-1} where U multiplies it
    U: Tensor | None = None  # M * U / (1 - p), the recurrent weight of this call (G*H, P)
    zone_h: Tensor | float | None = None  # d_t (B, P): 1 keeps h_{t-1}; p in evaluation
    zone_c: Tensor | float | None = None  # d^c_t (B, H), LSTM

    @classmethod
    def expected(cls, options: Options) -> StepNoise:
        """A step in evaluation: no dropout, d_t = p."""
        return cls(zone_h=options.zoneout or None, zone_c=options.zoneout_c or None)


class Noise(NamedTuple):
    """The masks one forward call of one cell draws over T steps of B sequences."""

    x: Tensor | None = None  # m_x (B, D)
    h: Tensor | None = None  # m_h (B, P)
    U: Tensor | None = None  # M * U / (1 - p) (G*H, P)
    y: Tensor | None = None  # m_y (B, P)
    zone_h: Tensor | float | None = None  # d_t for every step (T, B, P); p in evaluation
    zone_c: Tensor | float | None = None  # d^c_t (T, B, H)

    def steps(self, steps: int) -> list[StepNoise]:
        """One StepNoise per step, the per-step masks as views made at once."""
        zones = [z.unbind(0) if isinstance(z, Tensor) else [z] * steps for z in self.zones]
        return [StepNoise(self.h, self.U, h, c) for h, c in zip(*zones)]

    @property
    def zones(self) -> tuple[Tensor | float | None, Tensor | float | None]:
        return self.zone_h, self.zone_c


def draw(
    options: Options,
    training: bool,
    steps: int,
    batch: int,
    sizes: tuple[int, int, int],
    weight_hh: Tensor,
    like: Tensor,
) -> Noise:
    """The masks of one forward call (see the module docstring), in a fixed order: m_x, m_h, M,
    m_y, d, d^c. sizes: (D, P, H), the input, the state h and the hidden units."""
    if not training:
        return Noise(zone_h=options.zoneout or None, zone_c=options.zoneout_c or None)
    D, P, H = sizes
    m_x = keep_mask(options.input_dropout, (batch, D), like)
    m_h = keep_mask(options.recurrent_dropout, (batch, P), like)
    M = keep_mask(options.weight_dropout, tuple(weight_hh.shape), like)
    m_y = keep_mask(options.output_dropout, (batch, P), like)
    return Noise(
        x=m_x,
        h=m_h,
        U=None if M is None else weight_hh * M,
        y=m_y,
        zone_h=_zone_mask(options.zoneout, (steps, batch, P), like),
        zone_c=_zone_mask(options.zoneout_c, (steps, batch, H), like),
    )


def keep_mask(p: float, shape: tuple[int, ...], like: Tensor) -> Tensor | None:
    """1 / (1 - p) with probability 1 - p, else 0; None when p = 0."""
    if not p:
        return None
    return _uniform(shape, like).ge_(p).div_(1 - p).to(like.dtype)


def _zone_mask(p: float, shape: tuple[int, ...], like: Tensor) -> Tensor | None:
    """1 with probability p, else 0; None when p = 0."""
    if not p:
        return None
    return _uniform(shape, like).lt_(p).to(like.dtype)


def _uniform(shape: tuple[int, ...], like: Tensor) -> Tensor:
    """u ~ U[0, 1) in float32 from torch's generator, on like's device: the same draws whatever
    the network's dtype (a bfloat16 uniform would have 8 bits, too coarse for a probability). A
    mask is then u < p compared in place: twice as fast on CPU as bernoulli_ (0.79 against
    1.53 ms for (64, 32, 128), 2 threads)."""
    return torch.rand(shape, device=like.device)


def layer_norm(a: Tensor, gain: Tensor, bias: Tensor | None = None) -> Tensor:
    """LN(a; γ, β) = γ * (a - mean(a)) / sqrt(var(a) + 1e-5) + β over a's last dimension."""
    return torch.nn.functional.layer_norm(a, a.shape[-1:], gain, bias, EPS)
