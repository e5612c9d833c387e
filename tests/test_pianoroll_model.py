"""PianoRollModel and the music task's scoring: Bernoulli NLL summed over the 88 keys, frames 2..T
of each piece predicted, the sum over a split divided by the split's predicted frames; both
outputs (sigmoid, NADE) through the model's contract: forward, nll, step, next_frame."""

import math
from dataclasses import asdict

import numpy as np
import pytest
import torch

from rnnkit.data.batching import Padded, pad
from rnnkit.data.music import GRIDS
from rnnkit.data.music import KEYS as DATA_KEYS
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.nade import NADE
from rnnkit.models.pianoroll import KEYS, OUTPUTS, PianoRollModel, PianoRollModelConfig
from rnnkit.tasks.music import MusicTask
from rnnkit.tasks.pieces import GRID_NAMES, MusicDataConfig
from rnnkit.values import config_from_json


def test_constants_match_the_data_layer():
    assert KEYS == DATA_KEYS == 88
    assert tuple(GRIDS) == GRID_NAMES


def test_nll_on_a_hand_computed_example():
    # One piece, two predicted frames. Key 0 has p = 3/4 (logit ln 3), key 1 has p = 1/4
    # (logit -ln 3), every other key p = 1/2 (logit 0).
    bias = np.zeros(KEYS, dtype=np.float32)
    bias[0], bias[1] = math.log(3), -math.log(3)
    targets = torch.zeros(1, 2, KEYS)
    targets[0, 0, 0] = 1  # frame 2: key 0 sounds, key 1 does not
    targets[0, 1, 1] = 1  # frame 3: key 1 sounds, key 0 does not
    inputs = torch.zeros(1, 2, KEYS)
    total, frames = constant_model(bias).nll(inputs, targets, torch.tensor([2]))
    half = 86 * math.log(2)  # the 86 keys at p = 1/2, on or off alike
    frame2 = -math.log(3 / 4) - math.log(3 / 4) + half  # key 0 on at 3/4, key 1 off at 3/4
    frame3 = -math.log(1 / 4) - math.log(1 / 4) + half  # key 0 off at 1/4, key 1 on at 1/4
    assert frames == 2
    assert total.item() == pytest.approx(frame2 + frame3, rel=1e-6)


@pytest.mark.parametrize("output", OUTPUTS)
def test_padding_never_counts(output):
    torch.manual_seed(0)
    config = PianoRollModelConfig(hidden_size=8, num_layers=1, dropout=0.0, output=output)
    model = PianoRollModel(config).eval()
    inputs = (torch.rand(2, 4, KEYS) < 0.1).float()
    targets = (torch.rand(2, 4, KEYS) < 0.1).float()
    lengths = torch.tensor([4, 2])
    total, frames = model.nll(inputs, targets, lengths)
    changed_inputs, changed_targets = inputs.clone(), targets.clone()
    changed_inputs[1, 2:] = 1.0  # the padded steps of row 1
    changed_targets[1, 2:] = 1.0
    assert model.nll(changed_inputs, changed_targets, lengths)[0].item() == pytest.approx(
        total.item()
    )
    assert frames == 6
    # The sum of the real frames' NLL, each scored alone by the output.
    h, _ = model(inputs)
    rows = [(0, t) for t in range(4)] + [(1, t) for t in range(2)]
    alone = sum(model.output.frame_nll(h[b, t][None], targets[b, t][None]) for b, t in rows)
    assert total.item() == pytest.approx(alone.item(), rel=1e-5)


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


@pytest.mark.parametrize("output", OUTPUTS)
def test_the_first_predictions_can_start_at_the_keys_base_rates(output):
    frequencies = torch.linspace(0.001, 0.6, KEYS)
    config = PianoRollModelConfig(hidden_size=4, num_layers=1, dropout=0.0, output=output)
    model = PianoRollModel(config)
    model.start_at_frequencies(frequencies)
    with torch.no_grad():
        h, _ = model((torch.rand(1, 3, KEYS) < 0.1).float())
        if output == "sigmoid":
            model.output.weight.zero_()  # V h_t = 0: only the bias speaks
            logits = model.output(h[0, -1:])
        else:
            model.output.V.zero_()  # V_k · g_k = 0 and W_bv h = 0: only b_v speaks
            model.output.bias_weight.zero_()
            logits = model.output.logits(h[0, -1:], (torch.rand(1, KEYS) < 0.5).float())
    torch.testing.assert_close(torch.sigmoid(logits[0]), frequencies, rtol=1e-5, atol=1e-6)


def test_the_output_is_chosen_by_the_config():
    sigmoid = PianoRollModel(PianoRollModelConfig(hidden_size=8, num_layers=1))
    nade = PianoRollModel(
        PianoRollModelConfig(hidden_size=8, num_layers=1, output="nade", nade_hidden_size=6)
    )
    assert isinstance(nade.output, NADE) and nade.output.W.shape == (6, KEYS)
    assert not isinstance(sigmoid.output, NADE)
    assert set(sigmoid.state_dict()) >= {"output.weight", "output.bias"}  # as before NADE
    with pytest.raises(ValueError, match="output must be one of"):
        PianoRollModel(PianoRollModelConfig(output="softmax"))


def test_runs_saved_before_the_nade_output_load_as_sigmoid():
    settings = asdict(PianoRollModelConfig(hidden_size=8))
    del settings["output"], settings["nade_hidden_size"]
    config = config_from_json(PianoRollModelConfig, settings, "config.json model")
    assert config.output == "sigmoid" and config.hidden_size == 8


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru-after"])
def test_the_nade_output_trains_and_generates_with_every_cell(cell):
    torch.manual_seed(0)
    config = PianoRollModelConfig(cell=cell, hidden_size=8, num_layers=2, output="nade")
    model = PianoRollModel(config)
    inputs = (torch.rand(2, 5, KEYS) < 0.1).float()
    targets = (torch.rand(2, 5, KEYS) < 0.1).float()
    total, frames = model.nll(inputs, targets, torch.tensor([5, 3]))
    total.backward()
    assert frames == 8
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    model.eval()
    h, state = model(inputs[:1])
    sampler = Sampler(SamplerConfig(seed=1))
    frame = model.next_frame(h[:, -1], sampler.bernoulli)
    assert frame.shape == (1, KEYS) and set(frame.unique().tolist()) <= {0.0, 1.0}
    h_next, _ = model.step(frame, state)
    assert h_next.shape == (1, 8)


@pytest.mark.parametrize("output", OUTPUTS)
def test_seeded_generation_is_reproducible(output):
    torch.manual_seed(0)
    config = PianoRollModelConfig(hidden_size=8, num_layers=1, output=output)
    task = MusicTask(MusicDataConfig(), PianoRollModel(config), openings=[[60, 64, 67]])
    with torch.no_grad():  # louder keys, so that the pieces have notes to compare
        task.model.output.start_at_frequencies(torch.full((KEYS,), 0.05))

    def notes(seed: int) -> list:
        return list(task.generate(12, Sampler(SamplerConfig(seed=seed))).notes)

    assert notes(3) == notes(3)
    assert notes(3) != notes(4)


def chord_pieces(count: int, length: int, seed: int) -> list[np.ndarray]:
    """Pieces of two chords, C-E-G and D-F-A, each frame one of them at random: given the past,
    the next frame is either chord with probability 1/2. Independent keys cannot say that (the
    best is p = 1/2 for each of the 6 keys, 6 ln 2 = 4.16 nats per frame); a NADE can (ln 2)."""
    rng = np.random.default_rng(seed)
    chords = [[39, 43, 46], [41, 44, 48]]  # keys of C4 E4 G4 and D4 F4 A4 (MIDI - 21)
    pieces = []
    for _ in range(count):
        piece = np.zeros((length, KEYS), dtype=np.uint8)
        for t, which in enumerate(rng.integers(0, 2, size=length)):
            piece[t, chords[which]] = 1
        pieces.append(piece)
    return pieces


def test_nade_learns_what_independent_keys_cannot():
    pieces = chord_pieces(16, 20, seed=0)
    batch = batch_of(pieces)
    scores = {}
    for output in OUTPUTS:
        torch.manual_seed(0)
        config = PianoRollModelConfig(
            hidden_size=8, num_layers=1, dropout=0.0, output=output, nade_hidden_size=16
        )
        task = MusicTask(MusicDataConfig(), PianoRollModel(config), openings=[])
        optimizer = torch.optim.Adam(task.model.parameters(), lr=0.03)
        for _ in range(150):
            loss, _ = task.train_loss(batch, None)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scores[output] = task.score_sequences(pieces)[0]
    assert scores["nade"] < 1.0  # near ln 2 = 0.69
    assert scores["sigmoid"] > 3.5  # near 6 ln 2 = 4.16: the history says nothing of the next chord
