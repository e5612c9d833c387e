"""Learning-rate schedules: linear warm-up, then cosine or linear decay, reduce-on-plateau, or
constant.

    warm-up:   lr_s = lr * (s + 1) / warmup                          for step s < warmup
    cosine:    lr_s = lr * (m + (1 - m) * (1 + cos(pi * p)) / 2)    p = fraction of the budget done,
                                                                     m = min_lr_ratio
    linear:    lr_s = lr * (m + (1 - m) * (1 - p))
    plateau:   lr_s = lr * 0.5^k                                     k = times valid loss stalled

The budget fraction p (steps, epochs or wall time, whichever is furthest along) lets the decay
end exactly where training ends. All state is plain numbers, saved as JSON with the checkpoint.
"""

from __future__ import annotations

import math

from rnnkit.errors import RnnkitError
from rnnkit.train.config import TrainConfig

PLATEAU_FACTOR = 0.5


class Schedule:
    """lr(step, progress) for the optimiser, and the plateau bookkeeping fed by evaluations."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.plateau_scale = 1.0
        self.plateau_best = math.inf
        self.plateau_bad = 0

    def lr(self, step: int, progress: float) -> float:
        c = self.config
        warm = min(1.0, (step + 1) / c.warmup) if c.warmup > 0 else 1.0
        p = min(max(progress, 0.0), 1.0)
        if c.schedule == "cosine":
            decay = c.min_lr_ratio + (1 - c.min_lr_ratio) * (1 + math.cos(math.pi * p)) / 2
        elif c.schedule == "linear":
            decay = c.min_lr_ratio + (1 - c.min_lr_ratio) * (1 - p)
        elif c.schedule == "plateau":
            decay = self.plateau_scale
        else:
            decay = 1.0
        return c.lr * warm * decay

    def after_eval(self, valid_loss: float) -> None:
        """Plateau: count evaluations without improvement; after `plateau_patience`, halve."""
        if valid_loss < self.plateau_best:
            self.plateau_best, self.plateau_bad = valid_loss, 0
            return
        self.plateau_bad += 1
        if self.config.schedule == "plateau" and self.plateau_bad >= self.config.plateau_patience:
            self.plateau_scale *= PLATEAU_FACTOR
            self.plateau_bad = 0

    def state_dict(self) -> dict[str, float]:
        return {
            "plateau_scale": self.plateau_scale,
            "plateau_best": self.plateau_best,
            "plateau_bad": self.plateau_bad,
        }

    def load_state_dict(self, state: dict[str, float]) -> None:
        try:
            self.plateau_scale = float(state["plateau_scale"])
            self.plateau_best = float(state["plateau_best"])
            self.plateau_bad = int(state["plateau_bad"])
        except (KeyError, TypeError, ValueError) as error:
            raise RnnkitError(f"the saved schedule state is corrupt ({error!r}); retrain") from None
