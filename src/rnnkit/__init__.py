"""rnnkit: the lecture "Variants of Recurrent Neural Network" as a PyTorch library.

import rnnkit
lstm = rnnkit.LSTM(input_size=10, hidden_size=20, num_layers=2)   # torch.nn's arguments
output, (h_n, c_n) = lstm(x)                                        # torch.nn's results
lstm.params(layer=0)["W_f"]                                         # the lecture's names
"""

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.errors import RnnkitError
from rnnkit.layers import GRU, LSTM, RNN, Bidirectional, Recurrent, build_recurrent

__version__ = "0.1.0"


def __getattr__(name: str):
    # TextModel pulls in the training stack (matplotlib, tqdm); load it only when asked for.
    if name == "TextModel":
        from rnnkit.train.text_model import TextModel

        return TextModel
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")


__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "Recurrent",
    "RnnkitError",
    "TextModel",
    "__version__",
    "build_recurrent",
]
