"""rnnkit.data.series.ts_format: the UCR/UEA archive's .ts files, against aeon's own reader on
the files aeon ships, and every malformed file as one line naming the place."""

import numpy as np
import pytest

from rnnkit.data.series import load_series
from rnnkit.data.series.aeon_data import aeon_data_folder
from rnnkit.data.series.ts_format import load_ts
from rnnkit.errors import RnnkitError

HEADER = "@problemName Tiny\n@univariate {uni}\n@classLabel true a b\n@data\n"


def write(tmp_path, text: str, name: str = "tiny.ts"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["GunPoint", "JapaneseVowels", "PickupGestureWiimoteZ"])
def test_the_files_aeon_ships_read_as_aeon_reads_them(name):
    """Univariate, multivariate with unequal lengths, univariate with unequal lengths."""
    data = pytest.importorskip("aeon.datasets")
    path = aeon_data_folder() / name / f"{name}_TRAIN.ts"
    X, y = data.load_from_ts_file(str(path))
    ours = load_ts(path)
    assert ours.labels == [str(label) for label in y]
    assert len(ours.sequences) == len(X)
    for series, theirs in zip(ours.sequences, X, strict=True):
        np.testing.assert_allclose(series, np.asarray(theirs, dtype=np.float64).T, rtol=1e-6)


def test_channels_labels_comments_missing_values_and_shorter_series(tmp_path):
    text = (
        "# a comment\n% an ARFF-style comment\n@problemName Two\n@univariate false\n"
        "@dimensions 2\n@classLabel true up down\n@data\n"
        "1,?,3:4,5,6:up\n"
        "\n"
        "7,8,NaN,NaN:9,10,?,?:down\n"
    )
    data = load_series(write(tmp_path, text))
    assert data.features == ["dim_0", "dim_1"]
    assert data.labels == ["up", "down"]
    assert data.ids == ["8", "10"]  # line numbers, as in wide CSV files
    np.testing.assert_array_equal(data.sequences[0], [[1, 4], [1, 5], [3, 6]])
    np.testing.assert_array_equal(data.sequences[1], [[7, 9], [8, 10]])


def test_an_unlabelled_file_is_read_for_prediction(tmp_path):
    text = "@problemName U\n@univariate true\n@classLabel false\n@data\n1,2,3\n4,5\n"
    data = load_series(write(tmp_path, text))
    assert data.labels == [None, None] and not data.is_labelled
    assert [len(s) for s in data.sequences] == [3, 2] and data.features == ["value"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@problemName X\n@classLabel true a b\n1,2:a\n", "line 3 comes before @data"),
        ("@problemName X\n@classLabel true a b\n", "has no @data line"),
        ("@problemName X\n@colour blue\n@data\n1:a\n", "line 2: unknown header tag @colour"),
        ("@classLabel maybe\n@data\n1:a\n", "@classLabel needs true"),
        ("@classLabel true\n@data\n1:a\n", "@classLabel true needs the labels"),
        ("@univariate yes\n@data\n1\n", "@univariate needs true or false"),
        ("@dimensions two\n@data\n1\n", "@dimensions needs a positive whole number"),
        ("@classLabel false\n@data 3\n1\n", "@data stands alone"),
        ("@targetLabel true\n@data\n1,2:0.5\n", "is a regression problem"),
        ("@timeStamps true\n@data\n(0,1),(1,2):a\n", "time-stamped values"),
    ],
)
def test_a_malformed_header_is_one_line_naming_it(tmp_path, text, message):
    with pytest.raises(RnnkitError, match=message):
        load_ts(write(tmp_path, text))


@pytest.mark.parametrize(
    ("body", "uni", "message"),
    [
        ("1,2:3,4:a\n", "true", "line 5 has 2 channels but the header says 1"),
        ("1,2:a\n1,2:3,4:b\n", "false", "line 6 has 2 channels but the first series has 1"),
        ("1,2,3:4,5:a\n", "false", "channels have different lengths"),
        ("1,2:c\n", "true", "label 'c', which the header's @classLabel does not list"),
        ("1,x,3:a\n", "true", "line 5, channel 1: 'x' is not a number"),
        ("1,inf:a\n", "true", "infinite"),
        ("1,5e38:a\n", "true", "line 5, channel 1: a value is beyond the range of 32-bit"),
        ("?,?:a\n", "true", "line 5 has no values"),
        ("", "true", "no series after @data"),
    ],
)
def test_bad_series_are_one_line_naming_the_line(tmp_path, body, uni, message):
    header = HEADER.format(uni=uni)
    if uni == "false":
        header = "@problemName Tiny\n@classLabel true a b\n@data\n\n"  # no channel count given
    with pytest.raises(RnnkitError, match=message):
        load_ts(write(tmp_path, header + body))


def test_a_folder_reads_ts_files_beside_csv_files(tmp_path):
    write(tmp_path, HEADER.format(uni="true") + "1,2:a\n3,4,5:b\n", "one.ts")
    write(tmp_path, "a,1,2\nb,3\n", "two.csv")
    data = load_series(tmp_path)
    assert data.ids == ["one.ts:5", "one.ts:6", "two.csv:1", "two.csv:2"]
    assert data.labels == ["a", "b", "a", "b"]
