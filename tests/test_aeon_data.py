"""rnnkit.data.series.aeon_data: the classification datasets aeon ships, found without
importing aeon; an unknown name or a missing aeon is one line saying what to do."""

import importlib.util

import pytest

from rnnkit.data.series.aeon_data import aeon_dataset, aeon_names, declares_labels
from rnnkit.errors import RnnkitError

pytest.importorskip("aeon")


def test_the_names_are_the_classification_datasets_with_both_parts():
    names = aeon_names()
    assert {"GunPoint", "ArrowHead", "BasicMotions", "JapaneseVowels", "UnitTest"} <= set(names)
    assert "Covid3Month" not in names  # a regression problem (@targetLabel true)
    for name in names:
        folder = aeon_dataset(name)
        assert (folder / f"{name}_TRAIN.ts").is_file() and (folder / f"{name}_TEST.ts").is_file()


def test_an_unknown_name_lists_the_names_that_exist():
    with pytest.raises(RnnkitError) as error:
        aeon_dataset("GunPointAgeSpan")
    message = str(error.value)
    assert "\n" not in message
    assert "no classification dataset 'GunPointAgeSpan'" in message
    assert all(name in message for name in aeon_names())


def test_without_aeon_one_line_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    with pytest.raises(RnnkitError, match=r"install it with pip install 'rnnkit\[series\]'"):
        aeon_names()


def test_declares_labels_reads_the_header_only(tmp_path):
    (tmp_path / "c.ts").write_text("@classLabel true a b\n@data\n1:a\n")
    (tmp_path / "r.ts").write_text("@targetLabel true\n@data\n1:0.5\n")
    assert declares_labels(tmp_path / "c.ts")
    assert not declares_labels(tmp_path / "r.ts")
    assert not declares_labels(tmp_path / "missing.ts")
