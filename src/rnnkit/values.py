"""The kinds of value rnnkit takes, checked in one place.

Every setting is a dataclass field declared with `setting(...)`: its help, its flag, and its kind.
The command line turns each field into a flag whose argparse type is the kind's `parse`, so a bad
value is refused before any work with one line, e.g. `error: --hidden must be a positive integer,
got 0`; the Python API checks the same fields with `check_settings` and raises the same words.

    kind           accepts                                   e.g.
    POSITIVE_INT   1, 2, ... (at most 2^31 - 1)              --hidden, --layers, --steps
    COUNT          0, 1, 2, ...                              --warmup, --patience, --seed
    LAYERS         1 to 100                                  --layers
    PROBABILITY    0 <= p < 1                                --dropout, --ema
    FRACTION       0 <= x <= 1                               --min-lr-ratio
    SHARE          0 < x < 1                                 --valid-fraction
    MASS           0 < p <= 1                                --top-p
    POSITIVE       a finite number > 0                       --lr, --epochs, --temperature > 0
    NON_NEGATIVE   a finite number >= 0                      --weight-decay, --clip
    DURATION       90, 90s, 10m, 1h30m (seconds > 0)         --time
    path           a file or folder name, not empty          --out

Settings read back from disk (config.json, a checkpoint's progress, a compare piece) become their
dataclass through `config_from_json`, which checks every name and each value's JSON type.
"""

from __future__ import annotations

import argparse
import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError

LARGEST_INT = 2**31 - 1  # beyond this no count in rnnkit makes sense (and torch's int32 ends)


@dataclass(frozen=True)
class Kind:
    """A kind of value: what it is called in messages, and how a command-line string becomes one."""

    description: str  # completes "must be ...", e.g. "a positive integer"
    convert: Callable[[str], Any]  # str -> value (ValueError if it is not one)
    accepts: Callable[[Any], bool]  # value -> in range?

    def parse(self, text: str) -> Any:
        """A command-line string -> the value; argparse.ArgumentTypeError says what is wrong."""
        try:
            value = self.convert(text.strip())
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"must be {self.description}, got {text!r}") from None
        if not self.accepts(value):
            raise argparse.ArgumentTypeError(f"must be {self._bound(value)}, got {text}")
        return value

    def _bound(self, value: Any) -> str:
        """What the value must be: the description, or the largest count for one above it."""
        if self.convert is int and value > LARGEST_INT and self.accepts(LARGEST_INT):
            return f"at most {LARGEST_INT:,}"
        return self.description

    def check(self, name: str, value: Any) -> None:
        """The same check for a value given from Python; RnnkitError names `name`."""
        value = plain(value)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        integer = self.convert is int
        if not number or (integer and not isinstance(value, int)):
            raise RnnkitError(f"{name} must be {self.description}, got {value!r}")
        if not self.accepts(value):
            raise RnnkitError(f"{name} must be {self._bound(value)}, got {value!r}")


def path(text: str) -> Path:
    """A command-line path (argparse type); an empty name is refused, not read as the current
    folder (as Path("") is), and so is one of spaces only."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a file or folder name, got {text!r}")
    return Path(text)


def plain(value: Any) -> Any:
    """A numpy (or other) integer or real number as Python's int or float, so that settings
    from a grid (np.arange, np.linspace) are taken and saved as JSON; anything else as it is."""
    if isinstance(value, bool) or type(value) in (int, float):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def _finite(value: float) -> bool:
    return math.isfinite(value)


def parse_duration(text: str) -> float:
    """'90' or '90s' -> 90.0; '10m' -> 600.0; '1h30m' -> 5400.0 (seconds)."""
    match = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
    if not text or match is None:
        raise ValueError(text)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


POSITIVE_INT = Kind("a positive integer", int, lambda v: 1 <= v <= LARGEST_INT)
COUNT = Kind("a non-negative integer", int, lambda v: 0 <= v <= LARGEST_INT)
# A stack deeper than this trains no better and takes minutes to build (1,000 layers: 40 s).
LAYERS = Kind("a number of layers from 1 to 100", int, lambda v: 1 <= v <= 100)
PROBABILITY = Kind("a probability in [0, 1)", float, lambda v: 0 <= v < 1)
FRACTION = Kind("a number from 0 to 1", float, lambda v: 0 <= v <= 1)
SHARE = Kind("a share between 0 and 1, e.g. 0.2", float, lambda v: 0 < v < 1)
MASS = Kind("a probability in (0, 1]", float, lambda v: 0 < v <= 1)
POSITIVE = Kind("a positive finite number", float, lambda v: _finite(v) and v > 0)
NON_NEGATIVE = Kind("a finite number >= 0", float, lambda v: _finite(v) and v >= 0)
DURATION = Kind(
    "a duration such as 90s, 10m or 1h30m", parse_duration, lambda v: _finite(v) and v > 0
)


def duration(value: str | float) -> float:
    """Seconds from a duration string or a number (the Python API takes either)."""
    if isinstance(value, str):
        try:
            return DURATION.parse(value)
        except argparse.ArgumentTypeError as error:
            raise RnnkitError(f"time {error}") from None
    DURATION.check("time", value)
    return float(value)


def setting(
    default: Any,
    help: str,
    kind: Kind | None = None,
    *,
    flag: str | None = None,
    choices: tuple[str, ...] | None = None,
    positional: str | None = None,
    unset: str | None = None,
) -> Any:
    """A dataclass field that is also a command-line flag (see the module docstring).

    flag: the flag when it is not --field-name (e.g. "--hidden" for hidden_size);
    positional: the metavar when it is the command's optional positional argument instead;
    unset: what the default None means, for the help ("off" unless said).
    """
    metadata = {"help": help, "kind": kind, "flag": flag, "choices": choices, "unset": unset}
    return field(default=default, metadata={**metadata, "positional": positional})


def flag_of(f: Any) -> str:
    """How the command line spells a setting's field."""
    return f.metadata.get("positional") or f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def check_settings(config: Any) -> Any:
    """Check every field of a settings dataclass against its kind and choices (None is allowed
    where the field's default is None; numpy's numbers become Python's); RnnkitError names the
    field. Returns `config`."""
    for f in fields(config):
        value = plain(getattr(config, f.name))
        setattr(config, f.name, value)
        if value is None and f.default is None:
            continue
        if f.metadata.get("kind") is not None:
            f.metadata["kind"].check(f.name, value)
        choices = f.metadata.get("choices")
        if choices is not None and value not in choices:
            raise RnnkitError(f"{f.name} must be one of {', '.join(choices)}, got {value!r}")
    return config


def config_from_json(cls: type, data: Any, where: str) -> Any:
    """The dataclass `cls` from JSON read from a run folder, refusing unknown names and values of
    the wrong type (int, float, str, bool, None, list, dict as the annotations say) with one
    RnnkitError naming `where`. Ranges are left to the dataclass's own check."""
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
