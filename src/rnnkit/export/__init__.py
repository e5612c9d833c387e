"""Export trained rnnkit models to ONNX, to run them without rnnkit, Python or torch.

    rnnkit.export.to_onnx(rnnkit.GRU(8, 16), "gru.onnx")          # a network
    rnnkit.export.to_onnx(language_model, "lm.onnx")              # its step model, for sampling
    rnnkit export RUN --format onnx --out model.onnx               # a trained run, from the shell

Every rnnkit cell is a standard ONNX operator (RNN, LSTM, GRU; operator set OPSET): the lecture's
GRU, reset="before", is ONNX's GRU with linear_before_reset=0, which exporters that go through
torch.nn.GRU cannot write. weights.py holds the mapping of gates, signs and biases; docs/DEPLOY.md
shows how to run the files in onnxruntime. Needs the `onnx` package (pip install 'rnnkit[export]');
rnnkit itself imports without it.
"""

from rnnkit.export.graph import OPSET
from rnnkit.export.writer import to_onnx

__all__ = ["OPSET", "to_onnx"]
