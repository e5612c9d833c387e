"""The math: one time step of each of the lecture's cells."""

from rnnkit.cells.base import Cell, State
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import RNNCell

__all__ = ["Cell", "GRUCell", "LSTMCell", "RNNCell", "State"]
