"""rnnkit.data.series.sources: files, folders, archive folders with train and test parts,
aeon:NAME, and a part named where one is needed."""

import pytest

from rnnkit.data.series import canonical, has_test_part, open_series
from rnnkit.data.series.sources import archive_parts, locate
from rnnkit.errors import RnnkitError


def archive(folder, suffix=".tsv"):
    """An archive folder NAME/ with NAME_TRAIN and NAME_TEST files of two classes."""
    folder.mkdir()
    sep = "\t" if suffix == ".tsv" else ","
    for part, rows in (("TRAIN", ["1,1,2,3", "2,3,2,1"]), ("TEST", ["2,3,3,1", "1,0,1,2", "1,1"])):
        lines = [row.replace(",", sep) for row in rows]
        (folder / f"{folder.name}_{part}{suffix}").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_an_archive_folder_has_a_train_and_a_test_part(tmp_path, suffix):
    folder = archive(tmp_path / "Tiny", suffix)
    assert open_series(folder, part="train").labels == ["1", "2"]
    assert open_series(folder, part="test").labels == ["2", "1", "1"]
    assert has_test_part(folder)
    with pytest.raises(RnnkitError, match=r"has a train and a test part; .*Tiny_TEST"):
        open_series(folder)


def test_ts_files_come_first_where_a_folder_holds_several_formats(tmp_path):
    folder = archive(tmp_path / "Tiny")
    for part in ("TRAIN", "TEST"):
        (folder / f"Tiny_{part}.ts").write_text("@classLabel true 7\n@data\n1,2:7\n")
    assert archive_parts(folder)["train"].suffix == ".ts"
    assert open_series(folder, part="train").labels == ["7"]


def test_a_plain_file_or_folder_is_its_own_train_part_and_has_no_test_part(tmp_path):
    (tmp_path / "data.csv").write_text("a,1,2\nb,3,4\n")
    assert open_series(tmp_path / "data.csv", part="train").labels == ["a", "b"]
    assert open_series(tmp_path, part="train").ids == ["data.csv:1", "data.csv:2"]
    assert not has_test_part(tmp_path / "data.csv")
    with pytest.raises(RnnkitError, match="has no test part"):
        open_series(tmp_path / "data.csv", part="test")


def test_aeon_names_a_dataset_and_its_parts():
    pytest.importorskip("aeon")
    assert len(open_series("aeon:UnitTest", part="train")) == 20
    assert len(open_series("aeon:UnitTest/test")) == 22
    assert len(open_series("aeon:unittest/train")) == 20  # any case
    assert has_test_part("aeon:UnitTest") and not has_test_part("aeon:UnitTest/test")
    with pytest.raises(RnnkitError, match=r"name the one to read, e\.g\. aeon:UnitTest/test"):
        open_series("aeon:UnitTest")
    with pytest.raises(RnnkitError, match="the part after '/' is train or test, not 'valid'"):
        locate("aeon:UnitTest/valid")


def test_a_run_saves_paths_absolute_and_names_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert canonical("data.csv") == str(tmp_path / "data.csv")
    assert canonical("aeon:GunPoint") == "aeon:GunPoint"
    assert canonical("example:waveforms") == "example:waveforms"
