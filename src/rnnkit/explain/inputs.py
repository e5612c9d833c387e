"""A user's parameters (`--params FILE.json`) and input (`--x "2,3,-1"`), read and checked.

A params file is one JSON object from the lecture's names to numbers, e.g. for an LSTM
{"W_f": [[1, -2, 5], [5, 5, 0]], "U_f": [[1, 5], [2, 1]], "b_f": [5, 2], ...}. Shapes, with
H hidden units, D input features and K outputs:

    input weights (W_f, ...)       H x D
    recurrent weights (U_f, ...)   H x H
    biases (b_f, ...)              H
    output weights (V, V_A, ...)   K x H, or H for one output
    output biases (b_y)            K

A recurrent weight with H rows and more than H columns (the lecture's exercise 2 prints its U
matrices 2x3) is accepted for a one-step input, where h_0 = 0 makes U h_0 = 0 whatever U holds;
its first H columns are used and a note says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.explain.explanation import Note
from rnnkit.files import check_not_a_pipe, reason_vi


@dataclass(frozen=True)
class Layout:
    """Which names a model's parameters have, by role."""

    inputs: tuple[str, ...]  # H x D, multiply x_t
    recurrent: tuple[str, ...]  # H x H, multiply h_{t-1}
    biases: tuple[str, ...] = ()  # H
    outputs: tuple[str, ...] = ()  # K x H (or H), multiply h_t
    output_biases: tuple[str, ...] = ()  # K
    optional: tuple[str, ...] = ()  # names that may be left out, all together

    @property
    def names(self) -> tuple[str, ...]:
        return self.inputs + self.recurrent + self.biases + self.outputs + self.output_biases


def gate_layout(gates: str) -> Layout:
    """W_g, U_g, b_g for each gate letter g."""
    return Layout(
        inputs=tuple(f"W_{g}" for g in gates),
        recurrent=tuple(f"U_{g}" for g in gates),
        biases=tuple(f"b_{g}" for g in gates),
    )


def birnn_layout(reading: str) -> Layout:
    """Exercise 4's letters: the lecture's reading has W on the input, the vanilla slide's U."""
    A, B = ("W_A", "W_A'"), ("U_A", "U_A'")
    inputs, recurrent = (A, B) if reading == "lecture" else (B, A)
    return Layout(inputs=inputs, recurrent=recurrent, outputs=("V_A", "V_A'"))


LAYOUTS = {
    "lstm": gate_layout("fioc"),
    "gru": gate_layout("zrh"),
    "rnn": Layout(
        inputs=("W",),
        recurrent=("U",),
        biases=("b",),
        outputs=("V",),
        output_biases=("b_y",),
        optional=("V", "b_y"),
    ),
}


def layout(model: str, reading: str = "lecture") -> Layout:
    return birnn_layout(reading) if model == "birnn" else LAYOUTS[model]


# ----- reading ------------------------------------------------------------------------------
# What Python's json module says of the mistakes a hand-written file makes, in Vietnamese.
JSON_VI = {
    "Expecting value": "thiếu một giá trị: một dấu phẩy thừa, hay một số viết sai?",
    "Expecting property name enclosed in double quotes": 'tên phải nằm trong dấu ngoặc kép "…", '
    "không dùng dấu nháy đơn, và không có dấu phẩy thừa trước }",
    "Expecting ',' delimiter": "thiếu dấu phẩy",
    "Expecting ':' delimiter": "thiếu dấu hai chấm sau tên",
    "Extra data": "có dữ liệu thừa sau đối tượng JSON",
    "Unterminated string starting at": "một chuỗi thiếu dấu ngoặc kép đóng",
}


def read_params_file(path: Path) -> dict:
    """The JSON object in `path`, or a clear error."""
    check_not_a_pipe(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RnnkitError(
            f"cannot read params file {path}: {error.strerror}; give a JSON file of the "
            "lecture's names (see docs/LEARNING.md)",
            f"không đọc được tệp tham số {path}: {reason_vi(error)}; hãy đưa một tệp JSON dùng "
            "các tên trong bài giảng (xem docs/LEARNING.md)",
        ) from None
    except UnicodeDecodeError as error:
        raise RnnkitError(
            f"params file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8 JSON",
            f"tệp tham số {path} không phải văn bản UTF-8 (byte {error.start}); hãy lưu nó "
            "thành JSON UTF-8",
        ) from None
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise RnnkitError(
            f"params file {path} is not valid JSON ({error.msg} at line {error.lineno} "
            f"column {error.colno}); fix it and retry",
            f"tệp tham số {path} không phải JSON hợp lệ ở dòng {error.lineno}, cột {error.colno}: "
            f"{JSON_VI.get(error.msg, error.msg)}; hãy sửa rồi chạy lại",
        ) from None
    except RnnkitError:  # NaN or Infinity (_reject_constant)
        raise
    except ValueError:  # Python's limit on the digits of an integer (4,300)
        raise RnnkitError(
            f"params file {path} holds a number too long to read; write each number with a few "
            "digits (e.g. 1e300 rather than all of them)",
            f"tệp tham số {path} chứa một số quá dài để đọc; hãy viết mỗi số bằng ít chữ số (ví "
            "dụ 1e300 thay vì viết hết các chữ số)",
        ) from None
    except RecursionError:
        raise RnnkitError(
            f"params file {path} is nested too deeply; it should map names to matrices",
            f"tệp tham số {path} lồng nhau quá sâu; nó cần ánh xạ mỗi tên tới một ma trận",
        ) from None
    if not isinstance(raw, dict):
        example = '{"W": [[1, 2]], "U": [[1]], "b": [0]}'
        raise RnnkitError(
            f"params file {path} must hold one JSON object mapping names to numbers, "
            f"e.g. {example}",
            f"tệp tham số {path} phải chứa một đối tượng JSON ánh xạ các tên tới các con số, "
            f"ví dụ {example}",
        )
    return raw


def _reject_constant(name: str) -> float:
    raise RnnkitError(
        f"params file holds {name}; every entry must be a finite number",
        f"tệp tham số chứa {name}; mọi phần tử phải là một số hữu hạn",
    )


def parse_x(text: str) -> list[list[float]]:
    """'2,3,-1' -> [[2, 3, -1]]; '1,0;0,1' -> [[1, 0], [0, 1]] (steps split by ';')."""
    steps = []
    for part in text.split(";"):
        numbers = []
        for item in part.split(","):
            try:
                number = float(item)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise RnnkitError(
                    f"--x: {item.strip()!r} is not a number; write numbers separated by commas "
                    'and time steps by semicolons, e.g. --x "1,0;0,1"',
                    f"--x: {item.strip()!r} không phải là số; hãy viết các số cách nhau bởi dấu "
                    'phẩy và các bước thời gian cách nhau bởi dấu chấm phẩy, ví dụ --x "1,0;0,1"',
                )
            numbers.append(number)
        steps.append(numbers)
    if len({len(step) for step in steps}) != 1:
        counts = [len(step) for step in steps]
        raise RnnkitError(
            f"--x: every time step needs the same number of values, got {counts}; e.g. "
            '--x "1,0;0,1"',
            f'--x: mọi bước thời gian cần cùng số giá trị, nhận được {counts}; ví dụ --x "1,0;0,1"',
        )
    return steps


# ----- checking -----------------------------------------------------------------------------
def to_tensor(name: str, value: object) -> Tensor:
    """A nested list of numbers as a float64 tensor, or a clear error naming the bad entry."""
    _check_numbers(name, value)
    try:
        return torch.tensor(value, dtype=torch.float64)
    except (ValueError, TypeError):
        raise RnnkitError(
            f"{name} has rows of different lengths; write it as a list of equal-length rows",
            f"{name} có các hàng dài ngắn khác nhau; hãy viết nó thành danh sách các hàng dài "
            "bằng nhau",
        ) from None


def _check_numbers(where: str, value: object) -> None:
    if isinstance(value, list):
        if not value:
            raise RnnkitError(
                f"{where} is empty; give its numbers", f"{where} đang trống; hãy điền các số của nó"
            )
        for k, item in enumerate(value):
            _check_numbers(f"{where}[{k}]", item)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RnnkitError(
            f"{where} is {json.dumps(value)}, not a number; write numbers only",
            f"{where} là {json.dumps(value)}, không phải là số; chỉ được viết số",
        )
    if not math.isfinite(value):
        raise RnnkitError(
            f"{where} is {value}; every entry must be a finite number",
            f"{where} là {value}; mọi phần tử phải là một số hữu hạn",
        )


def check_params(
    raw: dict, model: str, layout: Layout, steps: int, source: str
) -> tuple[dict[str, Tensor], list[Note]]:
    """The named tensors with their shapes checked, and notes on anything read leniently.

    `source` is "slide" (the lecture's exercise) or "file" (--params), for the notes.
    """
    given = set(raw)
    missing = [name for name in layout.names if name not in given and name not in layout.optional]
    if missing:
        needed = ", ".join(n for n in layout.names if n not in layout.optional)
        optional = ", ".join(layout.optional)
        raise RnnkitError(
            f"the {model} parameters lack {', '.join(missing)}; {model} needs {needed}"
            + (f" (and optionally {optional})" if optional else ""),
            f"bộ tham số {model} thiếu {', '.join(missing)}; {model} cần {needed}"
            + (f" (và có thể thêm {optional})" if optional else ""),
        )
    unknown = sorted(given - set(layout.names))
    if unknown:
        names = ", ".join(layout.names)
        raise RnnkitError(
            f"unknown parameter {', '.join(unknown)} for {model}; its names are {names}",
            f"{model} không có tham số {', '.join(unknown)}; các tên của nó là {names}",
        )
    optional_given = [name for name in layout.optional if name in given]
    if optional_given and len(optional_given) != len(layout.optional):
        only = ", ".join(optional_given)
        raise RnnkitError(
            f"give {' and '.join(layout.optional)} together, or neither (got only {only})",
            f"hãy đưa {' và '.join(layout.optional)} cùng nhau, hoặc không đưa cái nào (mới "
            f"chỉ có {only})",
        )
    params = {name: to_tensor(name, raw[name]) for name in layout.names if name in given}
    H, D = _common_shape(layout.inputs, params)
    for name in layout.inputs:
        _expect(name, params[name], (H, D), "hidden x input", "số chiều ẩn x số chiều đầu vào")
    for name in layout.biases:
        _expect(name, params[name], (H,), "one per hidden unit", "mỗi chiều ẩn một số")
    notes = _check_recurrent(params, layout.recurrent, H, steps, source)
    _check_outputs(params, layout, H)
    return params, notes


def check_x(xs: list[list[float]], input_size: int, weight: str) -> Tensor:
    """The input as a (T, D) float64 tensor whose D matches the input weights' columns."""
    x = to_tensor("x", xs)
    if x.dim() != 2 or x.shape[1] != input_size:
        got = x.shape[-1] if x.dim() else 1
        raise RnnkitError(
            f"each input step has {_shape_text((got,))} but {weight} has {input_size} columns; "
            f"give --x with {_shape_text((input_size,))} per step",
            f"mỗi bước đầu vào có {got} số nhưng {weight} có {input_size} cột; hãy đưa --x với "
            f"{input_size} số mỗi bước",
        )
    return x


def _common_shape(names: tuple[str, ...], params: dict[str, Tensor]) -> tuple[int, int]:
    """(H, D), the shape most of the input weights have: the odd one out is the one to fix,
    whichever comes first."""
    shapes = [_matrix_shape(name, params[name]) for name in names]
    return max(shapes, key=shapes.count)


def _matrix_shape(name: str, value: Tensor) -> tuple[int, int]:
    if value.dim() != 2:
        raise RnnkitError(
            f"{name} must be a matrix (a list of rows), got shape {_shape(value)}",
            f"{name} phải là một ma trận (danh sách các hàng), nhận được {_shape(value, 'vi')}",
        )
    return value.shape[0], value.shape[1]


def _expect(
    name: str, value: Tensor, shape: tuple[int, ...], meaning: str, meaning_vi: str
) -> None:
    if tuple(value.shape) != shape:
        raise RnnkitError(
            f"{name} must be {_shape_text(shape)} ({meaning}), got {_shape(value)}; fix its size",
            f"{name} phải {'gồm' if len(shape) == 1 else 'là ma trận'} "
            f"{_shape_text(shape, 'vi')} ({meaning_vi}), nhận được {_shape(value, 'vi')}; hãy "
            "sửa kích thước của nó",
        )


def _check_recurrent(
    params: dict[str, Tensor], names: tuple[str, ...], H: int, steps: int, source: str
) -> list[Note]:
    """U must be H x H; a wider U is harmless for one step from h_0 = 0 (exercise 2's slide)."""
    wide = []
    for name in names:
        U = params[name]
        if U.dim() == 2 and U.shape[0] == H and U.shape[1] > H:
            wide.append(name)
            continue
        meaning = (
            "hidden x hidden: it multiplies h_{t-1}",
            "số chiều ẩn x số chiều ẩn: nó nhân với h_{t-1}",
        )
        _expect(name, U, (H, H), *meaning)
    if not wide:
        return []
    shape = _shape(params[wide[0]])
    if steps > 1:
        raise RnnkitError(
            f"{', '.join(wide)} must be {H}x{H} (hidden x hidden), got {shape}; with one input "
            f"step h_0 = 0 hides this, but this input has {steps} steps: give {H}x{H} ones in "
            "--params FILE.json",
            f"{', '.join(wide)} phải là {H}x{H} (số chiều ẩn x số chiều ẩn), nhận được {shape}; "
            "với đầu vào chỉ một bước, vì h_0 = 0 nên lỗi này không lộ ra, nhưng đầu vào này có "
            f"{steps} bước: hãy đưa ma trận {H}x{H} trong --params FILE.json",
        )
    for name in wide:
        params[name] = params[name][:, :H]
    return [Note(f"note.u_wide.{source}", {"names": ", ".join(wide), "shape": shape, "H": str(H)})]


def _check_outputs(params: dict[str, Tensor], layout: Layout, H: int) -> None:
    outputs = [name for name in layout.outputs if name in params]
    if not outputs:
        return
    first = params[outputs[0]]
    if first.dim() not in (1, 2) or first.shape[-1] != H:
        raise RnnkitError(
            f"{outputs[0]} must be K x {H} (outputs x hidden) or {H} numbers, got {_shape(first)}",
            f"{outputs[0]} phải là K x {H} (số chiều đầu ra x số chiều ẩn) hoặc {H} số, nhận được "
            f"{_shape(first, 'vi')}",
        )
    for name in outputs:
        _expect(
            name,
            params[name],
            tuple(first.shape),
            f"the shape of {outputs[0]}",
            f"cùng kích thước với {outputs[0]}",
        )
    for name in layout.output_biases:
        if name in params:
            shape = tuple(first.shape[:-1]) or (1,)
            _expect(name, params[name], shape, "one per output", "mỗi output một số")


def _shape(value: Tensor, lang: str = "en") -> str:
    if value.dim():
        return _shape_text(tuple(value.shape), lang)
    return "một số đơn lẻ" if lang == "vi" else "a single number"


def _shape_text(shape: tuple[int, ...], lang: str = "en") -> str:
    if len(shape) > 1:
        return "x".join(str(n) for n in shape)
    if lang == "vi":
        return f"{shape[0]} số"
    return f"{shape[0]} number" + ("s" if shape[0] != 1 else "")
