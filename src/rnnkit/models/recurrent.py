"""The recurrent layers every task's model is built on, as one settings dataclass.

Each task's model config (LanguageModelConfig, PianoRollModelConfig, ClassifierConfig) extends
RecurrentConfig with what its head needs; the fields here are the same flags in every task
(--cell, --hidden, --layers, --dropout, --backend, and the cells' options: --layer-norm,
--input-dropout, --recurrent-dropout, --output-dropout, --weight-dropout, --zoneout, --zoneout-c,
--proj; rnnkit/cells/options.py). Each task says its own defaults in one place, its recipe
(rnnkit.train.task), which `--help` shows. A run folder written before the options existed has
none of them in its config.json: they default off, so it loads as the network it was.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from rnnkit.cells.options import Options
from rnnkit.errors import RnnkitError
from rnnkit.layers import CELL_NAMES, RecurrentNetwork, build_recurrent
from rnnkit.layers.backend_choice import BACKENDS
from rnnkit.values import COUNT, LAYERS, POSITIVE_INT, PROBABILITY, setting

LSTM_ONLY = {"zoneout_c": "--zoneout-c", "proj_size": "--proj"}


@dataclass
class RecurrentConfig:
    """Which cell, how wide, how deep, how regularised, and on which backend."""

    cell: str = setting(
        "lstm",
        "recurrent cell; gru is the lecture's (reset before U_h), gru-after cuDNN's",
        choices=CELL_NAMES,
    )
    hidden_size: int = setting(256, "H, units per recurrent layer", POSITIVE_INT, flag="--hidden")
    num_layers: int = setting(2, "recurrent layers stacked", LAYERS, flag="--layers")
    dropout: float = setting(
        0.0, "dropout between stacked layers and before the output layer", PROBABILITY
    )
    backend: str | None = setting(
        None, "layer backend; default: the fastest exact one for the cell", choices=BACKENDS
    )
    layer_norm: bool = setting(
        False,
        "layer norm inside the cell (Ba et al.): on W x_t and U h_{t-1} of each gate, and on "
        "c_t inside an LSTM's h_t",
    )
    input_dropout: float = setting(
        0.0, "dropout on each layer's input x_t, one mask per sequence", PROBABILITY
    )
    recurrent_dropout: float = setting(
        0.0, "dropout on h_{t-1} where U multiplies it, one mask per sequence", PROBABILITY
    )
    output_dropout: float = setting(
        0.0, "dropout on each layer's output (not its state), one mask per sequence", PROBABILITY
    )
    weight_dropout: float = setting(
        0.0, "DropConnect on the recurrent weights U, one mask per forward call", PROBABILITY
    )
    zoneout: float = setting(
        0.0, "probability that a unit of h keeps its previous value at a step", PROBABILITY
    )
    zoneout_c: float = setting(
        0.0, "LSTM: probability that a unit of c keeps its previous value", PROBABILITY
    )
    proj_size: int = setting(
        0,
        "LSTM: h projected to this many features, torch.nn.LSTM's proj_size (0: none)",
        COUNT,
        flag="--proj",
    )

    def cell_options(self) -> dict:
        """The cells' options that are set (cells/options.py), checked against the cell."""
        options = {
            f.name: getattr(self, f.name) for f in fields(Options) if getattr(self, f.name, None)
        }
        for name, flag in LSTM_ONLY.items():
            if name in options and self.cell != "lstm":
                raise RnnkitError(f"{flag} is an LSTM option; --cell {self.cell} has none")
        if self.proj_size >= self.hidden_size:
            raise RnnkitError(
                f"--proj must be smaller than --hidden ({self.hidden_size}), got {self.proj_size}"
            )
        return options

    def build(
        self, input_size: int, bidirectional: bool = False, batch_first: bool = True
    ) -> RecurrentNetwork:
        """The stacked network these settings describe, reading `input_size` features per step."""
        network = build_recurrent(
            self.cell,
            input_size,
            self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout if self.num_layers > 1 else 0.0,
            bidirectional=bidirectional,
            batch_first=batch_first,
            **self.cell_options(),
        )
        if self.backend is not None:
            available = network.available_backends()
            if self.backend not in available:
                raise RnnkitError(
                    f"--backend {self.backend} cannot run this network (its cell or its "
                    f"options); use {' or '.join(available)}, or leave --backend out"
                )
            network.backend = self.backend
        return network
