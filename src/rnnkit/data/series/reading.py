"""Reading time series from CSV files, and from folders of CSV, TSV and .ts files.

Two CSV layouts are read (docs/CLASSIFICATION.md shows both):

wide (UCR style), one sequence per row, no header, the label first and the values after it:

    walk,0.1,0.3,0.2,0.5
    run,1.2,0.9,1.4            <- shorter sequences end early (empty trailing cells or NaN)

long, with a header: one row per time step of one sequence; columns `id`, `time`, `label` and one
or more feature columns (every other column, in file order):

    id,time,x,y,label
    s1,0,0.1,2.0,walk
    s1,1,0.3,,walk             <- a missing cell

`format="auto"` picks long when the first row is a header (no numbers) with an `id` column, wide
otherwise. A folder is read as every *.csv / *.tsv / *.ts file in it, in name order, all in one
layout (rnnkit.data.series.sources reads a folder of the UCR/UEA archive as its two parts).

Missing values (an empty cell, NaN, NA or ?) inside a sequence are forward-filled from the last
observed value of the same feature in the same sequence; missing values before the first observation
take that first observation. A sequence (or one feature of it) with no observed value at all is
refused with an error, and so is an infinite value. An empty label cell means "unlabelled", which
`rnnkit predict` accepts and training refuses.

A sequence is a float32 array (T, D): T time steps of D features.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from rnnkit.data.series.dataset import LARGEST, TOO_LARGE, SeriesDataset
from rnnkit.data.series.missing import fill_missing
from rnnkit.data.series.ts_format import SUFFIX as TS_SUFFIX
from rnnkit.data.series.ts_format import load_ts
from rnnkit.errors import RnnkitError
from rnnkit.files import read_text_file

FORMATS = ("auto", "wide", "long")
MISSING = frozenset({"", "nan", "na", "n/a", "?"})
LONG_ID, LONG_TIME, LONG_LABEL = "id", "time", "label"
SUFFIXES = (".csv", ".tsv", TS_SUFFIX)


def load_series(path: Path, format: str = "auto") -> SeriesDataset:
    """Read one CSV, TSV or .ts file, or a folder of them (see the module docstring for the CSV
    layouts, rnnkit.data.series.ts_format for .ts files)."""
    if format not in FORMATS:
        raise RnnkitError(f"unknown series format {format!r}; use one of {', '.join(FORMATS)}")
    path = Path(path)
    if path.is_dir():
        return _load_folder(path, format)
    if not path.is_file():
        raise RnnkitError(
            f"{path} does not exist; give a CSV, TSV or .ts file, or a folder of them"
        )
    return _load_file(path, format, prefix="")


def _load_folder(folder: Path, format: str) -> SeriesDataset:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise RnnkitError(f"{folder} holds no .csv, .tsv or .ts file; put the series files there")
    parts = [_load_file(file, format, prefix=f"{file.name}:") for file in files]
    for part in parts[1:]:
        if part.features != parts[0].features:
            raise RnnkitError(
                f"{part.source} has features {part.features} but {parts[0].source} has "
                f"{parts[0].features}; every file of a folder needs the same feature columns"
            )
    return SeriesDataset(
        sequences=[s for part in parts for s in part.sequences],
        labels=[label for part in parts for label in part.labels],
        ids=[name for part in parts for name in part.ids],
        features=parts[0].features,
        source=str(folder),
    )


def _load_file(path: Path, format: str, prefix: str) -> SeriesDataset:
    if path.suffix.lower() == TS_SUFFIX:
        return load_ts(path, prefix)
    rows = _read_rows(path)
    if format == "auto":
        format = "long" if _is_long_header(rows[0][1]) else "wide"
    if format == "long":
        sequences, labels, ids, features = _parse_long(rows, path)
    else:
        sequences, labels, ids, features = _parse_wide(rows, path)
    return SeriesDataset(sequences, labels, [prefix + name for name in ids], features, str(path))


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row of a text CSV (comma; tab for .tsv files)."""
    text = read_text_file(path, "give a CSV text file of numbers")
    first_line = text.split("\n", 1)[0]
    tabs = path.suffix.lower() == ".tsv" or ("\t" in first_line and "," not in first_line)
    reader = csv.reader(io.StringIO(text), delimiter="\t" if tabs else ",", strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise RnnkitError(f"{path} line {reader.line_num} is not valid CSV: {error}") from None
    if not rows:
        raise RnnkitError(f"{path} is empty; it needs one sequence per row (see CLASSIFICATION.md)")
    return rows


def _is_long_header(row: list[str]) -> bool:
    """A header with an id column; a wide row has numbers after its label."""
    return LONG_ID in {cell.strip().lower() for cell in row} and not any(map(_is_number, row))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parse_number(cell: str, path: Path, line: int, column: int) -> float:
    """A cell's value, NaN when missing; an error for text or infinity."""
    text = cell.strip()
    if text.lower() in MISSING:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise RnnkitError(
            f"{path} line {line}, column {column}: {text[:20]!r} is not a number; "
            "value cells must be numbers or empty (wide rows are label,v1,v2,...)"
        ) from None
    if math.isinf(value):
        raise RnnkitError(f"{path} line {line}, column {column}: {text!r} is infinite")
    if abs(value) > LARGEST:
        raise RnnkitError(f"{path} line {line}, column {column}: {text!r} {TOO_LARGE}")
    return value


def _label(cell: str) -> str | None:
    text = cell.strip()
    return text or None


def _parse_wide(rows: list[tuple[int, list[str]]], path: Path):
    parsed = []
    line, first = rows[0]
    if len(first) > 1 and not any(_is_number(cell) or not cell.strip() for cell in first[1:]):
        raise RnnkitError(
            f"{path} line {line} looks like a header ({', '.join(first[:3])}, ...): a wide CSV "
            "has none (label,v1,v2,... on every row), and a long one needs an 'id' column"
        )
    for line, row in rows:
        values = [_parse_number(c, path, line, col) for col, c in enumerate(row[1:], start=2)]
        while values and math.isnan(values[-1]):  # ragged rows end early
            values.pop()
        parsed.append((line, _label(row[0]), values))
    if not any(values for _, _, values in parsed):
        raise RnnkitError(
            f"{path} has no numeric values; wide rows are label,v1,v2,... and a long file "
            f"needs a header with {LONG_ID}, {LONG_TIME} and {LONG_LABEL} columns"
        )
    sequences, labels, ids = [], [], []
    for line, label, values in parsed:
        where = f"{path} line {line}"
        if not values:
            raise RnnkitError(f"{where} has no values; remove the row or fill it in")
        column = np.asarray(values, dtype=np.float64)[:, None]  # (T, 1)
        sequences.append(fill_missing(column, where))
        labels.append(label)
        ids.append(str(line))
    return sequences, labels, ids, ["value"]


@dataclass(frozen=True)
class _LongColumns:
    """Where each column of a long file is (column indices into a row)."""

    id: int
    time: int
    label: int | None  # None: an unlabelled file, for prediction
    features: list[int]


def _long_columns(header: list[str], path: Path) -> _LongColumns:
    lower = [name.lower() for name in header]
    for required in (LONG_ID, LONG_TIME):
        if required not in lower:
            raise RnnkitError(
                f"{path} has no {required!r} column; a long file's header needs "
                f"{LONG_ID}, {LONG_TIME}, one or more feature columns and (to train) {LONG_LABEL}"
            )
    id_col, time_col = lower.index(LONG_ID), lower.index(LONG_TIME)
    label_col = lower.index(LONG_LABEL) if LONG_LABEL in lower else None
    features = [i for i in range(len(header)) if i not in (id_col, time_col, label_col)]
    if not features:
        raise RnnkitError(f"{path} has no feature column; add one column per measured value")
    return _LongColumns(id_col, time_col, label_col, features)


# One time step of a long file: (time, feature values with NaN for missing, line number).
_Step = tuple[float, list[float], int]


def _group_long_rows(
    rows: list[tuple[int, list[str]]], columns: _LongColumns, width: int, path: Path
) -> tuple[dict[str, list[_Step]], dict[str, str | None]]:
    """The time steps and the label of each sequence id, in order of first appearance."""
    groups: dict[str, list[_Step]] = {}
    labels: dict[str, str | None] = {}
    for line, row in rows:
        if len(row) != width:
            raise RnnkitError(f"{path} line {line} has {len(row)} cells but the header has {width}")
        name = row[columns.id].strip()
        if not name:
            raise RnnkitError(f"{path} line {line}: the {LONG_ID} cell is empty; fill it in")
        time = _parse_number(row[columns.time], path, line, columns.time + 1)
        if math.isnan(time):
            raise RnnkitError(f"{path} line {line}: the {LONG_TIME} cell is empty; fill it in")
        values = [_parse_number(row[i], path, line, i + 1) for i in columns.features]
        label = None if columns.label is None else _label(row[columns.label])
        if name in labels and labels[name] != label:
            raise RnnkitError(
                f"{path} line {line}: sequence {name} has label {label!r} here but "
                f"{labels[name]!r} above; a sequence has one label"
            )
        labels[name] = label
        groups.setdefault(name, []).append((time, values, line))
    return groups, labels


def _parse_long(rows: list[tuple[int, list[str]]], path: Path):
    header = [cell.strip() for cell in rows[0][1]]
    columns = _long_columns(header, path)
    groups, labels = _group_long_rows(rows[1:], columns, len(header), path)
    if not groups:
        raise RnnkitError(f"{path} has a header but no rows; add one row per time step")
    if all(math.isnan(v) for steps in groups.values() for _, values, _ in steps for v in values):
        raise RnnkitError(f"{path} has no numeric values in its feature columns")
    sequences = []
    for name, steps in groups.items():
        steps.sort(key=lambda step: step[0])
        for (t0, _, _), (t1, _, line) in pairwise(steps):
            if t0 == t1:
                raise RnnkitError(f"{path} line {line}: sequence {name} repeats time {t1:g}")
        values = np.asarray([values for _, values, _ in steps], dtype=np.float64)  # (T, D)
        sequences.append(fill_missing(values, f"{path} sequence {name}"))
    features = [header[i] for i in columns.features]
    return sequences, [labels[name] for name in groups], list(groups), features
