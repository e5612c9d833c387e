"""Programs written for torch.nn, run with rnnkit's layers in its place (docs/SWITCHING.md).

Each program is typical torch.nn code that takes its recurrent layers from `layers`: torch.nn
itself, or RNNKIT, where LSTM, LSTMCell, GRU are rnnkit's (GRU with reset="after", the one
argument a torch.nn.GRU user adds). Each runs twice from the same weights: with torch.nn, and
with rnnkit after loading torch.nn's initial state dict (the user's old checkpoint), and the
losses must agree at every step.

The torch.nn run is given rnnkit's one bias per gate (`one_bias`): its b_hh is folded into b_ih
and held at zero (GRU: except the candidate's b_hn, which rnnkit keeps). With two free biases
every optimiser moves b_ih + b_hh twice as fast as rnnkit moves b, so training differs from the
first update on: the one difference, shown by `test_two_free_biases_learn_twice_as_fast`.
"""

from __future__ import annotations

import copy
from functools import partial
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.backends.fused import cpp

needs_cpp = pytest.mark.skipif(cpp.ops() is None, reason="the C++ loops did not build here")

RNNKIT = SimpleNamespace(
    LSTM=rnnkit.LSTM, LSTMCell=rnnkit.LSTMCell, GRU=partial(rnnkit.GRU, reset="after")
)


def one_bias(model: nn.Module) -> nn.Module:
    """torch.nn with rnnkit's parameters: each b_hh (GRU: its r and z parts) added into b_ih,
    then held at zero by zeroing its gradient, so that b_ih alone plays rnnkit's b."""
    for module in model.modules():
        if not isinstance(module, (nn.RNNBase, nn.RNNCellBase)):
            continue
        for name, b_hh in module.named_parameters():
            if not name.startswith("bias_hh"):
                continue
            merged = torch.ones_like(b_hh)
            if isinstance(module, (nn.GRU, nn.GRUCell)):
                merged[2 * module.hidden_size :] = 0  # b_hn stays, as rnnkit's b_hn
            with torch.no_grad():
                getattr(module, name.replace("bias_hh", "bias_ih")).add_(b_hh * merged)
                b_hh.mul_(1 - merged)
            b_hh.register_hook(partial(torch.mul, 1 - merged))
    return model


def run_both(build, program) -> tuple[list[float], list[float]]:
    """The losses of `program(build(layers))` with torch.nn and with rnnkit, from torch.nn's
    initial weights; the same random numbers in both runs."""
    torch.manual_seed(0)
    reference = build(nn)
    checkpoint = copy.deepcopy(reference.state_dict())
    ours = build(RNNKIT)
    ours.load_state_dict(rnnkit.from_torch_state_dict(ours, checkpoint))
    torch.manual_seed(1)
    expected = program(one_bias(reference))
    torch.manual_seed(1)
    got = program(ours)
    return got, expected


def assert_same_losses(got: list[float], expected: list[float]) -> None:
    assert len(got) == len(expected)
    for step, (g, e) in enumerate(zip(got, expected)):
        assert g == pytest.approx(e, rel=1e-5, abs=1e-5), f"step {step}: {g} != {e}"
    assert expected[-1] < expected[0]  # the program learned something: the comparison means it


# ----- 1. a word-level language model: SGD, clipping, detached hidden state, save and reload ------
class WordModel(nn.Module):
    """pytorch/examples' word_language_model RNNModel, in short."""

    def __init__(
        self, layers, ntoken: int, nhid: int = 16, dropout: float = 0.2, rnn_type: str = "LSTM"
    ):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, nhid)
        self.rnn = getattr(layers, rnn_type)(nhid, nhid, 2, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.rnn_type, self.nlayers, self.nhid = rnn_type, 2, nhid

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output))
        return decoded.view(-1, decoded.shape[-1]), hidden

    def init_hidden(self, bsz: int):
        weight = next(self.parameters())
        if self.rnn_type != "LSTM":
            return weight.new_zeros(self.nlayers, bsz, self.nhid)
        return (
            weight.new_zeros(self.nlayers, bsz, self.nhid),
            weight.new_zeros(self.nlayers, bsz, self.nhid),
        )


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    return h.detach() if isinstance(h, torch.Tensor) else tuple(repackage_hidden(v) for v in h)


def batchify(data: torch.Tensor, bsz: int) -> torch.Tensor:
    nbatch = data.size(0) // bsz
    return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()


def get_batch(source: torch.Tensor, i: int, bptt: int = 8):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].view(-1)


def evaluate(model: WordModel, data: torch.Tensor) -> float:
    model.eval()
    criterion, total = nn.CrossEntropyLoss(), 0.0
    hidden = model.init_hidden(data.size(1))
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, 8):
            inputs, targets = get_batch(data, i)
            output, hidden = model(inputs, hidden)
            total += len(inputs) * criterion(output, targets).item()
            hidden = repackage_hidden(hidden)
    return total / (len(data) - 1)


def shakespeare_words(folder, count: int) -> tuple[torch.Tensor, int]:
    words = (folder / "tinyshakespeare.txt").read_text(encoding="utf-8").split()[:count]
    vocabulary = {word: k for k, word in enumerate(dict.fromkeys(words))}
    return torch.tensor([vocabulary[word] for word in words]), len(vocabulary)


@pytest.mark.parametrize(
    ("nhid", "rnn_type"),
    [
        (16, "LSTM"),  # torch's kernel trains it
        pytest.param(256, "LSTM", marks=needs_cpp),  # fused trains it: torch's dropout masks
        (16, "GRU"),  # GRU(reset="after"): fused trains it
    ],
)
def test_word_language_model(shared_data, tmp_path, nhid, rnn_type):
    ids, ntoken = shakespeare_words(shared_data, 1200)
    train_data, valid_data = batchify(ids[:1000], 10), batchify(ids[1000:], 10)
    lr, clip = 5.0, 0.25

    def program(model: WordModel) -> list[float]:
        criterion, losses = nn.CrossEntropyLoss(), []
        model.train()
        hidden = model.init_hidden(10)
        for i in range(0, train_data.size(0) - 1, 8):
            data, targets = get_batch(train_data, i)
            hidden = repackage_hidden(hidden)
            model.zero_grad()
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
        losses.append(evaluate(model, valid_data))
        with open(tmp_path / "model.pt", "wb") as f:
            torch.save(model, f)
        trusted = [WordModel, nn.Dropout, nn.Embedding, nn.LSTM, nn.GRU, nn.Linear]
        with open(tmp_path / "model.pt", "rb") as f, torch.serialization.safe_globals(trusted):
            model = torch.load(f)
        return [*losses, evaluate(model, valid_data)]

    build = partial(WordModel, ntoken=ntoken, nhid=nhid, rnn_type=rnn_type)
    trains_on = "native" if rnn_type == "LSTM" and nhid < 256 else "fused"
    assert build(RNNKIT).rnn.automatic_backend(training=True) == trains_on
    got, expected = run_both(build, program)
    assert_same_losses(got, expected)
    assert got[-1] == got[-2]  # the reloaded model is the saved one


# ----- 2. LSTMCells stepped by hand in float64, trained with LBFGS --------------------------------
class Sequence(nn.Module):
    """pytorch/examples' time_sequence_prediction model: two LSTMCells and a linear output."""

    def __init__(self, layers, hidden: int = 12):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = layers.LSTMCell(1, hidden)
        self.lstm2 = layers.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future: int = 0):
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):  # if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def test_lstm_cells_in_float64_with_lbfgs():
    steps = torch.arange(30, dtype=torch.double)
    phase = torch.linspace(0, 4, 6, dtype=torch.double)[:, None]
    data = torch.sin((steps + 10 * phase) / 4.0)
    input, target = data[:, :-1], data[:, 1:]

    def program(seq: Sequence) -> list[float]:
        criterion = nn.MSELoss()
        optimizer = torch.optim.LBFGS(seq.parameters(), lr=0.8, max_iter=5)
        losses = []

        def closure():
            optimizer.zero_grad()
            loss = criterion(seq(input), target)
            losses.append(loss.item())
            loss.backward()
            return loss

        for _ in range(3):
            optimizer.step(closure)
        with torch.no_grad():
            future = seq(input[:2], future=5)
            losses.append(criterion(future[:, :-5], target[:2]).item())
        return losses

    got, expected = run_both(lambda layers: Sequence(layers).double(), program)
    assert_same_losses(got, expected)


# ----- 3. an encoder over packed sequences --------------------------------------------------------
class Encoder(nn.Module):
    """Embeds padded token batches, packs them, and classifies with both final GRU states."""

    def __init__(self, layers):
        super().__init__()
        self.embedding = nn.Embedding(11, 5, padding_idx=0)
        self.gru = layers.GRU(5, 6, num_layers=2, bidirectional=True, batch_first=True)
        self.classify = nn.Linear(12, 3)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(
            self.embedding(tokens), lengths, batch_first=True, enforce_sorted=False
        )
        outputs, h_n = self.gru(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True)
        summary = torch.cat([h_n[-2], h_n[-1]], dim=1)  # last layer, both directions
        return self.classify(summary), outputs


def test_encoder_over_packed_sequences():
    generator = torch.Generator().manual_seed(2)
    lengths = torch.tensor([7, 3, 5, 1, 6, 2])
    tokens = torch.randint(1, 11, (6, 7), generator=generator)
    tokens[torch.arange(7) >= lengths[:, None]] = 0
    labels = torch.randint(0, 3, (6,), generator=generator)

    def program(encoder: Encoder) -> list[float]:
        optimizer = torch.optim.Adam(encoder.parameters(), lr=0.01)
        losses = []
        for _ in range(8):
            optimizer.zero_grad()
            logits, outputs = encoder(tokens, lengths)
            loss = nn.functional.cross_entropy(logits, labels) + 0.1 * outputs.pow(2).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    got, expected = run_both(Encoder, program)
    assert_same_losses(got, expected)


# ----- 4. initialisation by parameter name, the forget-gate bias included -------------------------
class Tagger(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.lstm = layers.LSTM(4, 8, num_layers=2, bidirectional=True, batch_first=True)
        self.out = nn.Linear(16, 2)
        self.init_weights()

    def init_weights(self) -> None:
        """Xavier input weights, orthogonal recurrent weights, zero biases, forget bias 1."""
        H = self.lstm.hidden_size
        for name, param in self.lstm.named_parameters():
            if "weight_ih" in name:
                nn.init.xavier_uniform_(param)
            elif "weight_hh" in name:
                nn.init.orthogonal_(param)
            elif "bias" in name:
                nn.init.zeros_(param)
        for layer in range(self.lstm.num_layers):
            for suffix in ("", "_reverse"):
                getattr(self.lstm, f"bias_ih_l{layer}{suffix}").data[H : 2 * H].fill_(1.0)

    def forward(self, x):
        return self.out(self.lstm(x)[0])


def test_initialisation_by_parameter_name():
    x = torch.randn(3, 5, 4)
    target = torch.randint(0, 2, (3, 5))

    def program(tagger: Tagger) -> list[float]:
        tagger.init_weights()  # the same random draws: the names come in torch's order
        optimizer = torch.optim.SGD(tagger.parameters(), lr=0.5, momentum=0.9)
        losses = []
        for _ in range(6):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(tagger(x).transpose(1, 2), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    got, expected = run_both(Tagger, program)
    assert_same_losses(got, expected)


def test_two_free_biases_learn_twice_as_fast():
    """The one difference: torch's b_ih and b_hh each take the gradient, so plain SGD moves
    their sum (what the gate sees) by 2 * lr * g, where rnnkit moves its one b by lr * g."""
    torch.manual_seed(3)
    reference = nn.LSTM(2, 3)
    ours = rnnkit.LSTM(2, 3)
    ours.load_state_dict(reference.state_dict())
    before = (reference.bias_ih_l0 + reference.bias_hh_l0).detach()
    x = torch.randn(4, 1, 2)
    for module in (reference, ours):
        module(x)[0].sum().backward()
        with torch.no_grad():
            for p in module.parameters():
                p -= 0.1 * p.grad
    torch_step = reference.bias_ih_l0 + reference.bias_hh_l0 - before
    torch.testing.assert_close(torch_step, 2 * (ours.bias_ih_l0 - before), rtol=1e-5, atol=1e-7)


# ----- 5. a gradient penalty ----------------------------------------------------------------------
class Critic(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.rnn = layers.LSTM(3, 8, batch_first=True)
        self.score = nn.Linear(8, 1)

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.score(output[:, -1])


def penalty_program(critic: nn.Module) -> list[float]:
    """A WGAN-GP style critic step: the gradient of the score with respect to the input is
    penalised, so backward runs through the gradient (create_graph=True)."""
    real, fake = torch.randn(4, 6, 3) + 1, torch.randn(4, 6, 3)
    optimizer = torch.optim.Adam(critic.parameters(), lr=0.01)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        mix = torch.rand(4, 1, 1)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (gradient,) = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
        penalty = ((gradient.flatten(1).norm(dim=1) - 1) ** 2).mean()
        loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_gradient_penalty():
    """rnnkit.LSTM runs on torch's own kernel (native backend), which differentiates twice."""
    got, expected = run_both(Critic, penalty_program)
    assert_same_losses(got, expected)


class GRUCritic(Critic):
    def __init__(self, layers):
        super().__init__(layers)
        self.rnn = layers.GRU(3, 8, batch_first=True)


def test_gradient_penalty_through_the_fused_gru():
    """The GRU trains on the fused backend on CPU: its op differentiates twice by recomputing
    its function from the cell's step (backends/fused/differentiable.py)."""
    got, expected = run_both(GRUCritic, penalty_program)
    assert_same_losses(got, expected)


# ----- 6. the whole model under torch.compile -----------------------------------------------------
def compiled_program(model: WordModel, batch: int = 3) -> list[float]:
    compiled = torch.compile(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    tokens = torch.randint(0, 30, (7, batch), generator=torch.Generator().manual_seed(4))
    hidden, losses = model.init_hidden(batch), []
    model.train()
    for _ in range(3):
        optimizer.zero_grad()
        output, hidden = compiled(tokens[:-1], repackage_hidden(hidden))
        loss = nn.functional.cross_entropy(output, tokens[1:].reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_the_whole_model_under_torch_compile():
    """Without dropout: compiled code draws its random numbers otherwise than eager code, and
    torch.compile runs torch.nn.LSTM eagerly (a graph break) where it traces rnnkit's."""
    got, expected = run_both(partial(WordModel, ntoken=30, dropout=0.0), compiled_program)
    assert_same_losses(got, expected)


def test_a_fused_gru_of_the_size_that_runs_onednn_under_torch_compile():
    """batch * 3H * H of at least 2**22 multiply-adds: oneDNN's products, inside the custom ops
    rnnkit::gru_after and rnnkit::linear, which Inductor leaves whole."""
    build = partial(WordModel, ntoken=30, nhid=128, dropout=0.0, rnn_type="GRU")
    got, expected = run_both(build, partial(compiled_program, batch=96))
    assert_same_losses(got, expected)
