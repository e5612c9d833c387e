"""Training settings shared by every task, recipes, and the command-line flags made from settings.

Every settings dataclass (TrainConfig here, each task's data config, each model config) declares
its fields with rnnkit.values.setting: help, flag and kind of value in one place. From them:

    add_config_arguments(parser, cls, defaults)   one flag per field, its help ending in the
                                                  default the task really uses
    config_from_args(cls, args, defaults)         the dataclass: flags given, else the defaults
    (rnnkit.values.config_from_json reads the dataclass back from a run folder, checked)

A task's defaults are its Recipe: what it trains with unless a flag says otherwise.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from rnnkit.values import (
    COUNT,
    DURATION,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    check_settings,
    flag_of,
    setting,
)

DEFAULT_TIME = 120.0  # seconds; the budget when none of --steps, --epochs, --time is given
BUDGET = ("steps", "epochs", "time")
SCHEDULES = ("cosine", "linear", "plateau", "constant")
PRECISIONS = ("fp32", "bf16", "auto")


@dataclass
class TrainConfig:
    """How to train, whatever the task (the task itself says what data and which model)."""

    # Budget: training stops at the first of these that is reached.
    steps: int | None = setting(None, "stop after this many optimiser steps", POSITIVE_INT)
    epochs: float | None = setting(None, "stop after this many epochs", POSITIVE)
    time: float | None = setting(None, "stop after this wall time, e.g. 90s, 10m, 1h", DURATION)
    # Optimiser: AdamW, gradient-norm clipping.
    lr: float = setting(3e-3, "peak learning rate of AdamW", POSITIVE)
    weight_decay: float = setting(0.01, "AdamW's decoupled weight decay", NON_NEGATIVE)
    clip: float = setting(1.0, "clip the gradient norm to this; 0 = off", NON_NEGATIVE)
    ema: float = setting(
        0.0,
        "evaluate and keep a moving average of the weights with this decay, e.g. 0.99 "
        "(train/average.py); 0 = off",
        PROBABILITY,
    )
    # Learning-rate schedule, with a linear warm-up in front of it.
    schedule: str = setting(
        "cosine",
        "cosine: decay to min-lr-ratio x lr over the budget along a half cosine; linear: along a "
        "straight line; plateau: halve when valid loss stalls; constant",
        choices=SCHEDULES,
    )
    warmup: int = setting(50, "linear warm-up steps", COUNT)
    min_lr_ratio: float = setting(0.1, "cosine, linear: final lr / peak lr", FRACTION)
    plateau_patience: int = setting(
        1, "plateau: evaluations without improvement before halving", POSITIVE_INT
    )
    # Evaluation, early stopping, reproducibility.
    eval_every: int = setting(200, "evaluate (and checkpoint) every N steps", POSITIVE_INT)
    checkpoint_every: float = setting(
        300.0,
        "also save the training state after this much wall time without one, e.g. 5m: a kill "
        "loses at most that much work",
        DURATION,
    )
    patience: int = setting(
        5, "stop after N evaluations without a better valid loss; 0 = off", COUNT
    )
    seed: int = setting(1, "random seed (weights, dropout, samples)", COUNT)
    device: str = setting("auto", "cpu, cuda, cuda:1, ...; auto picks cuda when available")
    precision: str = setting(
        "fp32",
        "fp32; bf16: each training step's forward pass under autocast to bfloat16 (weights, "
        "optimiser and evaluation stay float32; fast on GPUs and CPUs with AVX-512 BF16 or AMX, "
        "slow elsewhere); auto: bf16 where the device computes it, else fp32",
        choices=PRECISIONS,
    )

    def budget_text(self) -> str:
        parts = [
            f"{self.steps} steps" if self.steps else "",
            f"{self.epochs:g} epochs" if self.epochs else "",
            f"{self.time:g}s" if self.time else "",
        ]
        return " or ".join(p for p in parts if p)

    def check(self) -> TrainConfig:
        """Validate every field, and fill in the default budget (DEFAULT_TIME) when none is
        given."""
        check_settings(self)
        if self.steps is None and self.epochs is None and self.time is None:
            self.time = DEFAULT_TIME
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Recipe:
    """The settings a task trains with unless a flag says otherwise: its data, model and training
    settings by field name, and a budget used only when no --steps, --epochs or --time is given
    (a budget among the training settings is a cap, kept beside whatever budget is given)."""

    name: str
    note: str = ""  # where the settings come from, printed when a run starts
    data: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=lambda: {"time": DEFAULT_TIME})
    seconds: float = DEFAULT_TIME  # the budget it was tuned for (text recipes by time)

    def describe(self) -> str:
        return f"recipe {self.name} ({self.note})" if self.note else f"recipe {self.name}"

    def caps(self) -> set[str]:
        """The budgets (steps, epochs, time) the recipe keeps beside any budget given."""
        return set(self.train) & set(BUDGET)

    def train_defaults(self, budget_given: bool) -> dict[str, Any]:
        return self.train if budget_given else {**self.budget, **self.train}


def add_config_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    defaults: dict[str, Any] | None = None,
    caps: Collection[str] = (),
) -> None:
    """Add one --flag per setting field of `cls` (help, type and choices from the field).

    `defaults` are the task's own (its recipe's), shown in the help; `caps` the budgets among
    them that hold beside any budget given (a recipe's train settings). Every flag defaults to
    None ("not given"), so that `config_from_args` keeps the task's or the dataclass's default.
    """
    for f in fields(cls):
        if "help" not in f.metadata:
            continue
        default = (defaults or {}).get(f.name, f.default if f.default is not MISSING else None)
        kwargs: dict[str, Any] = {"help": _help(f, default, f.name in caps)}
        if f.type in ("bool", bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif f.metadata.get("kind") is not None:
            kwargs["type"] = f.metadata["kind"].parse
        if f.metadata.get("choices"):
            kwargs["choices"] = f.metadata["choices"]
        if f.metadata.get("positional"):
            parser.add_argument(
                f.name, metavar=f.metadata["positional"], nargs="?", default=None, **kwargs
            )
        else:
            parser.add_argument(flag_of(f), dest=f.name, default=None, **kwargs)


def _help(f: Any, default: Any, cap: bool = False) -> str:
    """The field's help with the default it really has, unless the help already says it."""
    text = f.metadata["help"]
    if "default" in text:
        return text
    if default is None:
        return f"{text} (default: {f.metadata.get('unset') or 'off'})"
    if isinstance(default, bool):
        return f"{text} (default: {'on' if default else 'off'})"
    shown = f"{default:g}" if isinstance(default, float) else str(default)
    if f.metadata.get("kind") is DURATION:
        shown += "s"
    if f.name in BUDGET:
        shown += ", beside any other budget" if cap else ", when no other budget is given"
    return f"{text} (default: {shown})"


def config_from_args(
    cls: type, args: argparse.Namespace, defaults: dict[str, Any] | None = None
) -> Any:
    """The dataclass with every flag that was given, the `defaults` (a recipe's) elsewhere."""
    names = {f.name for f in fields(cls)}
    chosen = {k: v for k, v in (defaults or {}).items() if k in names}
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    return cls(**{**chosen, **given})
