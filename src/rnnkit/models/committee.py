"""Committee: M sequence classifiers trained side by side, predicting together.

Stratified k-fold cross-validation made into an ensemble. The training series are dealt into M
folds (rnnkit.data.series.split.stratified_folds); member m learns from every fold but fold m
and is scored on fold m. So every training series is validated on exactly once, by the one
member that never learned from it (its out-of-fold prediction), and the members, each of which
has seen (M - 1) / M of the data, predict together by averaging their probabilities:

    p(class | x) = (1/M) sum_m softmax(logits_m(x))

A series whose fold is EVERY (-1) is learned from by every member and validated on by none.
With no held-out data every series is: M = 1 is one model learning from everything, and M >= 2 an
ensemble whose members differ only in their initial weights (`--ensemble M`). A series whose fold
is HELD_OUT (-2) is learned from by no member and validated on by the whole committee: the share
an ensemble (or one model) holds out with `--valid-fraction`.

Shapes: B batch, T time, D features, K classes, M members.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier

EVERY = -1  # the fold of a series every member learns from and none validates on
HELD_OUT = -2  # the fold of a series no member learns from and the committee validates on


def committee_size(folds: int, ensemble: int) -> int:
    """How many members: one per fold (folds >= 2), or `ensemble` learning from every series."""
    if folds > 1 and ensemble > 1:
        raise RnnkitError("--ensemble needs --folds 1 (a committee over folds is an ensemble)")
    return max(folds, ensemble)


class Committee(nn.Module):
    """M SequenceClassifiers built from one config; `forward(x, lengths) -> (log p, None)`."""

    def __init__(self, config: ClassifierConfig, members: int) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(SequenceClassifier(config) for _ in range(members))

    def forward(
        self, x: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """The committee's log-probabilities (B, K) (logits to softmax and cross_entropy), and
        their mean cross-entropy with `targets` (None without)."""
        log_p = [F.log_softmax(member(x, lengths)[0], dim=-1) for member in self.members]
        log_mean = torch.logsumexp(torch.stack(log_p), dim=0) - math.log(len(log_p))
        loss = None if targets is None else F.nll_loss(log_mean, targets)
        return log_mean, loss

    def training_loss(self, x: Tensor, lengths: Tensor, targets: Tensor, folds: Tensor) -> Tensor:
        """The members' mean cross-entropy, each on the rows neither in its own fold nor
        held out (a member with no such row in this batch adds nothing)."""
        losses = []
        for m, member in enumerate(self.members):
            rows = ((folds != m) & (folds != HELD_OUT)).nonzero().squeeze(1)
            if len(rows):
                losses.append(member(x[rows], lengths[rows], targets[rows])[1])
        return torch.stack(losses).mean()

    def out_of_fold(self, x: Tensor, lengths: Tensor, folds: Tensor) -> Tensor:
        """Logits (B, K) of each row from the member of its fold, of a held-out row the
        committee's log-probabilities, of a row every member learned from NaN."""
        logits = torch.full((len(x), self.config.num_classes), math.nan, device=x.device)
        held_out = (folds == HELD_OUT).nonzero().squeeze(1)
        if len(held_out):
            logits[held_out] = self(x[held_out], lengths[held_out])[0].float()
        for m, member in enumerate(self.members):
            rows = (folds == m).nonzero().squeeze(1)
            if len(rows):
                logits[rows] = member(x[rows], lengths[rows])[0].float()
        return logits
