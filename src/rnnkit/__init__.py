"""rnnkit: the lecture "Variants of Recurrent Neural Network" as a PyTorch library.

import rnnkit
lstm = rnnkit.LSTM(input_size=10, hidden_size=20, num_layers=2)   # torch.nn's arguments
output, (h_n, c_n) = lstm(x)                                        # torch.nn's results
lstm.params(layer=0)["W_f"]                                         # the lecture's names
"""

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
