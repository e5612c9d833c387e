"""Training settings shared by every task, and the command-line flags generated from them.

Each field's `help` is its comment: it documents the field here and becomes the flag's help text.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from rnnkit.errors import RnnkitError

DEFAULT_TIME = 120.0  # seconds; the budget when none of --steps, --epochs, --time is given


def parse_duration(text: str) -> float:
    """'90' or '90s' -> 90.0; '10m' -> 600.0; '1h30m' -> 5400.0 (seconds)."""
    match = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
    if not text or match is None:
        raise RnnkitError(f"cannot read the duration {text!r}; write e.g. 90s, 10m or 1h30m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _flag(help: str, **extra: Any) -> dict[str, Any]:
    return {"help": help, **extra}


@dataclass
class TrainConfig:
    """How to train, whatever the task (the task itself says what data and which model)."""

    # Budget: training stops at the first of these that is reached.
    steps: int | None = field(default=None, metadata=_flag("stop after this many optimiser steps"))
    epochs: float | None = field(default=None, metadata=_flag("stop after this many epochs"))
    time: float | None = field(
        default=None,
        metadata=_flag("stop after this wall time, e.g. 90s, 10m, 1h", type=parse_duration),
    )
    # Optimiser: AdamW, gradient-norm clipping.
    lr: float = field(default=3e-3, metadata=_flag("peak learning rate of AdamW"))
    weight_decay: float = field(default=0.01, metadata=_flag("AdamW's decoupled weight decay"))
    clip: float = field(default=1.0, metadata=_flag("clip the gradient norm to this; 0 = off"))
    ema: float = field(
        default=0.0,
        metadata=_flag(
            "evaluate and keep a moving average of the weights with this decay, e.g. 0.99 "
            "(train/average.py); 0 = off"
        ),
    )
    # Learning-rate schedule, with a linear warm-up in front of it.
    schedule: str = field(
        default="cosine",
        metadata=_flag(
            "cosine: decay to min-lr-ratio x lr over the budget along a half cosine; linear: "
            "along a straight line; plateau: halve when valid loss stalls; constant",
            choices=("cosine", "linear", "plateau", "constant"),
        ),
    )
    warmup: int = field(default=50, metadata=_flag("linear warm-up steps"))
    min_lr_ratio: float = field(default=0.1, metadata=_flag("cosine, linear: final lr / peak lr"))
    plateau_patience: int = field(
        default=1, metadata=_flag("plateau: evaluations without improvement before halving")
    )
    # Evaluation, early stopping, reproducibility.
    eval_every: int = field(default=200, metadata=_flag("evaluate (and checkpoint) every N steps"))
    patience: int = field(
        default=5, metadata=_flag("stop after N evaluations without a better valid loss; 0 = off")
    )
    seed: int = field(default=1, metadata=_flag("random seed (weights, dropout, samples)"))
    device: str = field(
        default="auto", metadata=_flag("cpu, cuda, cuda:1, ...; auto picks cuda when available")
    )

    def budget_text(self) -> str:
        parts = [
            f"{self.steps} steps" if self.steps else "",
            f"{self.epochs:g} epochs" if self.epochs else "",
            f"{self.time:g}s" if self.time else "",
        ]
        return " or ".join(p for p in parts if p)

    def check(self) -> TrainConfig:
        """Validate, and fill in the default budget (DEFAULT_TIME) when none is given."""
        for name in ("steps", "epochs", "time"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise RnnkitError(f"--{name} must be positive, got {value}")
        if not 0.0 <= self.ema < 1.0:
            raise RnnkitError(f"--ema must be in [0, 1), e.g. 0.99; got {self.ema}")
        if self.eval_every < 1:
            raise RnnkitError("--eval-every must be at least 1")
        if self.steps is None and self.epochs is None and self.time is None:
            self.time = DEFAULT_TIME
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_config_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    defaults: dict[str, Any] | None = None,
    **renamed: str,
) -> None:
    """Add one --flag per dataclass field (help and type from the field's metadata).

    `renamed` maps a field name to its flag where the command line spells it differently
    (e.g. hidden_size="--hidden"); `defaults` are a task's own defaults, shown in the help (pass
    the same to `config_from_args`). Every flag defaults to None ("not given"), so that
    `config_from_args` keeps the task's or the dataclass's default.
    """
    for f in fields(cls):
        if "help" not in f.metadata:
            continue
        flag = renamed.get(f.name, "--" + f.name.replace("_", "-"))
        default = f.default if f.default is not MISSING else None
        default = (defaults or {}).get(f.name, default)
        kwargs: dict[str, Any] = {"help": f"{f.metadata['help']} (default: {default})"}
        if f.type in ("bool", bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = f.metadata.get("type", _scalar_type(f.type))
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        parser.add_argument(flag, dest=f.name, default=None, **kwargs)


def _scalar_type(annotation: Any) -> type:
    text = str(annotation)
    for name, kind in (("int", int), ("float", float)):
        if text.startswith(name):
            return kind
    return str


def config_from_json(cls: type, data: Any, where: str) -> Any:
    """The dataclass `cls` from JSON read from a run folder, refusing unknown names and values of
    the wrong type (int, float, str, bool, None, list, dict as the annotations say) with one
    RnnkitError naming `where`. Ranges are left to the dataclass's own check()."""
    if not isinstance(data, dict):
        raise RnnkitError(f"{where} is not a JSON object; the run folder is damaged, retrain")
    known = {f.name: f for f in fields(cls)}
    for name, value in data.items():
        if name not in known:
            raise RnnkitError(f"{where} has an unknown setting {name!r}; retrain")
        if not _json_type_fits(value, str(known[name].type)):
            raise RnnkitError(
                f"{where}: {name} = {str(value)[:40]!r} is not {known[name].type}; retrain"
            )
    try:
        return cls(**data)
    except (TypeError, ValueError) as error:
        raise RnnkitError(f"{where} is incomplete or invalid ({error}); retrain") from None


JSON_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}
JSON_TYPES |= {"None": (type(None),), "list": (list,), "dict": (dict,)}


def _json_type_fits(value: Any, annotation: str) -> bool:
    """Does a JSON value fit an annotation such as "int | None" or "list[dict[str, Any]]"?"""
    for name in annotation.replace(" ", "").split("|"):
        kinds = JSON_TYPES.get(name.split("[")[0], (object,))
        if isinstance(value, bool) and bool not in kinds and object not in kinds:
            continue  # JSON true is not a number
        if isinstance(value, kinds):
            return True
    return False


def config_from_args(cls: type, args: argparse.Namespace, **overrides: Any) -> Any:
    """The dataclass with every flag that was given, the defaults elsewhere."""
    given = {
        f.name: getattr(args, f.name)
        for f in fields(cls)
        if getattr(args, f.name, None) is not None
    }
    return cls(**{**overrides, **given})
