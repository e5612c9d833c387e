"""The language model of the lecture: read a token, update the state, predict the next token.

    x_t = E[w_t]                      (an embedding row; or the one-hot vector of w_t;
                                       with word features, + E_core and E_shape rows)
    h_t = recurrent layer(x_t, h_{t-1})   (RNN, LSTM or GRU; stacked)
    y_t = softmax(V h_t + b_y)        (a distribution over the next token)

Shape legend: B batch, T time, E embedding size, H hidden size, V vocabulary size.
The model returns logits V h_t + b_y; the softmax lives in the cross-entropy loss and the sampler.

With a large word vocabulary, the output layer V h_t costs most of the time (25,000 words x 200
units is 5M multiply-adds per token, against 0.3M for an LSTM layer of 200). `output="adaptive"`
replaces it by Grave et al.'s adaptive softmax (2017): the most frequent words (the vocabulary
is ranked by frequency) and one entry per cluster of rarer words are scored at full width, and a
word of a cluster by p(cluster) x p(word | cluster), through a smaller projection of h_t. The
probabilities stay exact and sum to 1 over all V words; training computes only the target's
cluster, so a step costs a fraction of the full product. With `tie_weights`, the embedding is the
output layer's V (E = H), or with the adaptive softmax, its own weights (adaptive_input.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.layers.dropout import Dropout
from rnnkit.models.adaptive_input import adaptive_input, adaptive_input_table
from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.models.word_features import WordFeatures
from rnnkit.values import COUNT, PROBABILITY, setting

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None

OUTPUTS = ("softmax", "adaptive")
# The adaptive softmax's head holds the most frequent tokens, up to the first cutoff; each later
# cluster is DIV times narrower than the one before (Grave et al.'s settings for word models).
ADAPTIVE_CUTOFFS = (2000, 10000)
ADAPTIVE_DIV = 4.0


def adaptive_cutoffs(vocab_size: int) -> list[int]:
    """The cluster boundaries for a vocabulary of `vocab_size` ranked tokens; below 2,000 tokens
    a head of a tenth and one cluster for the rest."""
    cutoffs = [c for c in ADAPTIVE_CUTOFFS if c < vocab_size - 1]
    return cutoffs or [max(1, vocab_size // 10)]


@dataclass
class LanguageModelConfig(RecurrentConfig):
    """Everything needed to rebuild a LanguageModel (saved in the run's config.json): the
    recurrent layers (RecurrentConfig) and the embedding and output around them. With
    word_features the model also needs the vocabulary's tokens (vocab.json)."""

    vocab_size: int = 0  # V, number of tokens (set from the vocabulary, not a flag)
    embedding_size: int | None = setting(
        None,
        "E, embedding size; 0 = one-hot input",
        COUNT,
        flag="--embedding",
        unset="E = H, the --proj size with --proj",
    )
    dropout: float = setting(
        0.0, "dropout on embeddings, between layers and before the output layer", PROBABILITY
    )
    tie_weights: bool = setting(
        False,
        "share the embedding with the output layer (needs E = H, or --proj); with --output "
        "adaptive, each word's vector is the adaptive softmax's (tied adaptive input)",
        flag="--tie",
    )
    output: str = setting(
        "softmax",
        "softmax: y = softmax(V h + b_y) over all tokens; adaptive: the adaptive softmax, exact "
        "and several times faster for large word vocabularies",
        choices=OUTPUTS,
    )
    word_features: bool = setting(
        False,
        "word level: a word's input adds vectors of its core and its shape (King, -> king and "
        "|Title|,), so its rare forms learn from its common ones",
    )


class LanguageModel(nn.Module):
    """Embedding (or one-hot) -> recurrent layers -> dropout -> linear, over V tokens.

    forward(tokens (B, T), state) -> (logits (B, T, V), state); step(token (B,), state) runs one
    time step for sampling, keeping the state between calls (O(1) work per token). `tokens`, the
    vocabulary's tokens in id order, is needed (only) with `config.word_features`.
    """

    def __init__(self, config: LanguageModelConfig, tokens: Sequence[str] | None = None) -> None:
        super().__init__()
        self.config = config
        V = config.vocab_size
        H = config.proj_size or config.hidden_size  # the features of h_t, what the output reads
        E = H if config.embedding_size is None else config.embedding_size
        if config.tie_weights and E != H:
            raise RnnkitError(
                f"weight tying needs embedding size = hidden size (got {E} and {H}); "
                "drop --tie or the --embedding size"
            )
        if config.output not in OUTPUTS:
            raise RnnkitError(f"unknown output {config.output!r}; use one of {', '.join(OUTPUTS)}")
        self.adaptive = config.output == "adaptive"
        # Tied to the adaptive softmax, x_t is read from its weights (adaptive_input.py).
        self.tied_input = self.adaptive and config.tie_weights
        self.embedding = nn.Embedding(V, E) if E > 0 and not self.tied_input else None
        self.word_features = self._word_features(tokens, E) if config.word_features else None
        self.rnn = config.build(input_size=E if E > 0 else V)
        self.dropout = Dropout(config.dropout)
        if self.adaptive and V < 3:
            raise RnnkitError(f"the adaptive softmax needs at least 3 tokens, the text has {V}")
        if self.adaptive:
            self.output = nn.AdaptiveLogSoftmaxWithLoss(H, V, adaptive_cutoffs(V), ADAPTIVE_DIV)
        else:
            self.output = nn.Linear(H, V)  # V h_t + b_y
        self._init_weights()
        if config.tie_weights and not self.adaptive:
            self.output.weight = self.embedding.weight

    def _word_features(self, tokens: Sequence[str] | None, E: int) -> WordFeatures:
        if tokens is None:
            raise RnnkitError(
                "--word-features needs the word vocabulary's tokens; it applies to word-level "
                "text models (--level word)"
            )
        if len(tokens) != self.config.vocab_size:
            raise RnnkitError(
                f"word features got {len(tokens)} tokens for a vocabulary of "
                f"{self.config.vocab_size}"
            )
        if E == 0:
            raise RnnkitError("--word-features needs an embedding; drop --embedding 0")
        return WordFeatures(tokens, E)

    def _init_weights(self) -> None:
        # Small uniform embedding and output weights, zero output bias (as in pytorch/examples'
        # word language model): the first predictions are near uniform, so the initial loss is
        # close to ln V, the loss of a model that knows nothing.
        if self.embedding is not None:
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        if not self.adaptive:
            nn.init.uniform_(self.output.weight, -0.1, 0.1)
            nn.init.zeros_(self.output.bias)

    def forward(self, tokens: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """tokens (B, T) int64 -> logits (B, T, V), the state after the last step."""
        h, state = self.hidden(tokens, state)
        return self.logits(h), state

    def hidden(self, tokens: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """tokens (B, T) -> the top layer's h_t (B, T, H), dropped out, and the final state."""
        if self.embedding is None and not self.tied_input:
            x = F.one_hot(tokens, self.config.vocab_size).to(self._dtype())  # (B, T, V)
        else:
            x = self.dropout(self.embed(tokens))  # (B, T, E)
        h, state = self.rnn(x, state)
        return self.dropout(h), state

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (...) -> x (..., E): the embedding row (or the tied adaptive softmax's vector),
        plus the word's features with `word_features`."""
        x = adaptive_input(self.output, tokens) if self.tied_input else self.embedding(tokens)
        return x if self.word_features is None else x + self.word_features(tokens)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """h (..., H) -> scores (..., V) whose softmax is the next token's distribution
        (log-probabilities for the adaptive softmax)."""
        if not self.adaptive:
            return self.output(h)
        return self.output.log_prob(h.reshape(-1, h.shape[-1])).view(*h.shape[:-1], -1)

    def nll(
        self,
        tokens: torch.Tensor,
        targets: torch.Tensor,
        state: State = None,
        ignore: int | None = None,
    ) -> tuple[torch.Tensor, State]:
        """The mean -ln p(target) over tokens (B, T) -> targets (B, T), and the final state.

        Targets equal to `ignore` (padding) are left out of the mean. The adaptive softmax
        scores only each target's cluster here, not all V tokens."""
        h, state = self.hidden(tokens, state)
        h, targets = h.reshape(-1, h.shape[-1]), targets.flatten()
        if ignore is not None:
            keep = targets != ignore
            h, targets = h[keep], targets[keep]
        if self.adaptive:
            return self.output(h, targets).loss, state
        return F.cross_entropy(self.output(h), targets), state

    def target_log_probs(
        self, tokens: torch.Tensor, targets: torch.Tensor, state: State = None
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """ln p(target) for each step of tokens (B, T) -> targets (B, T), the top layer's h_t
        (B, T, H) that gave it, and the final state (for the continuous cache, cache.py)."""
        h, state = self.hidden(tokens, state)
        flat_h, flat_targets = h.reshape(-1, h.shape[-1]), targets.flatten()
        if self.adaptive:
            log_p = self.output(flat_h, flat_targets).output
        else:
            log_p = -F.cross_entropy(self.output(flat_h), flat_targets, reduction="none")
        return log_p.view(targets.shape), h, state

    def input_vectors(self) -> torch.Tensor:
        """x for every token in token order (V, E): the embedding's rows, the one-hot vectors,
        or those of the tied adaptive softmax; with word features, plus theirs."""
        if self.tied_input:
            table = adaptive_input_table(self.output)
        elif self.embedding is None:
            V = self.config.vocab_size
            return torch.eye(V, dtype=self._dtype(), device=next(self.rnn.parameters()).device)
        else:
            table = self.embedding.weight
        return table if self.word_features is None else table + self.word_features.table()

    def _dtype(self) -> torch.dtype:
        return next(self.rnn.parameters()).dtype

    @torch.no_grad()
    def step(self, token: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """One time step: token (B,) -> logits (B, V) for the next token, and the new state."""
        logits, state = self(token.unsqueeze(1), state)  # (B, 1, V)
        return logits[:, 0], state

    def num_parameters(self) -> int:
        """Trainable parameters, a tied weight counted once."""
        return sum(p.numel() for p in self.parameters())


def detach_state(state: State) -> State:
    """Cut the graph at a chunk boundary (truncated BPTT): keep the values, drop the history."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
