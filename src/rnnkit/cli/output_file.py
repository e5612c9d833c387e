"""The checks every command that writes one --out file makes before doing any work."""

from __future__ import annotations

from pathlib import Path

from rnnkit.errors import RnnkitError


def check_output_file(out: Path, force: bool, example: str) -> None:
    """Refuse a folder, an existing file (unless `force`) or a missing parent folder, each with
    one line that says what to do; `example` is a file name to suggest (e.g. "pred.csv")."""
    if out.is_dir():
        raise RnnkitError(f"--out {out} is a folder; give a file name such as {out / example}")
    if out.exists() and not force:
        raise RnnkitError(
            f"{out} already exists; choose another --out or add --force to replace it"
        )
    if not out.parent.is_dir():
        raise RnnkitError(
            f"the folder {out.parent} does not exist; create it or choose another --out"
        )
