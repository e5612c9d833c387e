"""torch.load of whole models under torch's default, weights_only=True.

Since torch 2.6, `torch.load(path)` rebuilds only the classes declared safe. rnnkit's module
classes hold plain state (numbers, strings, booleans, parameters and submodules; no functions,
dataclasses or enums: a merge or a backend is kept by its name), so they are declared safe once,
when rnnkit's layers are imported, with the one torch container they use, nn.ModuleList. A model
of your own declares its own classes and torch.nn's, as it would with torch.nn (docs/SWITCHING.md).
"""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.network import GRU, LSTM, RNN
from rnnkit.layers.recurrent import Recurrent

SAFE_CLASSES = (
    LSTM,
    GRU,
    RNN,
    Bidirectional,
    Recurrent,
    LSTMCell,
    GRUCell,
    RNNCell,
    Dropout,
    nn.ModuleList,
)


def declare_safe() -> None:
    """Let torch.load(weights_only=True) rebuild rnnkit's layers, cells and dropout."""
    torch.serialization.add_safe_globals(list(SAFE_CLASSES))
