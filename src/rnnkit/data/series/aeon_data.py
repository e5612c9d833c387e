"""`aeon:NAME`: the classification datasets that the aeon package ships inside itself.

aeon (a time-series toolkit, `pip install 'rnnkit[series]'`) installs a few UCR/UEA archive
datasets as files, each a folder NAME/ with NAME_TRAIN.ts and NAME_TEST.ts: the archive's own
train/test split. rnnkit finds that folder without importing aeon (importing it takes seconds)
and reads the files with its own .ts reader (rnnkit.data.series.ts_format); nothing is
downloaded. A dataset counts as a classification dataset when its header says `@classLabel true`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rnnkit.errors import RnnkitError

PREFIX = "aeon:"
INSTALL = "pip install 'rnnkit[series]'"


def aeon_data_folder() -> Path:
    """The folder of datasets inside the installed aeon package."""
    spec = importlib.util.find_spec("aeon")
    if spec is None or spec.origin is None:
        raise RnnkitError(
            f"aeon:NAME reads the datasets the aeon package ships, and aeon is not installed; "
            f"install it with {INSTALL}"
        )
    folder = Path(spec.origin).parent / "datasets" / "data"
    if not folder.is_dir():
        raise RnnkitError(f"the installed aeon has no {folder}; reinstall it with {INSTALL}")
    return folder


def aeon_names() -> list[str]:
    """The classification datasets aeon ships, by name."""
    folder = aeon_data_folder()
    return sorted(
        (found.name for found in folder.iterdir() if declares_labels(train_file(found))),
        key=str.lower,
    )


def aeon_dataset(name: str) -> Path:
    """The folder of the dataset `name` (any case); an unknown name lists the known ones."""
    names = aeon_names()
    match = next((known for known in names if known.lower() == name.lower()), None)
    if match is None:
        raise RnnkitError(
            f"aeon ships no classification dataset {name!r}; it has {', '.join(names)} "
            "(others need downloading, which rnnkit never does: give their .ts or .tsv files)"
        )
    return aeon_data_folder() / match


def train_file(folder: Path) -> Path:
    return folder / f"{folder.name}_TRAIN.ts"


def declares_labels(path: Path) -> bool:
    """Does the .ts file at `path` exist and declare class labels (`@classLabel true ...`)?"""
    if not path.is_file():
        return False
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            words = line.lower().split()
            if words[:1] == ["@data"]:
                return False
            if words[:2] == ["@classlabel", "true"]:
                return True
    return False
