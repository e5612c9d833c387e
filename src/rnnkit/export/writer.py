"""`to_onnx(module, path)`: which graph a module gets, and writing it to a file."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.export.classifier import classifier_graph
from rnnkit.export.graph import Graph
from rnnkit.export.network import network_graph
from rnnkit.export.step_model import step_model_graph
from rnnkit.files import write_file
from rnnkit.layers.network import RecurrentNetwork
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.committee import Committee
from rnnkit.models.language import LanguageModel
from rnnkit.models.pianoroll import PianoRollModel

EXPORTABLE = (
    "an rnnkit RNN, LSTM or GRU, a LanguageModel, a PianoRollModel, or a SequenceClassifier or "
    "a Committee of them"
)


def to_onnx(
    module: nn.Module,
    path: str | Path,
    *,
    lengths: bool = False,
    initial_state: bool = False,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write `module` as an ONNX model (operator set rnnkit.export.OPSET, float32) to `path`.

    A network (rnnkit.RNN / LSTM / GRU) takes `input` and, if asked, `lengths` and `h_0` (`c_0`),
    and returns `output`, `h_n` (`c_n`) as rnnkit does. A LanguageModel or PianoRollModel is
    written as its step model, (tokens or frames, h_0[, c_0]) -> (logits, h_n[, c_n]), which a
    sampling loop drives one step at a time; a SequenceClassifier as (x, lengths) -> logits, a
    Committee of them as (x, lengths) -> the log of their mean probability.
    The file is written whole or not at all; `metadata` goes into its metadata_props.
    """
    graph = _graph(module, lengths, initial_state)
    model = graph.model(_describe(module), metadata)
    path = Path(path)
    return write_file(path, model.SerializeToString())


def _graph(module: nn.Module, lengths: bool, initial_state: bool) -> Graph:
    if isinstance(module, RecurrentNetwork):
        return network_graph(module, lengths, initial_state)
    if lengths or initial_state:
        raise RnnkitError(
            "lengths= and initial_state= are for a bare network; a language or piano-roll model "
            "always takes its states, a classifier always its lengths"
        )
    if isinstance(module, PianoRollModel) and module.config.output == "nade":
        # The step model's output is V h_t + b_y; a NADE draws a frame key by key instead.
        raise RnnkitError(
            "a piano-roll model with --output nade cannot be exported to ONNX (its frames are "
            "drawn key by key); export a run trained with --output sigmoid"
        )
    if isinstance(module, (LanguageModel, PianoRollModel)):
        return step_model_graph(module)
    if isinstance(module, Committee) and len(module.members) == 1:
        module = module.members[0]  # its logits, not the log-probabilities of a committee of one
    if isinstance(module, (SequenceClassifier, Committee)):
        return classifier_graph(module)
    raise RnnkitError(f"cannot export a {type(module).__name__} to ONNX; give {EXPORTABLE}")


def _describe(module: nn.Module) -> str:
    return f"rnnkit {type(module).__name__}:\n{module}"
