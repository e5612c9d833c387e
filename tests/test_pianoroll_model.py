"""PianoRollModel and the music task's scoring: Bernoulli NLL summed over the 88 keys, frames 2..T
of each piece predicted, the sum over a split divided by the split's predicted frames."""

import math

import numpy as np
import pytest
import torch

from rnnkit.data.batching import Padded, pad
from rnnkit.data.music import GRIDS
from rnnkit.data.music import KEYS as DATA_KEYS
from rnnkit.models.pianoroll import KEYS, PianoRollModel, PianoRollModelConfig, frame_nll
from rnnkit.tasks.music import MusicTask
from rnnkit.tasks.pieces import GRID_NAMES, MusicDataConfig


def test_constants_match_the_data_layer():
    assert KEYS == DATA_KEYS == 88
    assert tuple(GRIDS) == GRID_NAMES


def test_frame_nll_on_a_hand_computed_example():
    # One piece, two predicted frames. Key 0 has p = 3/4 (logit ln 3), key 1 has p = 1/4
    # (logit -ln 3), every other key p = 1/2 (logit 0).
    logits = torch.zeros(1, 2, KEYS)
    logits[0, :, 0], logits[0, :, 1] = math.log(3), -math.log(3)
    targets = torch.zeros(1, 2, KEYS)
    targets[0, 0, 0] = 1  # frame 2: key 0 sounds, key 1 does not
    targets[0, 1, 1] = 1  # frame 3: key 1 sounds, key 0 does not
    total, frames = frame_nll(logits, targets, torch.tensor([2]))
    half = 86 * math.log(2)  # the 86 keys at p = 1/2, on or off alike
    frame2 = -math.log(3 / 4) - math.log(3 / 4) + half  # key 0 on at 3/4, key 1 off at 3/4
    frame3 = -math.log(1 / 4) - math.log(1 / 4) + half  # key 0 off at 1/4, key 1 on at 1/4
    assert frames == 2
    assert total.item() == pytest.approx(frame2 + frame3, rel=1e-6)


def test_padding_never_counts():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, KEYS)
    targets = (torch.rand(2, 4, KEYS) < 0.1).float()
    lengths = torch.tensor([4, 2])
    total, frames = frame_nll(logits, targets, lengths)
    changed_logits, changed_targets = logits.clone(), targets.clone()
    changed_logits[1, 2:] = 50.0  # the padded steps of row 1
    changed_targets[1, 2:] = 0.0
    assert frame_nll(changed_logits, changed_targets, lengths)[0].item() == pytest.approx(
        total.item()
    )
    assert frames == 6


def constant_model(bias: np.ndarray) -> PianoRollModel:
    """A model whose logits are `bias` at every step, whatever it reads."""
    model = PianoRollModel(PianoRollModelConfig(hidden_size=4, num_layers=1, dropout=0.0))
    with torch.no_grad():
        model.output.weight.zero_()
        model.output.bias.copy_(torch.from_numpy(bias))
    return model.eval()


def numpy_nll(bias: np.ndarray, frame: np.ndarray) -> float:
    """-sum_k [v_k ln p_k + (1 - v_k) ln (1 - p_k)] with p = sigmoid(bias), in float64."""
    p = 1 / (1 + np.exp(-bias.astype(np.float64)))
    return float(-(frame * np.log(p) + (1 - frame) * np.log(1 - p)).sum())


def test_split_score_predicts_frames_2_to_T_and_divides_by_all_predicted_frames():
    rng = np.random.default_rng(0)
    bias = rng.normal(size=KEYS).astype(np.float32)
    pieces = [(rng.random((length, KEYS)) < 0.1).astype(np.uint8) for length in (3, 6, 1)]
    task = MusicTask(MusicDataConfig(batch_size=2), constant_model(bias), openings=[])
    loss, frames = task.score_sequences(pieces)
    # Frame 1 of each piece is given, never scored; a one-frame piece predicts nothing.
    per_frame = [numpy_nll(bias, piece[t]) for piece in pieces for t in range(1, len(piece))]
    assert frames == 2 + 5 == len(per_frame)
    assert loss == pytest.approx(sum(per_frame) / frames, rel=1e-5)
    # Not the mean of per-piece means, which weighs the short piece more.
    per_piece = np.mean(
        [np.mean([numpy_nll(bias, p[t]) for t in range(1, len(p))]) for p in pieces[:2]]
    )
    assert abs(loss - per_piece) > 1e-3


def test_train_loss_is_the_same_nll_per_predicted_frame():
    rng = np.random.default_rng(1)
    bias = rng.normal(size=KEYS).astype(np.float32)
    pieces = [(rng.random((length, KEYS)) < 0.2).astype(np.uint8) for length in (4, 2)]
    task = MusicTask(MusicDataConfig(), constant_model(bias), openings=[])
    loss, _carry = task.train_loss(batch_of(pieces), None)
    expected = [numpy_nll(bias, piece[t]) for piece in pieces for t in range(1, len(piece))]
    assert loss.item() == pytest.approx(sum(expected) / 4, rel=1e-5)


def test_step_by_step_equals_the_whole_sequence():
    torch.manual_seed(0)
    for cell in ("gru", "lstm", "rnn", "gru-after"):
        config = PianoRollModelConfig(cell=cell, hidden_size=8, num_layers=2, dropout=0.0)
        model = PianoRollModel(config).eval()
        roll = (torch.rand(1, 5, KEYS) < 0.1).float()
        whole, _ = model(roll)
        state, steps = None, []
        for t in range(5):
            logits, state = model.step(roll[:, t], state)
            steps.append(logits)
        torch.testing.assert_close(torch.stack(steps, dim=1), whole, atol=1e-5, rtol=1e-5)


def batch_of(pieces) -> Padded:
    values, lengths = pad(pieces)
    return Padded(values, lengths, list(range(len(pieces))))


def test_overfits_one_piece():
    torch.manual_seed(0)
    piece = np.zeros((12, KEYS), dtype=np.uint8)
    for t in range(12):
        piece[t, [39 + t % 4, 43, 46]] = 1  # a moving line over a held chord
    config = PianoRollModelConfig(hidden_size=32, num_layers=1, dropout=0.0)
    task = MusicTask(MusicDataConfig(), PianoRollModel(config), openings=[])
    optimizer = torch.optim.Adam(task.model.parameters(), lr=0.02)
    batch = batch_of([piece])
    for _ in range(150):
        loss, _ = task.train_loss(batch, None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert task.score_sequences([piece])[0] < 1.0  # from 88 ln 2 = 61 nats per frame


def test_the_first_predictions_can_start_at_the_keys_base_rates():
    frequencies = torch.linspace(0.001, 0.6, KEYS)
    model = PianoRollModel(PianoRollModelConfig(hidden_size=4, num_layers=1, dropout=0.0))
    model.start_at_frequencies(frequencies)
    with torch.no_grad():
        model.output.weight.zero_()  # V h_t = 0: only the bias speaks
        logits, _ = model((torch.rand(1, 3, KEYS) < 0.1).float())
    torch.testing.assert_close(torch.sigmoid(logits[0, -1]), frequencies, rtol=1e-5, atol=1e-6)
