"""rnnkit.studies.memory_tasks: the batches have the documented structure; oracles score 1."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit.studies.memory_tasks import AddingProblem, CopyMemory


def test_adding_batch_marks_one_step_in_each_half_and_sums_them():
    task = AddingProblem()
    x, target = task.batch(lag=20, batch_size=64, generator=torch.Generator().manual_seed(0))
    assert x.shape == (64, 20, 2)
    values, markers = x[..., 0], x[..., 1]
    assert markers.sum(dim=1).eq(2).all()
    assert markers[:, :10].sum(dim=1).eq(1).all() and markers[:, 10:].sum(dim=1).eq(1).all()
    torch.testing.assert_close(target, (values * markers).sum(dim=1))


def test_adding_score_is_one_for_the_answer_and_near_zero_for_the_mean():
    task = AddingProblem()
    _, target = task.batch(lag=10, batch_size=20000, generator=torch.Generator().manual_seed(1))
    perfect = target[:, None, None].expand(-1, 10, 1)
    assert task.score(perfect, target) == pytest.approx(1.0)
    mean = torch.ones(20000, 10, 1)
    assert task.score(mean, target) == pytest.approx(0.0, abs=0.03)  # Var(u_a + u_b) = 1/6


def test_copy_batch_layout():
    task = CopyMemory(symbols=3, alphabet=4)
    x, target = task.batch(lag=5, batch_size=8, generator=torch.Generator().manual_seed(0))
    assert x.shape == (8, 2 * 3 + 5, 6)  # T = 2S + lag, K + 2 tokens
    tokens = x.argmax(dim=-1)
    assert x.sum(dim=-1).eq(1).all()  # one-hot
    torch.testing.assert_close(tokens[:, :3], target + 1)  # the symbols, then blanks
    assert tokens[:, 3:7].eq(0).all()
    assert tokens[:, 7].eq(5).all()  # the marker at S + lag - 1
    assert tokens[:, 8:].eq(0).all()
    assert target.min() >= 0 and target.max() < 4


def test_copy_oracle_scores_one_and_chance_is_one_over_k():
    task = CopyMemory(symbols=3, alphabet=4)
    _, target = task.batch(lag=5, batch_size=16, generator=torch.Generator().manual_seed(0))
    outputs = torch.zeros(16, 11, 4)
    outputs[:, -3:] = 50 * F.one_hot(target, 4).float()
    assert task.score(outputs, target) == 1.0
    assert task.losses(outputs, target).max() < 1e-6
    assert task.chance == 0.25


def test_batches_are_reproducible_from_the_generator():
    task = CopyMemory()
    a = task.batch(7, 4, torch.Generator().manual_seed(3))
    b = task.batch(7, 4, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
