"""How often each gate is saturated (Karpathy et al. 2015, 4.3).

A gate unit is left-saturated at a step when its value is below 0.1 (nearly closed) and
right-saturated when above 0.9 (nearly open). Forget gates that are right-saturated most of the
time let c_t carry information far; units that are never saturated act as continuous switches.
"""

from __future__ import annotations

from torch import Tensor

LOW, HIGH = 0.1, 0.9


def saturation(values: Tensor) -> tuple[Tensor, Tensor]:
    """Per unit, the fraction of steps below LOW and above HIGH: two (H,) tensors from (T, H)."""
    return (values < LOW).double().mean(dim=0), (values > HIGH).double().mean(dim=0)


def histogram(fractions: Tensor, bins: int = 10) -> list[int]:
    """How many units have a fraction in [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]."""
    index = (fractions * bins).long().clamp(max=bins - 1)
    return [int((index == b).sum()) for b in range(bins)]
