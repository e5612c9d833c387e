"""Every flag that names a file or folder, walked from the parser itself: given a missing path, a
folder, an empty file or a binary file (and, when not root, an unreadable file), the command
exits with status 2 and exactly one `error:` line that names the path, with no traceback, and
every run folder and file stays byte-identical.

PATH_FLAGS lists, for each such flag, a command line that reaches it with everything else valid;
a path flag added to a command and missing here fails test_every_path_flag_is_listed.
"""

import argparse
import os
from pathlib import Path

import pytest

from conftest import SHARED_DATA, snapshot
from rnnkit import values as kinds
from rnnkit.cli.main import build_parser, main

TEXT = "It was the best of times, it was the worst of times.\n" * 20
TINY = ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--steps", "2", "--no-progress"]
JSB = SHARED_DATA / "jsb-chorales-quarter.json"

# (command words, flag or positional name) -> argv with {PATH} where the bad path goes; {RUN},
# {MUSIC}, {CLS} stand for the trained runs, {TXT}, {CSV} for good input files.
PATH_FLAGS = {
    ("train", "text", "FILE"): ["train", "text", "{PATH}", *TINY],
    ("train", "text", "--valid"): ["train", "text", "{TXT}", "--valid", "{PATH}", *TINY],
    ("train", "music", "--corpus"): ["train", "music", "--corpus", "{PATH}", *TINY],
    ("train", "melody", "--corpus"): ["train", "melody", "--corpus", "{PATH}", *TINY],
    ("train", "classify", "DATA"): ["train", "classify", "{PATH}", *TINY],
    ("train", "--resume"): ["train", "--resume", "{PATH}"],
    ("train", "--data"): ["train", "--resume", "{RUN}", "--data", "{PATH}", "--more-steps", "1"],
    ("sample", "RUN"): ["sample", "{PATH}"],
    ("evaluate", "RUN"): ["evaluate", "{PATH}", "{TXT}"],
    ("evaluate", "DATA"): ["evaluate", "{RUN}", "{PATH}"],
    ("evaluate", "--generated"): ["evaluate", "{MUSIC}", "--generated", "{PATH}"],
    ("predict", "RUN"): ["predict", "{PATH}", "{CSV}", "--out", "{OUT}.csv"],
    ("predict", "DATA"): ["predict", "{CLS}", "{PATH}", "--out", "{OUT}.csv"],
    ("generate", "RUN"): ["generate", "{PATH}", "--out", "{OUT}.mid"],
    ("generate", "--prime"): ["generate", "{MUSIC}", "--prime", "{PATH}", "--out", "{OUT}.mid"],
    ("export", "RUN"): ["export", "{PATH}", "--out", "{OUT}.onnx"],
    ("explain", "--params"): ["explain", "lstm", "--params", "{PATH}"],
    ("visualize", "RUN"): ["visualize", "{PATH}", "{TXT}", "--out", "{OUT}.html"],
    ("visualize", "TEXT"): ["visualize", "{RUN}", "{PATH}", "--out", "{OUT}.html"],
}
WRITTEN = {"--out", "--confusion"}  # paths written, not read: cli/outputs.py checks them


def path_flags() -> set[tuple[str, ...]]:
    """(command words..., flag or metavar) of every argument that takes a path to read."""
    found = set()

    def walk(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*words, name))
                continue
            names = action.option_strings or [action.metavar or action.dest]
            reads = action.type is kinds.path or (action.metavar or "").upper() in READ_METAVARS
            reads = reads or action.dest in ("source", "valid_file", "data", "resume")
            if reads and action.nargs != 0 and names[0] not in WRITTEN:  # (not a switch)
                found.add((*words, names[0]))

    walk(build_parser(), ())
    return found


READ_METAVARS = {"RUN", "FILE", "DATA", "DIR", "PIECE", "TEXT", "PATH", "FILE.JSON"}


def test_every_path_flag_is_listed():
    assert path_flags() == set(PATH_FLAGS)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runs")
    (folder / "text.txt").write_text(TEXT, encoding="utf-8")
    rows = [f"{label},{v},{v},{v}" for v in range(1, 9) for label in ("high", "low")]
    (folder / "data.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    made = {"TXT": folder / "text.txt", "CSV": folder / "data.csv"}
    assert main(["train", "text", str(made["TXT"]), *TINY, "--out", str(folder / "text")]) == 0
    assert main(["train", "classify", str(made["CSV"]), *TINY, "--out", str(folder / "cls")]) == 0
    made |= {"RUN": folder / "text", "CLS": folder / "cls"}
    if JSB.is_file():
        music = ["train", "music", "--corpus", str(JSB), "--limit", "6", *TINY]
        assert main([*music, "--out", str(folder / "music")]) == 0
        made["MUSIC"] = folder / "music"
    return made


def bad_paths(folder: Path) -> dict[str, Path]:
    (folder / "a-folder").mkdir(parents=True)
    (folder / "empty.bin").write_bytes(b"")
    (folder / "binary.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01")
    os.mkfifo(folder / "pipe.txt")  # (reading one waited forever for a writer)
    (folder / "loop").symlink_to(folder / "loop")  # (Path.resolve raised RuntimeError)
    made = {
        "missing": folder / "missing",
        "folder": folder / "a-folder",
        "empty": folder / "empty.bin",
        "binary": folder / "binary.bin",
        "pipe": folder / "pipe.txt",
        "link loop": folder / "loop",
        "name too long": folder / ("a" * 300 + ".txt"),  # (an OSError traceback)
    }
    if os.geteuid() != 0:  # root reads any file: an unreadable file can only be tested as a user
        (folder / "locked.txt").write_text("secret")
        (folder / "locked.txt").chmod(0)
        made["unreadable"] = folder / "locked.txt"
    return made


@pytest.mark.parametrize("flag", sorted(PATH_FLAGS), ids=[" ".join(f) for f in sorted(PATH_FLAGS)])
def test_a_bad_path_is_one_line_naming_it(flag, runs, tmp_path, capsys, monkeypatch):
    if "{MUSIC}" in PATH_FLAGS[flag] and "MUSIC" not in runs:
        pytest.skip(f"{JSB} is not present")
    monkeypatch.chdir(tmp_path)  # a command that wrongly went on would write runs/ here
    before = {name: snapshot(path) for name, path in runs.items() if path.is_dir()}
    for kind, path in bad_paths(tmp_path / "bad").items():
        values = {**{k: str(v) for k, v in runs.items()}, "PATH": str(path), "OUT": "out"}
        argv = [word.format(**values) for word in PATH_FLAGS[flag]]
        assert main(argv) == 2, (kind, argv)
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        err = [line for line in err if not line.startswith("reading music")]  # a progress bar
        assert len(err) == 1 and err[0].startswith("error: "), (kind, err)
        assert str(path) in err[0] or path.name in err[0], (kind, err[0])
    assert {name: snapshot(path) for name, path in runs.items() if path.is_dir()} == before
    assert not (tmp_path / "runs").exists() and not list(tmp_path.glob("out.*"))


def test_an_out_in_a_folder_it_cannot_write_is_refused_before_the_work(
    runs, tmp_path, capsys, monkeypatch
):
    """(As root every folder is writable: the check is made to see one that is not.)"""
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real(p, mode))
    assert main(["sample", str(runs["RUN"]), "--out", str(locked / "s.txt")]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot write in the folder {locked}; make it writable or choose another --out\n"
    )


@pytest.mark.parametrize("kind", ["link", "dangling link", "pipe"])
def test_an_out_that_is_not_a_regular_file_is_refused_and_kept(kind, tmp_path, capsys):
    """The write replaces a file whole: a link or a pipe would be replaced, not written to."""
    (tmp_path / "text.txt").write_text(TEXT)
    target = tmp_path / "target.txt"
    target.write_text("mine")
    out = tmp_path / "out.txt"
    if kind == "pipe":
        os.mkfifo(out)
    else:
        out.symlink_to(target if kind == "link" else tmp_path / "gone.txt")
    run = tmp_path / "run"
    assert main(["train", "text", str(tmp_path / "text.txt"), "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--length", "5", "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out} is not a regular file") and err.count("\n") == 1
    assert (out.is_fifo() if kind == "pipe" else out.is_symlink()) and target.read_text() == "mine"


def test_compare_refuses_a_folder_it_cannot_make_before_any_work(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("mine")
    assert main(["compare", "--quick", "--out", str(tmp_path / "file.txt" / "cmp")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'file.txt'} is a file; give a folder where one can be made" in err
    assert err.count("\n") == 1 and (tmp_path / "file.txt").read_text() == "mine"
