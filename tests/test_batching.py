"""Batches of whole sequences: every sequence once per epoch, similar lengths together, a new
order each epoch, an exact resumable position, and padding that never mixes sequences."""

import numpy as np
import torch

from rnnkit.data.batching import Batches, fixed_batches, pad


def sequences(lengths, features=2):
    return [np.full((n, features), i + 1, dtype=np.float32) for i, n in enumerate(lengths)]


def one_epoch(batches: Batches) -> list[list[int]]:
    epoch, start = [], batches.epoch
    while batches.epoch == start:
        epoch.append(batches.next_batch().indices)
    return epoch


def test_each_epoch_covers_every_sequence_once_in_a_new_order():
    batches = Batches(sequences(range(1, 21)), batch_size=6, seed=5)
    first, second = one_epoch(batches), one_epoch(batches)
    assert sorted(len(b) for b in first) == [2, 6, 6, 6]
    assert (
        sorted(i for b in first for i in b)
        == sorted(i for b in second for i in b)
        == list(range(20))
    )
    assert first != second
    assert batches.state_dict() == {"epoch": 2, "index": 0}


def test_a_resumed_position_serves_the_same_batches():
    make = lambda: Batches(sequences(range(3, 40)), batch_size=4, seed=1)  # noqa: E731
    expected = make()
    served = [expected.next_batch().indices for _ in range(25)]  # into the third epoch
    cut = make()
    for _ in range(13):
        cut.next_batch()
    restored = make()
    restored.load_state_dict(cut.state_dict())
    assert restored.epochs_done == cut.epochs_done == 1.3
    assert [restored.next_batch().indices for _ in range(12)] == served[13:]


def test_batches_group_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 200, size=128).tolist()
    batches = Batches(sequences(lengths), batch_size=8, seed=3)
    served = [batches.next_batch() for _ in range(16)]  # one epoch
    padded = sum(b.values.shape[1] * len(b.indices) for b in served)
    # Random batches of 8 from U{5..199} pad to about 178 steps each; sorted windows far less.
    assert padded < 0.7 * 178 * 128


def test_padding_and_labels_follow_the_sequences():
    data = sequences([3, 1, 2])
    labels = torch.tensor([10, 11, 12])
    batch = Batches(data, batch_size=3, seed=0, pad=-1, labels=labels).next_batch()
    for row, index in enumerate(batch.indices):
        n = len(data[index])
        assert batch.lengths[row] == n
        assert torch.equal(batch.values[row, :n], torch.from_numpy(data[index]))
        assert (batch.values[row, n:] == -1).all()
        assert batch.labels[row] == labels[index]


def test_fixed_batches_visit_every_sequence_once():
    data = sequences([5, 2, 9, 1, 7])
    seen = [i for batch in fixed_batches(data, batch_size=2) for i in batch.indices]
    assert sorted(seen) == [0, 1, 2, 3, 4]
    values, lengths = pad(data)
    assert values.shape == (5, 9, 2) and lengths.tolist() == [5, 2, 9, 1, 7]
