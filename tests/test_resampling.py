"""Resampling series to one length (data/series/resampling.py), checked against numpy's interp."""

import numpy as np
import pytest

from rnnkit.data.series.resampling import (
    AS_READ,
    AUTO_STEPS,
    fit_resample,
    resample_each,
    resampled,
)


@pytest.mark.parametrize("length, steps", [(2, 5), (7, 3), (29, 136), (361, 136), (50, 50)])
def test_each_feature_is_interpolated_as_numpy_interp_does(length, steps):
    series = np.random.default_rng(length).standard_normal((length, 3)).astype(np.float32)
    positions = np.linspace(0, length - 1, steps)
    expected = np.stack([np.interp(positions, np.arange(length), series[:, d]) for d in range(3)])
    out = resampled(series, steps)
    assert out.shape == (steps, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected.T, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out[[0, -1]], series[[0, -1]])  # the ends are kept


def test_a_series_of_one_step_is_repeated_and_one_of_n_steps_is_unchanged():
    np.testing.assert_array_equal(resampled(np.array([[2.0, -1.0]]), 4), [[2.0, -1.0]] * 4)
    series = np.arange(12, dtype=np.float32).reshape(6, 2) ** 2
    np.testing.assert_array_equal(resampled(series, 6), series)


def test_a_line_stays_the_same_line_at_any_length():
    line = (3.0 + 0.5 * np.arange(40, dtype=np.float32))[:, None]
    np.testing.assert_allclose(resampled(line, 9)[:, 0], np.linspace(3.0, 22.5, 9), rtol=1e-6)


def test_as_read_leaves_every_series_alone_and_n_gives_every_series_n_steps():
    rng = np.random.default_rng(0)
    series = [rng.standard_normal((n, 1)).astype(np.float32) for n in (5, 9, 30)]
    assert all(a is b for a, b in zip(resample_each(series, AS_READ), series, strict=True))
    assert [len(s) for s in resample_each(series, 12)] == [12, 12, 12]


def test_auto_picks_the_median_length_at_most_64_steps_when_lengths_differ():
    assert fit_resample([150] * 10) == AS_READ
    assert fit_resample([29, 100, 136, 200, 361]) == AUTO_STEPS == 64
    assert fit_resample([7, 15, 16, 29]) == 16  # numpy's median 15.5, rounded half to even
    assert fit_resample([7, 8]) == 8  # numpy's median 7.5, rounded half to even
    assert fit_resample([1, 1, 2]) == 2  # never a length of one step
