"""rnnkit.models.classifier: pooling and both branches ignore padding, the shortened recurrent
input, the loss, and a tiny model that learns."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit.data.batching import Batches, fixed_batches
from rnnkit.data.series import FeatureScaler, LabelVocabulary, load_series, stratified_split
from rnnkit.metrics import ClassificationScores
from rnnkit.models.classifier import ClassifierConfig, shorten
from rnnkit.models.classifier import SequenceClassifier as Classifier


def SequenceClassifier(input_size: int, num_classes: int, **settings) -> Classifier:
    return Classifier(ClassifierConfig(input_size=input_size, num_classes=num_classes, **settings))


def padded_batch(lengths, features=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), features, generator=generator)
    for row, length in enumerate(lengths):
        x[row, length:] = 0.0
    return x, torch.tensor(lengths)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_last_pooling_reads_the_last_valid_output(cell):
    torch.manual_seed(0)
    model = SequenceClassifier(3, 4, cell=cell, hidden_size=5, num_layers=2, pooling="last")
    x, lengths = padded_batch([4, 2, 3])
    output, _ = model.recurrent(x, lengths=lengths)  # (B, T, H)
    expected = output[torch.arange(3), lengths - 1]
    torch.testing.assert_close(model.read_recurrent(x, lengths), expected)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_bidirectional_last_pooling_is_forward_end_and_backward_start(num_layers):
    torch.manual_seed(0)
    model = SequenceClassifier(
        3, 2, cell="gru", hidden_size=4, num_layers=num_layers, bidirectional=True
    )
    x, lengths = padded_batch([5, 3])
    output, _ = model.recurrent(x, lengths=lengths)  # (B, T, 2H)
    forward_end = output[torch.arange(2), lengths - 1, :4]
    backward_start = output[:, 0, 4:]
    expected = torch.cat([forward_end, backward_start], dim=1)
    torch.testing.assert_close(model.read_recurrent(x, lengths), expected)


def test_mean_pooling_averages_valid_steps_only():
    torch.manual_seed(0)
    model = SequenceClassifier(3, 2, cell="lstm", hidden_size=4, pooling="mean")
    x, lengths = padded_batch([3, 1])
    output, _ = model.recurrent(x, lengths=lengths)
    expected = torch.stack([output[0, :3].mean(dim=0), output[1, :1].mean(dim=0)])
    torch.testing.assert_close(model.read_recurrent(x, lengths), expected)


def test_max_pooling_takes_each_units_largest_valid_output():
    torch.manual_seed(0)
    model = SequenceClassifier(3, 2, cell="gru", hidden_size=4, pooling="max")
    x, lengths = padded_batch([4, 2])
    output, _ = model.recurrent(x, lengths=lengths)
    expected = torch.stack([output[0, :4].amax(dim=0), output[1, :2].amax(dim=0)])
    torch.testing.assert_close(model.read_recurrent(x, lengths), expected)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(
    ("conv", "downsample", "conv_downsample", "squeeze_excite"),
    [(0, 1, 1, False), (3, 1, 1, False), (3, 3, 1, False), (3, 1, 3, True), (16, 2, 2, True)],
)
def test_padding_does_not_change_a_sequences_logits(
    pooling, bidirectional, conv, downsample, conv_downsample, squeeze_excite
):
    torch.manual_seed(0)
    model = SequenceClassifier(
        3, 2, cell="lstm", hidden_size=4, bidirectional=bidirectional, pooling=pooling,
        conv=conv, downsample=downsample, conv_downsample=conv_downsample,
        squeeze_excite=squeeze_excite,
    ).eval()  # fmt: skip
    x, lengths = padded_batch([7, 2])
    batched, _ = model(x, lengths)
    alone, _ = model(x[1:, :2], lengths[1:])
    torch.testing.assert_close(batched[1:], alone)


def test_the_convolutional_branch_sits_beside_the_recurrent_one():
    model = SequenceClassifier(2, 3, cell="gru", hidden_size=4, bidirectional=True, conv=5)
    assert model.head.in_features == 2 * 4 + 5
    assert SequenceClassifier(2, 3, hidden_size=4).head.in_features == 4


def test_the_convolutional_branch_reads_the_shortened_series():
    torch.manual_seed(0)
    model = SequenceClassifier(1, 2, hidden_size=4, conv=4, conv_downsample=3).eval()
    x, lengths = padded_batch([7, 4], features=1)
    short, short_lengths = shorten(x, lengths, 3)
    expected = model.convolutional(short, short_lengths)
    read = model.read(x, lengths)  # [recurrent (4); convolutional (4)]
    torch.testing.assert_close(read[:, 4:], expected)


def test_auto_downsampling_bounds_the_steps_of_each_branch():
    config = ClassifierConfig(downsample=0, conv_downsample=0)
    config.fit_downsample(1460)
    assert (config.downsample, config.conv_downsample) == (23, 3)  # 64 and 487 steps
    config = ClassifierConfig(downsample=0, conv_downsample=0)
    config.fit_downsample(24)
    assert (config.downsample, config.conv_downsample) == (1, 1)
    with pytest.raises(ValueError, match="auto"):
        Classifier(ClassifierConfig(conv=4, conv_downsample=0))


def test_shorten_averages_windows_and_a_partial_last_window_over_its_valid_steps():
    x = torch.arange(1.0, 8.0).view(1, 7, 1).repeat(2, 1, 1)  # 1..7, twice
    x[1, 4:] = 0.0  # the second sequence is 1..4, then padding
    short, lengths = shorten(x, torch.tensor([7, 4]), 3)
    assert lengths.tolist() == [3, 2]
    torch.testing.assert_close(short[0, :, 0], torch.tensor([2.0, 5.0, 7.0]))
    torch.testing.assert_close(short[1, :2, 0], torch.tensor([2.0, 4.0]))


def test_loss_is_the_mean_cross_entropy_of_the_logits():
    torch.manual_seed(0)
    model = SequenceClassifier(3, 4, cell="rnn", hidden_size=5)
    x, lengths = padded_batch([3, 2, 1])
    targets = torch.tensor([0, 3, 1])
    logits, loss = model(x, lengths, targets)
    log_p = logits.log_softmax(dim=-1)
    torch.testing.assert_close(loss, -log_p[torch.arange(3), targets].mean())
    assert model(x, lengths)[1] is None
    assert model.predict(x, lengths).tolist() == logits.argmax(dim=-1).tolist()


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="pooling"):
        SequenceClassifier(1, 2, pooling="median")


def ramps(count, generator):
    """An easy problem: noisy rising (class 1) or falling (class 0) ramps of 5 to 12 steps."""
    xs, lengths, labels = [], [], []
    for _ in range(count):
        length = int(torch.randint(5, 13, (1,), generator=generator))
        label = int(torch.randint(0, 2, (1,), generator=generator))
        slope = 1.0 if label else -1.0
        ramp = slope * torch.linspace(-1, 1, length) + 0.3 * torch.randn(
            length, generator=generator
        )
        xs.append(ramp)
        lengths.append(length)
        labels.append(label)
    x = torch.zeros(count, max(lengths), 1)
    for row, ramp in enumerate(xs):
        x[row, : len(ramp), 0] = ramp
    return x, torch.tensor(lengths), torch.tensor(labels)


def test_a_tiny_classifier_learns_an_easy_problem():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    model = SequenceClassifier(1, 2, cell="lstm", hidden_size=16)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        x, lengths, labels = ramps(32, generator)
        _, loss = model(x, lengths, labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    x, lengths, labels = ramps(200, generator)
    accuracy = (model.predict(x, lengths) == labels).float().mean()
    assert accuracy >= 0.95
    assert F.cross_entropy(model(x, lengths)[0], labels) < 0.3


def test_from_a_csv_file_to_scores(tmp_path):
    """The whole path: a long CSV with gaps -> split, scaling, batches -> training -> scores."""
    generator = torch.Generator().manual_seed(2)
    x, lengths, labels = ramps(160, generator)
    lines = ["id,time,level,noise,label"]
    for n in range(160):
        for t in range(int(lengths[n])):
            level = "" if (n + t) % 7 == 3 else f"{float(x[n, t, 0]):.4f}"  # some gaps
            lines.append(
                f"s{n},{t},{level},{float(torch.rand(1, generator=generator)):.3f},"
                f"{'up' if labels[n] else 'down'}"
            )
    (tmp_path / "ramps.csv").write_text("\n".join(lines) + "\n")

    data = load_series(tmp_path / "ramps.csv")
    vocab = LabelVocabulary.fit(data)
    train_idx, valid_idx = stratified_split(data.known_labels(), 0.25, seed=0)
    train, valid = data.subset(train_idx), data.subset(valid_idx)
    scaler = FeatureScaler.fit(train.sequences)
    torch.manual_seed(0)
    model = SequenceClassifier(2, len(vocab), cell="gru", hidden_size=16, pooling="mean")
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    batches = Batches(scaler.transform(train.sequences), 16, seed=0, labels=vocab.encode(train))
    while batches.epoch < 8:
        batch = batches.next_batch()
        _, loss = model(batch.values, batch.lengths, batch.labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    predictions, targets = [], []
    valid_sequences, valid_labels = scaler.transform(valid.sequences), vocab.encode(valid)
    for batch in fixed_batches(valid_sequences, 64, labels=valid_labels):
        predictions += model.predict(batch.values, batch.lengths).tolist()
        targets += batch.labels.tolist()
    scores = ClassificationScores.from_predictions(targets, predictions, vocab.labels)
    assert scores.support.sum() == len(valid_idx) == 40
    assert scores.accuracy >= 0.9
