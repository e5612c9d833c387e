"""What `rnnkit explain` produces: named steps of quantities, each a formula and its value.

An Explanation is language-free: steps and notes carry keys that `words.py` translates, formulas
carry symbols with their tensors, and the renderers (text, Markdown, JSON) print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from rnnkit.cells import Cell
from rnnkit.errors import RnnkitError
from rnnkit.explain.formula import Apply, Expr, Product, Sum, Symbol
from rnnkit.layers import RecurrentNetwork


@dataclass(frozen=True)
class Note:
    """A sentence to translate: `key` in words.TEXT, with `args` put into it."""

    key: str
    args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Quantity:
    """One computed vector: f_1 = σ(W_f x_1 + U_f h_0 + b_f) = σ([-4, 27]) = [0.018, 1]."""

    symbol: Symbol  # the name and the value the cell computed
    formula: Expr  # as the lecture writes it
    evaluated: Expr | None = None  # the formula with its inner part computed: σ([-4, 27])


@dataclass(frozen=True)
class Step:
    """One of the lecture's named steps ("Step 1: forget gate"), at time `time`."""

    key: str
    quantities: tuple[Quantity, ...]
    time: int | None = None


@dataclass(frozen=True)
class Explanation:
    """A whole worked exercise."""

    model: str  # "lstm", "gru", "rnn" or "birnn"
    title: Note
    given: tuple[Symbol, ...]  # the inputs, initial states and parameters
    notes: tuple[Note, ...]
    steps: tuple[Step, ...]
    answer: tuple[Symbol, ...]  # one symbol, or one per time step for a sequence
    reading: str | None = None  # exercise 4: "lecture" or "vanilla"
    other_answer: Tensor | None = None  # exercise 4: what the other reading gives


def indexed(name: str, t: int, value: Tensor, latex: str | None = None) -> Symbol:
    """x_1, h_0, \\tilde{c}_1: a letter with its time step."""
    return Symbol(f"{name}_{t}", f"{latex or name}_{{{t}}}", value)


def named(name: str, value: Tensor, latex: str | None = None) -> Symbol:
    """W_f, U_{A'}: a parameter, as a view on the cell's weights (detached: only displayed)."""
    return Symbol(name, latex or name, value.detach())


def affine(p: dict[str, Symbol], suffix: str, x: Symbol, h: Symbol) -> Sum:
    """W_g x_t + U_g h_{t-1} + b_g, the argument of every gate (suffix "_g", or "" for W, U, b)."""
    terms = (Product(p[f"W{suffix}"], x), Product(p[f"U{suffix}"], h))
    bias = p.get(f"b{suffix}")
    return Sum(terms if bias is None else (*terms, bias))


def computed(function: str, pre: Tensor) -> Apply:
    """σ([-4, 27]): an activation applied to the argument the cell computed."""
    return Apply(function, Symbol("", "", pre))


def gate(symbol: Symbol, function: str, argument: Expr, pre: Tensor) -> Quantity:
    """symbol = function(argument) = function(pre) = value, with the pre-activation and the value
    as the cell computed them (Cell.step_quantities)."""
    return Quantity(symbol, Apply(function, argument), computed(function, pre))


@torch.no_grad()
def load_params(views: dict[str, Tensor], values: dict[str, Tensor]) -> None:
    """Copy the lecture's named tensors into a cell's parameter views (W_f -> weight_ih, ...)."""
    for name, value in values.items():
        views[name].copy_(value)


def lecture_cell(
    network: RecurrentNetwork, params: dict[str, Tensor]
) -> tuple[Cell, dict[str, Symbol]]:
    """`network`'s one cell, holding the lecture's `params`; and every parameter named as the
    lecture writes it, in its order: a view on the cell's weights, or the given tensor for an
    output layer the cell does not have (V, b_y)."""
    cell = network.cell(0)
    views = cell.params()
    load_params(views, {name: value for name, value in params.items() if name in views})
    return cell, {name: named(name, views.get(name, value)) for name, value in params.items()}


def inputs(xs: Tensor) -> list[Symbol]:
    """x_1, ..., x_T: the input (T, D) one step at a time."""
    return [indexed("x", t, x_t) for t, x_t in enumerate(xs, start=1)]


def check_against_forward(network: RecurrentNetwork, xs: Tensor, states: list[Symbol]) -> None:
    """The step-by-step hidden states must be what the network's own forward returns over xs
    (T, D), unbatched: a bug in rnnkit otherwise. Run on the loop backend, exact like every
    backend, which needs no C++ kernels built: a learner's first `rnnkit explain` waits for no
    compiler (20-40 s)."""
    network.backend = "loop"
    library, _ = network(xs)  # (T, H)
    steps = torch.stack([symbol.value for symbol in states])
    if not (torch.isfinite(steps).all() and torch.isfinite(library).all()):
        raise RnnkitError(
            "these inputs and weights overflow float64 (a value became inf or nan); "
            "use numbers below about 1e150",
            "các đầu vào và trọng số này làm tràn số float64 (một giá trị thành inf hoặc nan); "
            "hãy dùng các số nhỏ hơn khoảng 1e150",
        )
    if steps.shape != library.shape or not torch.allclose(steps, library, rtol=0, atol=1e-12):
        raise RuntimeError(
            "step-by-step hidden states h_t differ from the library's forward: a bug in rnnkit"
        )
