"""`rnnkit visualize`: what the units of a trained character-level language model do.

    from rnnkit.visualize import visualize_text
    html = visualize_text(model, vocab, "some text")     # a self-contained HTML page

`model` is a language model with an `rnn` (an rnnkit network) between its embedding (or one-hot
input) and its output layer, called as model(tokens (B, T)); `vocab` has `encode(text)` and
`tokens`. The page colours the text by any unit of any layer's h, cell state or gate, lists the
units most correlated with simple features of the text, and shows the gates' saturation
(Karpathy, Johnson, Fei-Fei 2015).
"""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.visualize.page import build_page
from rnnkit.visualize.trace import Signal, trace_language_model


def visualize_text(
    model: nn.Module, vocab, text: str, title: str, subtitle: str = "", lang: str = "en"
) -> str:
    """The HTML page of `model`'s units over `text` (character level), in `lang` ("en", "vi")."""
    if getattr(vocab, "level", "char") != "char":
        raise RnnkitError("visualize needs a character-level model; this one reads words")
    if not text:
        raise RnnkitError("the text to visualise is empty; give a file with some characters")
    ids = vocab.encode(text)
    chars = [vocab.tokens[i] for i in ids]
    device = next(model.parameters()).device
    signals = trace_language_model(model, torch.tensor(ids, device=device))
    return build_page(chars, [_on_cpu(s) for s in signals], title, subtitle, lang)


def _on_cpu(signal: Signal) -> Signal:
    return Signal(signal.layer, signal.name, signal.kind, signal.values.cpu())


__all__ = ["Signal", "build_page", "trace_language_model", "visualize_text"]
