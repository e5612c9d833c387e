"""Simple features of a text, and the units whose values follow them (Karpathy et al. 2015, 4.2).

    inside quotes      1 after an opening " (or “) up to its closing quote, else 0
    position in line   characters since the last line end (0 at a line's first character)
    inside brackets    1 inside (), [] or {} (at any depth), else 0

A unit "tracks" a feature when its values over the text correlate with it (Pearson's r).
"""

from __future__ import annotations

import torch
from torch import Tensor

QUOTES = {'"': '"', "“": "”"}  # opening -> closing
BRACKETS = "([{"
CLOSERS = ")]}"


def text_features(chars: list[str]) -> dict[str, Tensor]:
    """Each feature as a (T,) float64 tensor, one value per character."""
    return {
        "inside quotes": _inside_quotes(chars),
        "position in line": _position_in_line(chars),
        "inside brackets": _inside_brackets(chars),
    }


def _inside_quotes(chars: list[str]) -> Tensor:
    """The closing quote counts as inside, the opening one does not: what a reader has seen."""
    inside, closing = [], None
    for char in chars:
        if closing is not None and char == closing:
            inside.append(True)
            closing = None
        elif closing is None and char in QUOTES:
            inside.append(False)
            closing = QUOTES[char]
        else:
            inside.append(closing is not None)
    return torch.tensor(inside, dtype=torch.float64)


def _position_in_line(chars: list[str]) -> Tensor:
    column, position = [], 0
    for char in chars:
        column.append(position)
        position = 0 if char == "\n" else position + 1
    return torch.tensor(column, dtype=torch.float64)


def _inside_brackets(chars: list[str]) -> Tensor:
    """Both brackets of a pair count as inside."""
    inside, depth = [], 0
    for char in chars:
        depth += char in BRACKETS
        inside.append(depth > 0)
        if char in CLOSERS and depth > 0:
            depth -= 1
    return torch.tensor(inside, dtype=torch.float64)


def correlations(values: Tensor, feature: Tensor) -> Tensor:
    """Pearson's r of each unit's series values[:, k] (T, H) with feature (T,): (H,), 0 if flat."""
    x = values.double() - values.double().mean(dim=0)
    y = feature - feature.mean()
    scale = x.norm(dim=0) * y.norm()
    r = (x * y[:, None]).sum(dim=0) / scale
    return torch.where(scale > 0, r, torch.zeros_like(r))


def top_units(values: Tensor, feature: Tensor, k: int = 5) -> list[tuple[int, float]]:
    """The k units most correlated (either sign) with the feature: [(unit, r), ...]."""
    r = correlations(values, feature)
    order = r.abs().argsort(descending=True)[:k]
    return [(int(unit), float(r[unit])) for unit in order]
