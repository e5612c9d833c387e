"""Formulas as small trees, so one formula prints as the lecture writes it and with its numbers.

    f_1 = σ(W_f x_1 + U_f h_0 + b_f)                         render(formula)
        = σ([[1, -2, 5], [5, 5, 0]] [2, 3, -1] + ...)        render(formula, numbers=True)

Every leaf is a `Symbol`: a name (text and LaTeX) and the tensor it stands for. The trees only
display; the numbers in them come from rnnkit's cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

# Decimals shown; the lecture's results are given to 10.
DECIMALS = 10


@dataclass(frozen=True)
class Symbol:
    """A named vector or matrix: W_f, x_1, h_0 (text), W_f, x_{1}, \\tilde{c}_{1} (LaTeX)."""

    name: str
    latex: str
    value: Tensor


@dataclass(frozen=True)
class Product:
    """Matrix times vector: W_f x_1."""

    matrix: Expr
    vector: Expr


@dataclass(frozen=True)
class Hadamard:
    """Element-wise product: f_1 ⊙ c_0 (the lecture's ∘)."""

    left: Expr
    right: Expr


@dataclass(frozen=True)
class Sum:
    """a + b + ..."""

    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Apply:
    """An activation applied element-wise: σ(...), tanh(...), softmax(...)."""

    function: str  # "sigmoid", "tanh", "relu" or "softmax"
    argument: Expr


@dataclass(frozen=True)
class OneMinus:
    """(1 - z_t), the GRU's share of the old state."""

    argument: Expr


Expr = Symbol | Product | Hadamard | Sum | Apply | OneMinus

FUNCTION_NAMES = {
    "sigmoid": ("σ", r"\sigma"),
    "tanh": ("tanh", r"\tanh"),
    "relu": ("relu", r"\operatorname{relu}"),
    "softmax": ("softmax", r"\operatorname{softmax}"),
}


def format_number(value: float, latex: bool = False) -> str:
    """A number to DECIMALS places, trailing zeros dropped: 0.0179862100 -> 0.01798621. One that
    rounds to a whole number without being one is marked, so that sigma(27) = 0.999999999998 is
    not read as exactly 1: ≈1."""
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    text = "0" if text in ("-0", "") else text
    if math.isfinite(value) and "." not in text and value != int(text):
        return (r"\approx " if latex else "≈") + text
    return text


def format_tensor(value: Tensor, latex: bool = False) -> str:
    """[a, b] or [[a, b], [c, d]] in text; a column vector or a bmatrix in LaTeX."""
    if value.dim() == 0:
        return format_number(float(value), latex)
    if not latex:
        if value.dim() == 1:
            return "[" + ", ".join(format_number(float(v)) for v in value) + "]"
        return "[" + ", ".join(format_tensor(row) for row in value) + "]"
    rows = value[:, None] if value.dim() == 1 else value  # a vector is a column
    body = r" \\ ".join(" & ".join(format_number(float(v), True) for v in row) for row in rows)
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


def render(expr: Expr, latex: bool = False, numbers: bool = False) -> str:
    """The formula with names (numbers=False) or with every symbol's value put in."""

    def go(e: Expr) -> str:
        return render(e, latex, numbers)

    if isinstance(expr, Symbol):
        if numbers:
            return format_tensor(expr.value, latex)
        return expr.latex if latex else expr.name
    if isinstance(expr, Product):
        vector = go(expr.vector)
        if isinstance(expr.vector, (Hadamard, Sum)):
            vector = _parenthesised(vector, latex)
        return f"{go(expr.matrix)} {vector}"
    if isinstance(expr, Hadamard):
        operator = r" \circ " if latex else " ⊙ "
        return operator.join(_operand(part, latex, numbers) for part in (expr.left, expr.right))
    if isinstance(expr, Sum):
        return " + ".join(go(term) for term in expr.terms)
    if isinstance(expr, Apply):
        text_name, latex_name = FUNCTION_NAMES[expr.function]
        return (latex_name if latex else text_name) + _parenthesised(go(expr.argument), latex)
    if isinstance(expr, OneMinus):
        return _parenthesised(f"1 - {go(expr.argument)}", latex)
    raise TypeError(f"not a formula: {expr!r}")


def _operand(expr: Expr, latex: bool, numbers: bool) -> str:
    text = render(expr, latex, numbers)
    return _parenthesised(text, latex) if isinstance(expr, Sum) else text


def _parenthesised(text: str, latex: bool) -> str:
    return rf"\left({text}\right)" if latex else f"({text})"
