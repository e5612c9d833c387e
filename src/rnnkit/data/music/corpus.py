"""Where music comes from: a built-in corpus, a folder or file of scores, or a JSB-style JSON.

    load_music("bach")          the Bach chorales shipped with music21 (no download)
    load_music("nottingham")    the Nottingham folk tunes shipped with music21 (its
                                'nottingham-dataset' folder; the pip package holds 2 tunes)
    load_music("essen")         music21's Essen folk songs, O'Neill's Music of Ireland
    load_music("oneills")       ("oneills") and Ryan's Mammoth Collection ("ryans"): folk
    load_music("ryans")         melodies in ABC, thousands of tunes
    load_music("my/folder")     every .mid .midi .xml .mxl .musicxml .abc .krn file below it
    load_music("song.mid")      one file (an ABC file may hold many tunes)
    load_music("jsb.json")      {"train": [...], "valid": [...], "test": [...]}, each piece a list
                                of time steps, each a list of sounding MIDI pitches (JSB Chorales)

Scores are read through the parse cache and split with `split_pieces`; a JSON file keeps its own
split. A JSON file does not say its grid: pass the grid it was made with (the JSB files in
../shared/data are named by it).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from music21 import common

from rnnkit.data.music.cache import read_music_files
from rnnkit.data.music.pianoroll import frames_to_roll, roll_to_piece
from rnnkit.data.music.piece import Piece, steps_per_quarter
from rnnkit.data.music.score import MUSIC_SUFFIXES
from rnnkit.data.music.splits import MusicSplits, split_pieces
from rnnkit.errors import RnnkitError

# Corpus name -> folder of music21's bundled corpus (ABC files hold many tunes each).
CORPORA: dict[str, str] = {
    "bach": "bach",  # 433 chorales and more by J. S. Bach (MusicXML, Humdrum)
    "nottingham": "nottingham-dataset",  # folk tunes (the pip package holds 2)
    "essen": "essenFolksong",  # about 8,500 European folk songs (Essen collection, ABC)
    "oneills": "oneills1850",  # 2,009 Irish tunes of O'Neill's Music of Ireland (1850, ABC)
    "ryans": "ryansMammoth",  # 1,059 tunes of Ryan's Mammoth Collection (1883, ABC)
}
SPLIT_NAMES = ("train", "valid", "test")


def corpus_folder(name: str) -> Path:
    """The folder of a built-in corpus inside the installed music21."""
    if name not in CORPORA:
        raise RnnkitError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    return Path(common.getCorpusFilePath()) / CORPORA[name]


def music_files(folder: str | Path) -> list[Path]:
    """The music files below `folder`, sorted by path; hidden files (`.name`, such as macOS's
    `._song.mid` shadows) are not music."""
    folder = Path(folder)
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in MUSIC_SUFFIXES)
    files = [path for path in files if path.is_file() and not path.name.startswith(".")]
    if not files:
        raise RnnkitError(
            f"{folder} holds no music files ({' '.join(sorted(MUSIC_SUFFIXES))}); "
            "point to a folder of MIDI, MusicXML, ABC or Humdrum files"
        )
    return files


def read_music_folder(
    folder: str | Path,
    grid: str = "quarter",
    *,
    limit: int | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> list[Piece]:
    """Every piece in the music files below `folder` (the first `limit` files), named by their path
    inside the folder (`sub/tune.abc#2`), so names and splits do not depend on where it lives."""
    folder = Path(folder)
    files = music_files(folder)[:limit]
    pieces = read_music_files(files, grid, cache=cache, cache_dir=cache_dir, progress=progress)
    prefix = str(folder) + "/"
    return [replace(piece, name=piece.name.removeprefix(prefix)) for piece in pieces]


def load_music(
    source: str | Path,
    grid: str = "quarter",
    *,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
    limit: int | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> MusicSplits:
    """The pieces of `source` (a corpus name, a folder, a music file or a JSON file) on `grid`.

    `limit` reads only the first files of a folder (or the first pieces of each JSON split), for
    quick runs. `cache=False` parses every file again instead of using the parse cache.
    """
    steps_per_quarter(grid)  # an unknown grid fails before any slow parsing
    if str(source) in CORPORA:
        folder = corpus_folder(str(source))
    else:
        folder = Path(source)
        if not folder.exists():
            raise RnnkitError(
                f"{source} is neither a corpus ({', '.join(CORPORA)}) nor a file or folder; "
                "check the path"
            )
        if folder.is_file() and folder.suffix.lower() == ".json":
            return load_jsb_json(folder, grid, limit=limit)
    if folder.is_file():
        pieces = read_music_files([folder], grid, cache=cache, cache_dir=cache_dir, progress=False)
    else:
        pieces = read_music_folder(
            folder, grid, limit=limit, cache=cache, cache_dir=cache_dir, progress=progress
        )
    return split_pieces(pieces, valid_fraction, test_fraction)


def load_jsb_json(
    path: str | Path, grid: str = "quarter", *, limit: int | None = None
) -> MusicSplits:
    """A JSB-style JSON file (see the module docstring) with its own train/valid/test split.

    Pieces are named `train/0`, `train/1`, ...; consecutive steps holding a pitch are one note.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RnnkitError(
            f"cannot read {path} as JSON ({error}); give a JSB-style JSON file"
        ) from None
    if not isinstance(data, dict) or any(
        not isinstance(data.get(name), list) for name in SPLIT_NAMES
    ):
        raise RnnkitError(f"{path} must be a JSON object with lists under train, valid and test")
    splits = {name: _jsb_split(path, name, data[name][:limit], grid) for name in SPLIT_NAMES}
    return MusicSplits(**splits)


def _jsb_split(path: str | Path, split: str, pieces: list, grid: str) -> tuple[Piece, ...]:
    try:
        rolls = [frames_to_roll(frames) for frames in pieces]
    except RnnkitError as error:
        raise RnnkitError(f"{path}: {split}: {error}") from None
    except (TypeError, IndexError):
        raise RnnkitError(
            f"{path}: each {split} piece must be a list of time steps, each a list of MIDI pitches"
        ) from None
    spq = steps_per_quarter(grid)
    return tuple(roll_to_piece(roll, spq, f"{split}/{index}") for index, roll in enumerate(rolls))
