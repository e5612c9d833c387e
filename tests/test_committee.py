"""rnnkit.models.committee: members average their probabilities, each learns outside its own
fold, and the out-of-fold logits come from the member that did not learn the series."""

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.committee import EVERY, HELD_OUT, Committee, committee_size


def committee(members=3):
    torch.manual_seed(0)
    config = ClassifierConfig(input_size=2, num_classes=3, cell="gru", hidden_size=4)
    return Committee(config, members).eval()


def test_the_committee_averages_its_members_probabilities():
    model = committee()
    x, lengths, targets = (
        torch.randn(4, 5, 2),
        torch.tensor([5, 5, 3, 1]),
        torch.tensor([0, 2, 1, 1]),
    )
    log_p, loss = model(x, lengths, targets)
    mean = sum(F.softmax(member(x, lengths)[0], dim=-1) for member in model.members) / 3
    torch.testing.assert_close(log_p.exp(), mean)
    torch.testing.assert_close(loss, F.nll_loss(mean.log(), targets))


def test_each_member_learns_from_the_rows_outside_its_fold_only():
    model = committee()
    x, lengths = torch.randn(5, 4, 2), torch.full((5,), 4)
    targets, folds = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([0, 1, 2, 0, EVERY])
    loss = model.training_loss(x, lengths, targets, folds)
    expected = []
    for m, member in enumerate(model.members):
        rows = [i for i in range(5) if folds[i] != m]
        expected.append(F.cross_entropy(member(x[rows], lengths[rows])[0], targets[rows]))
    torch.testing.assert_close(loss, torch.stack(expected).mean())


def test_held_out_rows_are_learned_by_no_member():
    model = committee()
    x, lengths = torch.randn(4, 4, 2), torch.full((4,), 4)
    targets, folds = torch.tensor([0, 1, 2, 0]), torch.tensor([EVERY, HELD_OUT, EVERY, HELD_OUT])
    loss = model.training_loss(x, lengths, targets, folds)
    rows = [0, 2]
    expected = [F.cross_entropy(m(x[rows], lengths[rows])[0], targets[rows]) for m in model.members]
    torch.testing.assert_close(loss, torch.stack(expected).mean())


def test_held_out_rows_are_scored_by_the_whole_committee():
    model = committee()
    x, lengths = torch.randn(3, 3, 2), torch.tensor([3, 2, 3])
    logits = model.out_of_fold(x, lengths, torch.tensor([HELD_OUT, EVERY, HELD_OUT]))
    assert all(math.isnan(v) for v in logits[1].tolist())
    rows = [0, 2]
    torch.testing.assert_close(logits[rows], model(x[rows], lengths[rows])[0])


def test_out_of_fold_logits_come_from_the_member_of_each_rows_fold():
    model = committee()
    x, lengths, folds = torch.randn(4, 3, 2), torch.full((4,), 3), torch.tensor([2, 0, EVERY, 1])
    logits = model.out_of_fold(x, lengths, folds)
    for row, fold in enumerate(folds.tolist()):
        if fold < 0:
            assert all(math.isnan(v) for v in logits[row].tolist())
        else:
            expected = model.members[fold](x[row : row + 1], lengths[row : row + 1])[0][0]
            torch.testing.assert_close(logits[row], expected)


def test_the_committee_has_one_member_per_fold_or_per_ensemble_model():
    assert committee_size(folds=5, ensemble=1) == 5
    assert committee_size(folds=1, ensemble=3) == 3
    assert committee_size(folds=1, ensemble=1) == 1
    with pytest.raises(RnnkitError, match="--ensemble needs --folds 1"):
        committee_size(folds=3, ensemble=2)
