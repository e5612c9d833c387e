"""An ONNX graph under construction: named inputs, constant weights, nodes, outputs.

A thin layer over the `onnx` package's helper API that hands out unique value names, so that the
code building a model's graph reads as the computation (`graph.node("MatMul", [h, w])`) and not
as bookkeeping. `onnx` is imported here only, and only when an export runs: rnnkit itself never
needs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np
import torch

from rnnkit.errors import RnnkitError
from rnnkit.version import __version__

# Operator set 18 (ONNX 1.13, onnxruntime >= 1.14): every operator used here, with the axes of the
# Reduce* operators given as an input. IR version 8 is the oldest file format that holds it.
OPSET = 18
IR_VERSION = 8

INSTALL_HINT = "pip install 'rnnkit[export]' (or pip install onnx onnxruntime)"

# A value's dimensions as ONNX declares them: a number, or a name for a size known at run time.
Shape = list[int | str]


def require_onnx() -> ModuleType:
    """The `onnx` package, or an error that says how to install it."""
    try:
        return importlib.import_module("onnx")
    except ImportError:
        raise RnnkitError(f"ONNX export needs the onnx package: {INSTALL_HINT}") from None


class Graph:
    """Collects the parts of one ONNX graph; `model()` assembles them into a ModelProto.

    With `outer`, the graph is the body of a control-flow operator (Scan) inside `outer`: it has
    its own inputs, nodes and outputs (`body()` assembles them), while its constants go to the
    outermost graph, whose values a body reads by name, and value names are unique across both.
    """

    def __init__(self, name: str, outer: Graph | None = None) -> None:
        self.onnx = require_onnx()
        self.name = name
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self.nodes: list[Any] = []
        if outer is None:
            self.initializers: list[Any] = []
            self._weights: dict[int, str] = {}  # id(parameter) -> name: a tied weight once
            self._indices: dict[tuple, str] = {}  # an int64 constant (axes, shapes) once
            self._used: set[str] = set()
        else:
            self.initializers = outer.initializers
            self._weights, self._indices, self._used = outer._weights, outer._indices, outer._used

    def _fresh(self, stem: str) -> str:
        name, k = stem, 1
        while name in self._used:
            k += 1
            name = f"{stem}_{k}"
        self._used.add(name)
        return name

    # ----- values ------------------------------------------------------------------------------
    def input(self, name: str, dtype: type, shape: Shape | None) -> str:
        """Declare a graph input: `dtype` np.float32, np.int64 or bool, `shape` numbers or
        names (None: left to the operator that runs a body)."""
        self._used.add(name)
        elem = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, elem, shape))
        return name

    def output(self, value: str, name: str, dtype: type, shape: Shape | None) -> None:
        """Publish `value` as the graph output `name` (through an Identity node if renamed)."""
        if value != name:
            self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name]))
            self._used.add(name)
        elem = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, elem, shape))

    def constant(self, stem: str, value: np.ndarray | list[int]) -> str:
        """A constant tensor: weights in float32, shapes and axes in int64."""
        array = np.asarray(value)
        if array.dtype.kind in "iu":
            array = array.astype(np.int64)
            key = (array.shape, tuple(array.flat))
            if key not in self._indices:
                self._indices[key] = self._add_initializer(stem, array)
            return self._indices[key]
        return self._add_initializer(stem, array.astype(np.float32))

    def _add_initializer(self, stem: str, array: np.ndarray) -> str:
        name = self._fresh(stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def weight(self, stem: str, parameter: torch.Tensor) -> str:
        """A model parameter as a float32 constant, stored once however often it is used."""
        key = id(parameter)
        if key not in self._weights:
            array = parameter.detach().to("cpu", torch.float32).numpy()
            self._weights[key] = self.constant(stem, array)
        return self._weights[key]

    # ----- computation ------------------------------------------------------------------------
    def linear(self, linear: torch.nn.Linear, x: str, stem: str) -> str:
        """x @ weight^T + bias of a torch.nn.Linear, over the last axis of x (..., in)."""
        weight = self.weight(f"{stem}_weight", linear.weight)  # (out, in)
        y = self.node("MatMul", [x, self.node("Transpose", [weight], perm=[1, 0])])
        if linear.bias is None:
            return y
        return self.node("Add", [y, self.weight(f"{stem}_bias", linear.bias)])

    def unsqueeze(self, value: str, axis: int) -> str:
        """`value` with a new axis of size 1 at `axis`."""
        return self.node("Unsqueeze", [value, self.constant(f"axis_{axis}", [axis])])

    def as_float(self, value: str) -> str:
        """A bool or integer value as float32."""
        return self.node("Cast", [value], to=self.onnx.TensorProto.FLOAT)

    def node(self, op: str, inputs: list[str], outputs: int = 1, **attributes) -> Any:
        """Add one operator; its output name, or a list of `outputs` names. An input "" is an
        optional input left out."""
        stem = op.lower()
        names = [self._fresh(f"{stem}_out{k}" if outputs > 1 else stem) for k in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, inputs, names, **attributes))
        return names if outputs > 1 else names[0]

    def body(self) -> Any:
        """The GraphProto of a body (see the class docstring): no initializers of its own."""
        return self.onnx.helper.make_graph(self.nodes, self.name, self.inputs, self.outputs)

    def model(self, doc: str, metadata: dict[str, str] | None = None) -> Any:
        """The checked ModelProto, with `doc` as its description and `metadata` as its
        metadata_props (onnxruntime: session.get_modelmeta().custom_metadata_map)."""
        onnx = self.onnx
        graph = onnx.helper.make_graph(
            self.nodes, self.name, self.inputs, self.outputs, self.initializers
        )
        model = onnx.helper.make_model(
            graph,
            opset_imports=[onnx.helper.make_opsetid("", OPSET)],
            producer_name="rnnkit",
            producer_version=__version__,
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        onnx.helper.set_model_props(model, metadata or {})
        onnx.checker.check_model(model, full_check=True)
        return model
