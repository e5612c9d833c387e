"""rnnkit.data.series: CSV layouts, missing values, labels, scaling, splits, batches, errors."""

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.series import (
    EXAMPLE,
    WAVEFORMS,
    FeatureScaler,
    LabelVocabulary,
    fill_missing,
    load_series,
    make_waveforms,
    open_series,
    stratified_split,
    write_predictions,
    write_series,
)
from rnnkit.data.series.scaler import is_normalised, normalise_each, per_series_is_better
from rnnkit.data.series.split import stratified_folds
from rnnkit.errors import RnnkitError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ----- the wide (UCR) layout -----------------------------------------------------------------
def test_wide_rows_are_ragged_and_keep_their_labels(tmp_path):
    path = write(tmp_path / "a.csv", "walk,1,2,3,4\nrun,5,6,,\nwalk,7,NaN\n\nrun,8,9,10\n")
    data = load_series(path)
    assert data.labels == ["walk", "run", "walk", "run"]
    assert [len(s) for s in data.sequences] == [4, 2, 1, 3]
    assert data.features == ["value"]
    np.testing.assert_array_equal(data.sequences[3][:, 0], [8, 9, 10])
    assert data.ids == ["1", "2", "3", "5"]  # line numbers, blank lines skipped


def test_wide_missing_values_are_forward_filled_and_leading_ones_back_filled(tmp_path):
    path = write(tmp_path / "a.csv", "a,,2,,,5,?\nb,1,NA,3\n")
    data = load_series(path)
    np.testing.assert_array_equal(data.sequences[0][:, 0], [2, 2, 2, 2, 5])  # trailing ? ends it
    np.testing.assert_array_equal(data.sequences[1][:, 0], [1, 1, 3])


def test_tab_separated_ucr_file(tmp_path):
    path = write(tmp_path / "Coffee_TRAIN.tsv", "1\t0.5\t0.25\n2\t-1\t3\n")
    data = load_series(path)
    assert data.labels == ["1", "2"]
    np.testing.assert_array_equal(data.sequences[1][:, 0], [-1, 3])


def test_empty_label_cell_means_unlabelled(tmp_path):
    data = load_series(write(tmp_path / "a.csv", ",1,2\nx,3,4\n"))
    assert data.labels == [None, "x"]
    assert not data.is_labelled and data.subset([1]).is_labelled
    with pytest.raises(RnnkitError, match="has no label"):
        data.known_labels()


# ----- the long layout -----------------------------------------------------------------------
LONG = """id,time,x,y,label
s2,1,10,,run
s1,0,1,2,walk
s2,0,,20,run
s1,2,3,4,walk
s1,1,,,walk
"""


def test_long_layout_is_detected_grouped_sorted_by_time_and_filled(tmp_path):
    data = load_series(write(tmp_path / "long.csv", LONG))
    assert data.features == ["x", "y"]
    assert data.ids == ["s2", "s1"]  # first appearance order
    assert data.labels == ["run", "walk"]
    # s2: time 0 is (?, 20), time 1 is (10, ?): x back-filled from t=1, y forward-filled from t=0
    np.testing.assert_array_equal(data.sequences[0], [[10, 20], [10, 20]])
    # s1: time 1 is missing entirely and takes time 0's values
    np.testing.assert_array_equal(data.sequences[1], [[1, 2], [1, 2], [3, 4]])


def test_long_header_names_match_in_any_case(tmp_path):
    data = load_series(write(tmp_path / "long.csv", "ID,Time,x,Label\na,0,1,u\nb,0,2,v\n"))
    assert data.labels == ["u", "v"] and data.features == ["x"]


def test_a_wide_row_labelled_id_is_not_a_header(tmp_path):
    data = load_series(write(tmp_path / "a.csv", "id,1,2\nother,3,4\n"))
    assert data.labels == ["id", "other"]


def test_long_layout_without_label_column_is_unlabelled(tmp_path):
    data = load_series(write(tmp_path / "p.csv", "id,time,x\na,0,1\na,1,2\n"))
    assert data.labels == [None]
    np.testing.assert_array_equal(data.sequences[0][:, 0], [1, 2])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,time,x,label\na,0,1,u\na,1,2,v\n", "has label 'v' here but 'u' above"),
        ("id,time,x,label\na,0,1,u\na,0,2,u\n", "repeats time 0"),
        ("id,time,x,label\na,0,,u\nb,0,1,u\n", "sequence a: feature 1 has no values"),
        ("id,time,x,label\na,0,1\n", "has 3 cells but the header has 4"),
        ("id,time,x,label\na,,1,u\n", "the time cell is empty"),
        ("id,time,x,label\n,0,1,u\n", "the id cell is empty"),
        ("id,time,label\na,0,u\n", "no feature column"),
        ("id,x,label\na,0,u\n", "no 'time' column"),
        ("id,time,x,label\n", "header but no rows"),
        ("id,time,x,label\na,0,,u\na,1,,u\n", "no numeric values"),
    ],
)
def test_long_layout_errors(tmp_path, text, message):
    with pytest.raises(RnnkitError, match=message):
        load_series(write(tmp_path / "bad.csv", text))


def test_write_then_read_round_trips_both_layouts(tmp_path):
    data = make_waveforms(per_class=3, min_length=5, max_length=9, seed=1)
    for layout in ("wide", "long"):
        path = tmp_path / f"{layout}.csv"
        write_series(data, path, layout)
        again = load_series(path)
        assert again.labels == data.labels
        for a, b in zip(again.sequences, data.sequences, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_wide_layout_refuses_multivariate_data(tmp_path):
    data = load_series(write(tmp_path / "long.csv", LONG))
    with pytest.raises(RnnkitError, match="long layout"):
        write_series(data, tmp_path / "out.csv", "wide")


# ----- folders -------------------------------------------------------------------------------
def test_folder_reads_every_csv_in_name_order_and_prefixes_ids(tmp_path):
    write(tmp_path / "b.csv", "y,3,4\n")
    write(tmp_path / "a.csv", "x,1,2\n")
    write(tmp_path / "notes.txt", "ignored")
    data = load_series(tmp_path)
    assert data.ids == ["a.csv:1", "b.csv:1"]
    assert data.labels == ["x", "y"]


def test_folder_needs_the_same_features_in_every_file(tmp_path):
    write(tmp_path / "a.csv", "x,1,2\n")
    write(tmp_path / "b.csv", LONG)
    with pytest.raises(RnnkitError, match="same feature columns"):
        load_series(tmp_path)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(RnnkitError, match=r"no \.csv, \.tsv or \.ts"):
        load_series(tmp_path)


# ----- bad files -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n \n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary"),
        (b"a,1,\xff\xfe\n", "not valid UTF-8"),
        (b"a\nb\n", "no numeric values"),
        (b"a,1,2\nb\n", "line 2 has no values"),
        (b"a,1,two,3\n", r"line 1, column 3: 'two' is not a number"),
        (b"label,v1,v2\na,1,2\n", r"line 1 looks like a header \(label, v1, v2, ...\)"),
        (b"a,1,2\nb,3,x\n", r"line 2, column 3: 'x' is not a number"),
        (b"a,1,inf\n", "infinite"),
        (b"a,1,-1e300\n", r"column 3: '-1e300' is beyond the range of 32-bit floats"),
        (b'a,1,"2\n', "line 1 is not valid CSV"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(RnnkitError, match=message) as error:
        load_series(path)
    assert "\n" not in str(error.value)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(RnnkitError, match="does not exist"):
        load_series(tmp_path / "nope.csv")
    with pytest.raises(RnnkitError, match="unknown series format"):
        load_series(tmp_path, format="parquet")


def test_fill_missing_matches_a_hand_filled_array():
    nan = np.nan
    values = np.array([[nan, 1.0], [2.0, nan], [nan, nan], [5.0, 4.0]])
    expected = [[2, 1], [2, 1], [2, 1], [5, 4]]
    np.testing.assert_array_equal(fill_missing(values, "here"), expected)


# ----- labels --------------------------------------------------------------------------------
def test_label_vocabulary_orders_numbers_by_value_and_round_trips(tmp_path):
    data = load_series(write(tmp_path / "a.csv", "10,1\n2,1\n-1,1\n2,3\n"))
    vocab = LabelVocabulary.fit(data)
    assert vocab.labels == ("-1", "2", "10")
    assert vocab.encode(data).tolist() == [2, 1, 0, 1]
    assert vocab.decode([0, 2]) == ["-1", "10"]
    vocab.save(tmp_path / "vocab.json")
    assert LabelVocabulary.load(tmp_path / "vocab.json") == vocab


def test_one_class_only_is_refused(tmp_path):
    data = load_series(write(tmp_path / "a.csv", "same,1,2\nsame,3\n"))
    with pytest.raises(RnnkitError, match="one class only \\('same'\\)"):
        LabelVocabulary.fit(data)


def test_unknown_label_at_predict_time_is_refused(tmp_path):
    train = load_series(write(tmp_path / "train.csv", "cat,1\ndog,2\n"))
    vocab = LabelVocabulary.fit(train)
    test = load_series(write(tmp_path / "test.csv", "cat,1\nbird,2\n"))
    with pytest.raises(RnnkitError, match=r"sequence 2 .* label 'bird'.*knows cat, dog"):
        vocab.encode(test)


# ----- scaling, splitting, batching ----------------------------------------------------------
def test_scaler_uses_every_training_step_and_round_trips(tmp_path):
    train = [np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[5.0, 5.0]])]
    scaler = FeatureScaler.fit(train)
    # feature 0: steps 1, 3, 5 -> mean 3, population std sqrt(8/3); feature 1 is constant
    np.testing.assert_allclose(scaler.mean, [3.0, 5.0])
    np.testing.assert_allclose(scaler.std, [np.sqrt(8 / 3), 1.0])
    scaler.save(tmp_path / "scaler.json")
    again = FeatureScaler.load(tmp_path / "scaler.json")
    out = again.transform([np.array([[3.0 + np.sqrt(8 / 3), 7.0]], dtype=np.float32)])
    np.testing.assert_allclose(out[0], [[1.0, 2.0]], rtol=1e-6)


def test_scaler_refuses_a_different_number_of_features():
    scaler = FeatureScaler.fit([np.zeros((3, 2))])
    with pytest.raises(RnnkitError, match="1 feature columns but the model was trained on 2"):
        scaler.transform([np.zeros((3, 1), dtype=np.float32)])


def test_stratified_split_keeps_class_proportions_and_is_deterministic():
    labels = ["a"] * 10 + ["b"] * 4 + ["c"]
    train, valid = stratified_split(labels, 0.25, seed=3)
    assert sorted(train + valid) == list(range(15))
    counts = {c: sum(labels[i] == c for i in valid) for c in "abc"}
    assert counts == {"a": 2, "b": 1, "c": 0}  # round(2.5) = 2, round(1) = 1, c too small
    assert stratified_split(labels, 0.25, seed=3) == (train, valid)
    assert stratified_split(labels, 0.25, seed=4) != (train, valid)


def test_write_predictions(tmp_path):
    write_predictions(tmp_path / "p.csv", ["a", "b"], ["cat", "dog"])
    assert (tmp_path / "p.csv").read_text().splitlines() == ["id,prediction", "a,cat", "b,dog"]


# ----- the built-in example ------------------------------------------------------------------
def test_waveforms_are_seeded_balanced_and_ragged():
    data = make_waveforms(per_class=5, min_length=10, max_length=20, seed=7)
    assert sorted(set(data.labels)) == sorted(WAVEFORMS)
    assert all(data.labels.count(w) == 5 for w in WAVEFORMS)
    assert all(10 <= len(s) <= 20 for s in data.sequences)
    assert len({len(s) for s in data.sequences}) > 1
    again = make_waveforms(per_class=5, min_length=10, max_length=20, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(data.sequences, again.sequences, strict=True))
    other = make_waveforms(per_class=5, min_length=10, max_length=20, seed=8)
    assert not np.array_equal(data.sequences[0], other.sequences[0])


def test_square_waves_take_two_levels_without_noise():
    data = make_waveforms(per_class=2, noise=0.0, seed=0)
    for label, sequence in zip(data.labels, data.sequences, strict=True):
        if label == "square":
            assert len(np.unique(np.round(sequence, 5))) <= 3  # +A, -A (and 0 at sin = 0)


def test_open_series_names_the_example():
    assert open_series(EXAMPLE).source == EXAMPLE


def test_stratified_folds_deal_each_class_round_the_folds():
    labels = ["a"] * 7 + ["b"] * 5 + ["c"] * 2
    folds = stratified_folds(labels, 3, seed=0)
    assert folds == stratified_folds(labels, 3, seed=0)
    assert folds != stratified_folds(labels, 3, seed=1)
    sizes = [folds.count(f) for f in range(3)]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 14
    for label in "abc":
        counts = [sum(1 for f, x in zip(folds, labels) if f == k and x == label) for k in range(3)]
        assert max(counts) - min(counts) <= 1  # each class in proportion, give or take one


def test_each_series_is_z_normalised_on_its_own_and_recognised_as_such():
    rng = np.random.default_rng(0)
    raw = [rng.normal(5, 3, size=(n, 2)).astype(np.float32) for n in (4, 9)]
    raw[1][:, 1] = 7.0  # a constant feature becomes 0
    each = normalise_each(raw)
    np.testing.assert_allclose(each[0].mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(each[0].std(axis=0), 1, atol=1e-5)
    assert np.all(each[1][:, 1] == 0)
    assert not is_normalised(raw) and is_normalised(each[:1])
    sample = [(s - s.mean(axis=0)) / s.std(axis=0, ddof=1) for s in raw[:1]]  # MATLAB's zscore
    assert is_normalised(sample)


def test_auto_normalises_each_series_where_they_are_or_their_scales_span_orders_of_magnitude():
    rng = np.random.default_rng(1)
    levels = [rng.normal(level, 1, size=(20, 1)) for level in (-3, 3) * 10]  # the level: signal
    assert not per_series_is_better(levels)
    assert per_series_is_better(normalise_each(levels))
    counts = [rng.normal(0, scale, size=(20, 1)) for scale in np.geomspace(1, 1e4, 20)]
    assert per_series_is_better(counts)
