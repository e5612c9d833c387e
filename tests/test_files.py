"""The one writer: a file is written whole or not at all; JSON is read back with checks."""

import os
from unittest import mock

import pytest
import torch

from rnnkit import files
from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import save_weights


def test_a_crash_while_writing_keeps_the_old_file(tmp_path):
    path = tmp_path / "config.json"
    files.write_file(path, "old")
    disk_full = mock.patch("os.replace", side_effect=OSError(28, "No space left on device"))
    with disk_full, pytest.raises(RnnkitError, match=r"cannot write .*No space left"):
        files.write_file(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary file left


@pytest.mark.parametrize(
    ("number", "advice"),
    [
        (28, "; free some disk space and try again"),
        (13, "; make the folder writable and try again"),
        (5, "; check the disk and the folder and try again"),
    ],
)
def test_a_failed_write_says_what_to_do_about_its_cause(tmp_path, number, advice):
    failing = mock.patch("os.replace", side_effect=OSError(number, os.strerror(number)))
    with failing, pytest.raises(RnnkitError) as raised:
        files.write_file(tmp_path / "a.txt", "text")
    assert f"({os.strerror(number)}){advice}" in str(raised.value)


def test_weights_written_into_a_removed_folder_give_the_same_one_line(tmp_path):
    """safetensors writes the file itself, and raises its own error type for I/O."""
    with pytest.raises(RnnkitError) as raised:
        save_weights(tmp_path / "gone" / "model.safetensors", torch.nn.Linear(2, 2))
    assert str(raised.value).startswith(
        f"cannot write {tmp_path / 'gone' / 'model.safetensors'} (No such file or directory); "
        "its folder is gone: make it and try again"
    )


def test_a_failing_writer_leaves_nothing_behind(tmp_path):
    def half_then_fail(temp):
        temp.write_bytes(b"half")
        raise ValueError("the library failed")

    with pytest.raises(ValueError, match="library failed"):
        files.write_with(tmp_path / "plot.png", half_then_fail)
    assert list(tmp_path.iterdir()) == []


def test_the_new_file_is_flushed_before_it_replaces_the_old(tmp_path):
    path = tmp_path / "a.txt"
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    with (
        mock.patch("os.fsync", side_effect=lambda fd: calls.append("fsync") or real_fsync(fd)),
        mock.patch(
            "os.replace", side_effect=lambda a, b: calls.append("replace") or real_replace(a, b)
        ),
    ):
        files.write_file(path, "text")
    assert calls == ["fsync", "replace"] and path.read_text() == "text"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{", "not a readable"), (b"[1, 2]", "not a JSON object"), (b"\xff\xfe", "not a readable")],
)
def test_read_json_refuses_what_is_not_a_json_object(tmp_path, content, message):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(RnnkitError, match=message):
        files.read_json(path, "training state")


def test_read_json_refuses_a_file_too_large_to_be_ours(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_JSON_BYTES", 10)
    path = tmp_path / "vocab.json"
    path.write_text('{"tokens": ["a", "b", "c"]}')
    with pytest.raises(RnnkitError, match="more than any vocabulary"):
        files.read_json(path, "vocabulary")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("hello, thế giới".encode("utf-16"), "is UTF-16 text; re-save it as UTF-8"),
        ("hello".encode("utf-16-le"), "is UTF-16 text"),  # no byte-order mark
        ("hello".encode("utf-32"), "is UTF-32 text"),
        (b"GIF89a\x00\x01", r"looks binary \(NUL byte at offset 6\); give text"),
        (b"caf\xe9", r"not valid UTF-8 \(byte 0xe9 at offset 3\)"),
    ],
)
def test_text_files_in_other_encodings_or_binary_get_the_right_line(tmp_path, data, message):
    path = tmp_path / "file.txt"
    path.write_bytes(data)
    with pytest.raises(RnnkitError, match=message):
        files.read_text_file(path, "give text")


def test_utf8_text_is_read_without_its_byte_order_mark(tmp_path):
    path = tmp_path / "file.txt"
    path.write_bytes("\ufeffxin chào".encode())
    assert files.read_text_file(path, "give text") == "xin chào"


def test_every_file_gets_the_mode_of_a_new_file(tmp_path):
    """safetensors writes 0600 files of its own; the weights should be readable as the rest."""
    weights, text = tmp_path / "model.safetensors", tmp_path / "a.txt"
    save_weights(weights, torch.nn.Linear(2, 2))
    files.write_file(text, "text")
    assert weights.stat().st_mode & 0o777 == text.stat().st_mode & 0o777 == files.NEW_FILE_MODE
