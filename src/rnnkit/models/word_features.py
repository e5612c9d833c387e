"""A word's input vector from its parts: the word, its core, its shape (`--word-features`).

Split on whitespace, a text has many forms of one word: "king", "King", "king," and "king."
are four tokens, each with an embedding row of its own, and most of a small text's words are
seen once or twice (Tiny Shakespeare: 17,500 of its 24,000 training words, half of them forms of
a word seen more often). With word features, the input of word w is the sum

    x_t = E[w] + E_core[core(w)] + E_shape[shape(w)]

core(w): w lower-cased, without the punctuation before and after it ("King," -> "king");
shape(w): that punctuation and the case of the rest ("King," -> "|Title|,"). A rare form then
starts from what the model learned of its word and of its shape, as factored language models
share statistics between a word's features (Bilmes & Kirchhoff 2003; Alexandrescu & Kirchhoff
2006, with embeddings). Only the input changes: the output still scores every token on its own,
so perplexities stay comparable with a model without features.

Both maps are computed from the vocabulary's tokens (a run's vocab.json), not saved: the same
tokens give the same ids in the same order (cores and shapes sorted), so a checkpoint holds
only the two tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnkit.data.text.vocabulary import UNK

# punctuation (not letters, digits or _) before the word, the word, punctuation after it
PARTS = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)


def word_parts(token: str) -> tuple[str, str]:
    """(core, shape) of a token: ("king", "|Title|,") for "King,". A token of punctuation only
    (",", the line end) and the unknown word are their own core, with shape "symbol"."""
    lead, core, trail = PARTS.match(token).groups()
    if not core or token == UNK:
        return token, "symbol"
    if core.islower():
        case = "lower"
    elif core.istitle():
        case = "Title"
    elif core.isupper():
        case = "UPPER"
    else:
        case = "other"  # digits, mixed case ("McBeth")
    return core.lower(), f"{lead}|{case}|{trail}"


class WordFeatures(nn.Module):
    """E_core[core(w)] + E_shape[shape(w)] for tokens w of a vocabulary (see the module
    docstring); the model adds it to its own embedding row E[w]."""

    def __init__(self, tokens: Sequence[str], size: int) -> None:
        super().__init__()
        parts = [word_parts(token) for token in tokens]
        cores = {c: i for i, c in enumerate(sorted({c for c, _ in parts}))}
        shapes = {s: i for i, s in enumerate(sorted({s for _, s in parts}))}
        # derived from the tokens, so not in the state dict (persistent=False)
        self.register_buffer("core_ids", torch.tensor([cores[c] for c, _ in parts]), False)
        self.register_buffer("shape_ids", torch.tensor([shapes[s] for _, s in parts]), False)
        self.core = nn.Embedding(len(cores), size)
        self.shape = nn.Embedding(len(shapes), size)
        # as the model's own embedding (language.py): small, so the first predictions are even
        nn.init.uniform_(self.core.weight, -0.1, 0.1)
        nn.init.uniform_(self.shape.weight, -0.1, 0.1)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (...) int64 -> (..., E)."""
        return self.core(self.core_ids[tokens]) + self.shape(self.shape_ids[tokens])

    def table(self) -> Tensor:
        """The features of every token, in token order (V, E)."""
        return self.core(self.core_ids) + self.shape(self.shape_ids)

    def extra_repr(self) -> str:
        return f"{len(self.core_ids)} tokens, {self.core.num_embeddings} cores, " + (
            f"{self.shape.num_embeddings} shapes"
        )
