"""The recurrent layers every task's model is built on, as one settings dataclass.

Each task's model config (LanguageModelConfig, PianoRollModelConfig, ClassifierConfig) extends
RecurrentConfig with what its head needs; the fields here are the same flags in every task
(--cell, --hidden, --layers, --dropout, --backend). Each task says its own defaults in one place,
its recipe (rnnkit.train.task), which `--help` shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.layers import CELL_NAMES, RecurrentNetwork, build_recurrent
from rnnkit.layers.backend_choice import BACKENDS
from rnnkit.values import POSITIVE_INT, PROBABILITY, setting


@dataclass
class RecurrentConfig:
    """Which cell, how wide, how deep, how regularised, and on which backend."""

    cell: str = setting(
        "lstm",
        "recurrent cell; gru is the lecture's (reset before U_h), gru-after cuDNN's",
        choices=CELL_NAMES,
    )
    hidden_size: int = setting(256, "H, units per recurrent layer", POSITIVE_INT, flag="--hidden")
    num_layers: int = setting(2, "recurrent layers stacked", POSITIVE_INT, flag="--layers")
    dropout: float = setting(
        0.0, "dropout between stacked layers and before the output layer", PROBABILITY
    )
    backend: str | None = setting(
        None, "layer backend; default: the fastest exact one for the cell", choices=BACKENDS
    )

    def build(
        self, input_size: int, bidirectional: bool = False, batch_first: bool = True
    ) -> RecurrentNetwork:
        """The stacked network these settings describe, reading `input_size` features per step."""
        return build_recurrent(
            self.cell,
            input_size,
            self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout if self.num_layers > 1 else 0.0,
            bidirectional=bidirectional,
            batch_first=batch_first,
            backend=self.backend,
        )
