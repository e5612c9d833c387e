"""rnnkit: the lecture "Variants of Recurrent Neural Network" as a PyTorch library.

import rnnkit
lstm = rnnkit.LSTM(input_size=10, hidden_size=20, num_layers=2)   # torch.nn's arguments
output, (h_n, c_n) = lstm(x)                                        # torch.nn's results
lstm.params(layer=0)["W_f"]                                         # the lecture's names
"""

import os
import sys

# Threads that wait at the end of a parallel region sleep instead of spinning (GNU OpenMP, which
# torch's CPU kernels use). Spinning wins only while every thread has a core to itself: with one
# other busy process on a 2-core machine, 2-thread training ran 6.8x slower (129 s against 19 s,
# docs/PERFORMANCE.md). Read once, when torch loads: set OMP_WAIT_POLICY yourself to choose.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.errors import RnnkitError
from rnnkit.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Recurrent,
    build_recurrent,
    from_torch_state_dict,
    torch_state_dict,
)
from rnnkit.version import __version__

# The Python classes pull in the training stack (matplotlib, tqdm); loaded only when asked for.
MODELS = ("TextModel", "MusicModel", "MelodyModel", "SeriesClassifier")


def __getattr__(name: str):
    if name in MODELS:
        from rnnkit.tasks import api

        return getattr(api, name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")


__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "GRUCell",
    "LSTMCell",
    "MelodyModel",
    "MusicModel",
    "RNNCell",
    "Recurrent",
    "RnnkitError",
    "SeriesClassifier",
    "TextModel",
    "__version__",
    "build_recurrent",
    "from_torch_state_dict",
    "torch_state_dict",
]
