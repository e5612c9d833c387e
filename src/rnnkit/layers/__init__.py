"""Layers: a cell scanned over time, Bidirectional, the stacked RNN / LSTM / GRU networks, and
which backend runs them (backend_choice.py); torch.nn's names and state dicts (torch_state.py);
torch.load of whole models (safe_loading.py)."""

from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.network import GRU, LSTM, RNN, RecurrentNetwork
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.safe_loading import declare_safe
from rnnkit.layers.torch_state import from_torch_state_dict, torch_state_dict

declare_safe()

CELL_NAMES = ("rnn", "rnn-relu", "lstm", "gru", "gru-after")
# How pages, tables and plots name each cell (GRU*: cuDNN's placement of the reset gate).
DISPLAY_NAMES = {
    "rnn": "RNN",
    "rnn-relu": "RNN (ReLU)",
    "lstm": "LSTM",
    "gru": "GRU",
    "gru-after": "GRU*",
}


def display_name(cell: str) -> str:
    """The cell as a page names it: LSTM, GRU*, ... (the name as given where it is unknown)."""
    return DISPLAY_NAMES.get(cell, cell)


def build_recurrent(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
    batch_first: bool = True,
    backend: str | None = None,
    init: str = "torch",
    **options,
) -> RecurrentNetwork:
    """A network from a cell name, as the command line spells it (see CELL_NAMES); `options` are
    the cells' (rnnkit/cells/options.py)."""
    common = dict(
        num_layers=num_layers,
        dropout=dropout,
        bidirectional=bidirectional,
        batch_first=batch_first,
        backend=backend,
        init=init,
        **options,
    )
    if cell == "lstm":
        return LSTM(input_size, hidden_size, **common)
    if cell in ("gru", "gru-after"):
        reset = "after" if cell == "gru-after" else "before"
        return GRU(input_size, hidden_size, reset=reset, **common)
    if cell in ("rnn", "rnn-relu"):
        nonlinearity = "relu" if cell == "rnn-relu" else "tanh"
        return RNN(input_size, hidden_size, nonlinearity=nonlinearity, **common)
    raise ValueError(f"cell must be one of {CELL_NAMES}, got {cell!r}")


__all__ = [
    "CELL_NAMES",
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "Recurrent",
    "RecurrentNetwork",
    "build_recurrent",
    "from_torch_state_dict",
    "torch_state_dict",
]
