"""Where a classifier's series come from, and the parts (train, test) a source may have.

    DATA                                   what it is                          parts
    a CSV, TSV or .ts file, or a folder    one set of series                   none
    a folder NAME/ with NAME_TRAIN.ts and  the UCR/UEA archive's layout        train, test
      NAME_TEST.ts (or .tsv, or .csv)
    aeon:NAME                              a dataset aeon ships (aeon_data.py)  train, test
    aeon:NAME/train, aeon:NAME/test        one part of it                      none
    example:waveforms                      generated (waveforms.py)            none

Training reads the train part of a source that has parts (the whole of one that has none), and
the run keeps the test part for `rnnkit evaluate RUN`. Anywhere else a source with parts must
say which one (`aeon:GunPoint/test`, or the file `GunPoint/GunPoint_TEST.tsv`): scoring the
wrong part by accident is a mistake that looks like success.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.data.series.aeon_data import PREFIX as AEON
from rnnkit.data.series.aeon_data import aeon_dataset
from rnnkit.data.series.dataset import SeriesDataset
from rnnkit.data.series.reading import load_series
from rnnkit.data.series.waveforms import EXAMPLE, make_waveforms
from rnnkit.errors import RnnkitError
from rnnkit.files import absolute

PARTS = ("train", "test")
ARCHIVE_SUFFIXES = (".ts", ".tsv", ".csv")  # in order of preference, as aeon's folders hold all


@dataclass(frozen=True)
class Source:
    """A source located: the file or folder to read, or its parts."""

    name: str  # as given
    path: Path | None  # None: the built-in example
    parts: dict[str, Path] = field(default_factory=dict)  # {"train": ..., "test": ...} or {}

    def part_hint(self, part: str) -> str:
        """How to name one part of this source."""
        if self.name.lower().startswith(AEON):
            return f"{self.name}/{part}"
        return str(self.parts[part])


def canonical(source: str | Path) -> str:
    """The source as a run saves it: a path made absolute (resumable from any folder)."""
    text = str(source)
    if text == EXAMPLE or text.lower().startswith(AEON):
        return text
    return str(absolute(text))


def locate(source: str | Path) -> Source:
    """Find what `source` names (see the module docstring); its files are read later."""
    text = str(source)
    if text == EXAMPLE:
        return Source(text, None)
    if text.lower().startswith(AEON):
        name, _, part = text[len(AEON) :].partition("/")
        folder = aeon_dataset(name)
        parts = archive_parts(folder)
        if not part:
            return Source(text, folder, parts)
        if part not in PARTS:
            raise RnnkitError(f"{text}: the part after '/' is train or test, not {part!r}")
        return Source(text, parts[part])
    path = Path(text)
    return Source(text, path, archive_parts(path) if path.is_dir() else {})


def archive_parts(folder: Path) -> dict[str, Path]:
    """{"train": NAME_TRAIN.x, "test": NAME_TEST.x} of an archive folder NAME/, else {}."""
    for suffix in ARCHIVE_SUFFIXES:
        train, test = (folder / f"{folder.name}_{part.upper()}{suffix}" for part in PARTS)
        if train.is_file() and test.is_file():
            return {"train": train, "test": test}
    return {}


def has_test_part(source: str | Path) -> bool:
    return "test" in locate(source).parts


def open_series(source: str | Path, format: str = "auto", part: str | None = None) -> SeriesDataset:
    """The series of `source`. part="train" reads a source's train part, or all of a source
    without parts (what training reads); part="test" its test part; part=None a source that has
    no parts (one with parts must name one, e.g. aeon:GunPoint/test)."""
    where = locate(source)
    if where.parts:
        if part is None:
            raise RnnkitError(
                f"{source} has a train and a test part; name the one to read, e.g. "
                f"{where.part_hint('test')}"
            )
        return load_series(where.parts[part], format)
    if part == "test":
        raise RnnkitError(f"{source} has no test part; give the test data as its own file")
    return make_waveforms() if where.path is None else load_series(where.path, format)
