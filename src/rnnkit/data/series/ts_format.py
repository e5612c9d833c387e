"""Reading the UCR/UEA archive's `.ts` files (the format sktime and aeon write and ship).

A `.ts` file is a header of `@` lines, then one series per line after `@data`:

    # comments start with a hash (or a percent sign, as in ARFF files)
    @problemName BasicMotions
    @univariate false
    @dimensions 6
    @equalLength true
    @seriesLength 100
    @classLabel true Standing Running Walking Badminton
    @data
    0.07,0.3,...:0.1,-0.2,...:...:Standing      <- D channels split by ':', the label last

Within a channel, values are split by ','; a missing value is `?` or `NaN` (filled as in CSV
files, rnnkit.data.series.reading.fill_missing); a channel's trailing missing values are padding
(shorter series). Every channel of a series must have the same length once that padding is gone,
and every series the same number of channels. Header tags are matched case-insensitively;
`@classLabel true` lists the labels, and a series with a label not listed is refused.

Refused with one line each: a header without `@data`, an unknown or malformed tag, time-stamped
series (`@timeStamps true`), regression files (`@targetLabel true`), a series with another number
of channels than the header or the first series, and values that are not numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.series.dataset import LARGEST, TOO_LARGE, SeriesDataset
from rnnkit.data.series.missing import fill_missing
from rnnkit.errors import RnnkitError
from rnnkit.files import read_text_file

SUFFIX = ".ts"
FLAGS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")
NUMBERS = ("dimensions", "dimension", "serieslength")
COMMENTS = "#%"


@dataclass
class Header:
    """What a `.ts` header declares (the tags rnnkit uses; the others are checked and kept)."""

    flags: dict[str, bool] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    labels: list[str] | None = None  # None: @classLabel false (an unlabelled file)
    data_line: int = 0  # the line number of @data

    @property
    def channels(self) -> int | None:
        if self.flags.get("univariate"):
            return 1
        return self.numbers.get("dimensions", self.numbers.get("dimension"))


def load_ts(path: Path, prefix: str = "") -> SeriesDataset:
    """Read one `.ts` file (see the module docstring); ids are line numbers, after `prefix`."""
    lines = read_text_file(path, "give a .ts text file of the UCR/UEA archive").splitlines()
    header = read_header(lines, path)
    sequences, labels, ids = [], [], []
    channels = header.channels
    for number, line in enumerate(lines[header.data_line :], start=header.data_line + 1):
        if _skipped(line):
            continue
        where = f"{path} line {number}"
        parts = line.strip().split(":")
        label = None
        if header.labels is not None:
            label = parts.pop().strip()
            if label not in header.labels:
                raise RnnkitError(
                    f"{where} has label {label!r}, which the header's @classLabel does not list "
                    f"({' '.join(header.labels)}); fix the label or the header"
                )
        channels = channels or len(parts)
        if len(parts) != channels:
            raise RnnkitError(
                f"{where} has {len(parts)} channels but {_expected(header, channels)}; every "
                "series needs the same channels, split by ':'"
            )
        sequences.append(_series(parts, where))
        labels.append(label)
        ids.append(f"{prefix}{number}")
    if not sequences:
        raise RnnkitError(f"{path} has no series after @data; add one series per line")
    features = ["value"] if channels == 1 else [f"dim_{d}" for d in range(channels)]
    return SeriesDataset(sequences, labels, ids, features, str(path))


def read_header(lines: list[str], path: Path) -> Header:
    """The tags before `@data`, checked; RnnkitError names the line of a malformed one."""
    header = Header()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if _skipped(text):
            continue
        where = f"{path} line {number}"
        if not text.startswith("@"):
            raise RnnkitError(
                f"{where} comes before @data but is not a header tag; a .ts file's header is "
                "@ lines ending with @data"
            )
        tag, *words = text[1:].split()
        tag = tag.lower()
        if tag == "data":
            if words:
                raise RnnkitError(f"{where}: @data stands alone on its line; the series follow")
            header.data_line = number
            return _checked(header, path)
        _read_tag(header, tag, words, where)
    raise RnnkitError(f"{path} has no @data line; it is not a .ts file, or its header is cut off")


def _skipped(line: str) -> bool:
    """A blank line or a comment."""
    text = line.strip()
    return not text or text[0] in COMMENTS


def _read_tag(header: Header, tag: str, words: list[str], where: str) -> None:
    if tag == "problemname":
        return
    if tag == "classlabel":
        if not words or words[0].lower() not in ("true", "false"):
            raise RnnkitError(f"{where}: @classLabel needs true (then the labels) or false")
        if words[0].lower() == "true":
            if len(words) < 2:
                raise RnnkitError(f"{where}: @classLabel true needs the labels after it")
            header.labels = words[1:]
        return
    if tag in FLAGS:
        if len(words) != 1 or words[0].lower() not in ("true", "false"):
            raise RnnkitError(f"{where}: @{tag} needs true or false, got {' '.join(words)!r}")
        header.flags[tag] = words[0].lower() == "true"
        return
    if tag in NUMBERS:
        if len(words) != 1 or not words[0].isdigit() or int(words[0]) < 1:
            raise RnnkitError(f"{where}: @{tag} needs a positive whole number")
        header.numbers[tag] = int(words[0])
        return
    raise RnnkitError(f"{where}: unknown header tag @{tag}; is this a .ts file of the archive?")


def _checked(header: Header, path: Path) -> Header:
    if header.flags.get("targetlabel"):
        raise RnnkitError(
            f"{path} is a regression problem (@targetLabel true); rnnkit classifies series "
            "into labels (@classLabel true)"
        )
    if header.flags.get("timestamps"):
        raise RnnkitError(
            f"{path} has time-stamped values (@timeStamps true), which rnnkit does not read; "
            "give the values without time stamps, or a long CSV file with a time column"
        )
    return header


def _expected(header: Header, channels: int) -> str:
    return f"the header says {channels}" if header.channels else f"the first series has {channels}"


def _series(parts: list[str], where: str) -> np.ndarray:
    """The (T, D) float32 array of one line's channels, missing values filled."""
    columns = []
    for d, part in enumerate(parts, start=1):
        values = _numbers(part, f"{where}, channel {d}")
        end = len(values)
        while end and np.isnan(values[end - 1]):  # trailing missing values: a shorter series
            end -= 1
        columns.append(values[:end])
    lengths = {len(column) for column in columns}
    if len(lengths) != 1:
        raise RnnkitError(
            f"{where}: the channels have different lengths ({sorted(lengths)}); every channel of "
            "a series needs a value (or ?) at every step"
        )
    if not lengths.pop():
        raise RnnkitError(f"{where} has no values; remove the line or fill it in")
    return fill_missing(np.stack(columns, axis=1), where)


def _numbers(text: str, where: str) -> np.ndarray:
    cells = [cell.strip() for cell in text.split(",")]
    try:
        values = np.array([np.nan if cell == "?" else float(cell) for cell in cells])
    except ValueError:
        bad = next(cell for cell in cells if not _is_number(cell))
        raise RnnkitError(
            f"{where}: {bad[:20]!r} is not a number; values are numbers split by ',' (? if missing)"
        ) from None
    if np.isinf(values).any():
        raise RnnkitError(f"{where}: a value is infinite; give finite numbers (? if missing)")
    if (np.abs(values) > LARGEST).any():
        raise RnnkitError(f"{where}: a value {TOO_LARGE}")
    return values


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell == "?"
    return True
