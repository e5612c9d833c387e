"""rnnkit.data.series.augment: windows are contiguous slices of the valid steps, jitter leaves
padding alone, and both are off at their neutral settings."""

import torch

from rnnkit.data.series.augment import jitter, random_windows


def test_each_window_is_a_contiguous_slice_of_its_own_series():
    torch.manual_seed(0)
    x = torch.arange(1.0, 11.0).view(1, 10, 1).repeat(3, 1, 1)
    lengths = torch.tensor([10, 6, 1])
    x[1, 6:] = 0
    x[2, 1:] = 0
    windows, short = random_windows(x, lengths, 0.5)
    assert short.tolist() == [5, 3, 1]
    for row, length in enumerate(short.tolist()):
        values = windows[row, :length, 0]
        start = int(values[0]) - 1
        assert values.tolist() == list(range(start + 1, start + 1 + length))
        assert start + length <= lengths[row]  # inside the valid steps
        assert windows[row, length:].abs().sum() == 0  # padded after


def test_jitter_adds_noise_to_valid_steps_only_and_neutral_settings_change_nothing():
    torch.manual_seed(0)
    x, lengths = torch.zeros(2, 4, 3), torch.tensor([4, 2])
    noisy = jitter(x, lengths, 0.1)
    assert noisy[0].abs().min() > 0 and noisy[1, :2].abs().min() > 0
    assert noisy[1, 2:].abs().sum() == 0
    assert jitter(x, lengths, 0.0) is x
    assert random_windows(x, lengths, 1.0) == (x, lengths)
