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

Both maps are computed from the vocabulary's tokens when the model is built, and saved with
the weights (two int64 tensors of V ids): a checkpoint restores the maps it was trained with,
even if a later rnnkit (or Python's Unicode tables) split some word differently into as many
cores and shapes; a split into another number of them is refused on loading (retrain).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnkit.data.text.vocabulary import UNK


def is_word_character(character: str) -> bool:
    """A letter, a digit or _ (what a regular expression's \\w matches)."""
    return character.isalnum() or character == "_"


def word_parts(token: str) -> tuple[str, str]:
    """(core, shape) of a token: ("king", "|Title|,") for "King,". A token of punctuation only
    (",", the line end) and the unknown word are their own core, with shape "symbol"."""
    inside = [i for i, character in enumerate(token) if is_word_character(character)]
    if not inside or token == UNK:
        return token, "symbol"
    first, last = inside[0], inside[-1] + 1
    lead, core, trail = token[:first], token[first:last], token[last:]
    if core.islower():
        case = "lower"
    elif core[0].isupper() and core[1:] == core[1:].lower():
        case = "Title"  # also "King's" and "To-morrow", which str.istitle() refuses
    elif core.isupper():
        case = "UPPER"
    else:
        case = "other"  # digits; a capital inside ("McBeth", "All-Seer")
    return core.lower(), f"{lead}|{case}|{trail}"


class WordFeatures(nn.Module):
    """E_core[core(w)] + E_shape[shape(w)] for tokens w of a vocabulary (see the module
    docstring); the model adds it to its own embedding row E[w]."""

    def __init__(self, tokens: Sequence[str], size: int) -> None:
        super().__init__()
        parts = [word_parts(token) for token in tokens]
        cores = {c: i for i, c in enumerate(sorted({c for c, _ in parts}))}
        shapes = {s: i for i, s in enumerate(sorted({s for _, s in parts}))}
        self.register_buffer("core_ids", torch.tensor([cores[c] for c, _ in parts]))  # (V,)
        self.register_buffer("shape_ids", torch.tensor([shapes[s] for _, s in parts]))  # (V,)
        self.core_embedding = nn.Embedding(len(cores), size)  # E_core
        self.shape_embedding = nn.Embedding(len(shapes), size)  # E_shape
        # as the model's own embedding (language.py): small, so the first predictions are even
        nn.init.uniform_(self.core_embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.shape_embedding.weight, -0.1, 0.1)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (...) int64 -> (..., E)."""
        return self.core_embedding(self.core_ids[tokens]) + self.shape_embedding(
            self.shape_ids[tokens]
        )

    def table(self) -> Tensor:
        """The features of every token, in token order (V, E)."""
        return self.core_embedding(self.core_ids) + self.shape_embedding(self.shape_ids)

    def extra_repr(self) -> str:
        cores, shapes = self.core_embedding.num_embeddings, self.shape_embedding.num_embeddings
        return f"{len(self.core_ids)} tokens, {cores} cores, {shapes} shapes"
