"""The finished pieces of a compare study, kept as they finish so that an interrupted study goes
on where it stopped (`rnnkit compare ... --resume`), and removed once its report is written.

    OUT/pieces/settings.json               the study's settings (CompareConfig), written first
    OUT/pieces/TASK-lagL-CELL-seedS.json   one finished piece: its memory result and gradients

Each piece is seeded on its own (compare.study_one), so a resumed study computes the numbers the
uninterrupted one would; only the training seconds differ. A piece file that cannot be read back
is trained again, never trusted.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.files import read_json, write_json
from rnnkit.studies.compare import (
    CompareConfig,
    GradientResult,
    MemoryResult,
    Outcome,
    Piece,
    pieces,
)
from rnnkit.values import config_from_json

FOLDER = "pieces"
SETTINGS = "settings.json"


class SavedPieces:
    """OUT/pieces/ of one study: `start` it, `load` what an earlier run finished, `save` each
    piece as it finishes."""

    def __init__(self, out: Path, config: CompareConfig) -> None:
        self.folder = Path(out) / FOLDER
        self.config = config

    def start(self) -> None:
        """A new study here: the pieces of any earlier one are removed, the settings written."""
        self.remove()
        self.folder.mkdir(parents=True)
        write_json(self.folder / SETTINGS, _settings(self.config))

    def load(self) -> dict[Piece, Outcome]:
        """The pieces an earlier run of the same study finished; RnnkitError when the folder
        holds no study, or one with other settings."""
        path = self.folder / SETTINGS
        if not holds_study(self.folder.parent):
            raise RnnkitError(
                f"{self.folder.parent} holds no compare study to resume ({path} is missing); "
                "run without --resume",
                f"{self.folder.parent} không có nghiên cứu compare nào để tiếp tục (thiếu "
                f"{path}); hãy chạy không có --resume",
            )
        try:
            saved = read_json(path, "compare settings")
        except RnnkitError:
            raise RnnkitError(
                f"{path} is damaged, so the study cannot go on; start it again with --force "
                "(without --resume), or give another --out",
                f"{path} bị hỏng nên không thể tiếp tục nghiên cứu; hãy chạy lại từ đầu với "
                "--force (không có --resume), hoặc chọn --out khác",
            ) from None
        changed = [k for k, v in _settings(self.config).items() if saved.get(k) != v]
        if changed:
            raise RnnkitError(
                f"the study in {self.folder.parent} ran with other settings ({', '.join(changed)}"
                " differ); give the flags it ran with, or run without --resume",
                f"nghiên cứu trong {self.folder.parent} đã chạy với thiết lập khác (khác ở "
                f"{', '.join(changed)}); hãy đưa đúng các tùy chọn lúc đó, hoặc chạy không có "
                "--resume",
            )
        found = {}
        for piece in pieces(self.config):
            outcome = self._read(piece)
            if outcome is not None:
                found[piece] = outcome
        return found

    def remove(self) -> None:
        """The study is done and its report written: the pieces go (a write a kill cut short
        too)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def save(self, piece: Piece, outcome: Outcome) -> None:
        memory, gradients = outcome
        record = {"memory": asdict(memory), "gradients": [asdict(g) for g in gradients]}
        write_json(self.folder / _name(piece), record)

    def _read(self, piece: Piece) -> Outcome | None:
        """The piece's saved outcome, or None when it is missing or not a piece of this study."""
        path = self.folder / _name(piece)
        if not path.is_file():
            return None
        try:
            record = read_json(path, "compare piece")
            memory = config_from_json(MemoryResult, record.get("memory"), str(path))
            gradients = [
                config_from_json(GradientResult, g, str(path)) for g in record.get("gradients", [])
            ]
        except (RnnkitError, TypeError):  # damaged: trained again
            return None
        same = (memory.task, memory.lag, memory.cell, memory.seed)
        norms = [n for g in gradients for n in g.norms]
        if same != (piece.task, piece.lag, piece.cell, piece.seed) or not all(
            type(n) in (int, float) for n in norms
        ):
            return None
        return memory, gradients


def holds_study(out: Path) -> bool:
    """Does the folder `out` hold a study that was started and not finished?"""
    return (Path(out) / FOLDER / SETTINGS).is_file()


def _settings(config: CompareConfig) -> dict[str, Any]:
    """The settings as they read back from JSON (tuples become lists)."""
    return json.loads(json.dumps(asdict(config)))


def _name(piece: Piece) -> str:
    return f"{piece.task}-lag{piece.lag}-{piece.cell}-seed{piece.seed}.json"
