"""`rnnkit explain`: the lecture's exercises worked step by step by rnnkit's own cells.

    from rnnkit.explain import build_page, explain, render_explanation
    print(render_explanation(explain("lstm"), "text", "vi"))
    html = build_page(explain("gru"), "en")   # a page where every number can be edited

explain(model, params, x, reading) -> Explanation; model is "lstm" (exercise 2), "gru"
(exercise 3), "birnn" (exercise 4) or "rnn" (rnnkit's own small exercise). Without params and x
it works the lecture's exercise; params (the lecture's names -> nested lists) and x (one list of
numbers per time step) explain any cell and input.
"""

from __future__ import annotations

import torch

from rnnkit.errors import RnnkitError
from rnnkit.explain.birnn import READINGS, explain_birnn
from rnnkit.explain.exercises import EXERCISES
from rnnkit.explain.explanation import Explanation, Note
from rnnkit.explain.gru import explain_gru
from rnnkit.explain.inputs import check_params, check_x, layout, parse_x, read_params_file
from rnnkit.explain.lstm import explain_lstm
from rnnkit.explain.page import build_page
from rnnkit.explain.render import FORMATS, render_explanation
from rnnkit.explain.rnn import explain_rnn
from rnnkit.explain.words import LANGS, WROTE

MODELS = ("lstm", "gru", "birnn", "rnn")

EXPLAINERS = {"lstm": explain_lstm, "gru": explain_gru, "rnn": explain_rnn}


@torch.no_grad()
def explain(
    model: str,
    params: dict | None = None,
    x: list[list[float]] | None = None,
    reading: str | None = None,
) -> Explanation:
    """Work `model`'s exercise (or the given params and x) step by step, in float64."""
    if model not in MODELS:
        raise RnnkitError(
            f"unknown model {model!r}; choose one of {', '.join(MODELS)}",
            f"không có mô hình {model!r}; hãy chọn một trong {', '.join(MODELS)}",
        )
    if reading is not None and model != "birnn":
        raise RnnkitError(
            "--reading applies only to birnn (exercise 4); leave it out",
            "--reading chỉ dùng cho birnn (bài tập 4); hãy bỏ nó đi",
        )
    reading = reading or "lecture"
    if reading not in READINGS:
        raise RnnkitError(
            f"reading must be one of {', '.join(READINGS)}, got {reading!r}",
            f"reading phải là một trong {', '.join(READINGS)}, nhận được {reading!r}",
        )
    exercise = EXERCISES[model]
    kind = "exercise" if params is None and x is None else "custom"
    title = Note(f"title.{model}.{kind}")
    raw = exercise.params if params is None else params
    source = "slide" if params is None else "file"
    xs = exercise.x if x is None else x
    params_checked, notes, x_tensor = _check(raw, model, reading, xs, source)
    if model != "birnn":
        return EXPLAINERS[model](params_checked, x_tensor, title, notes)
    try:
        other, _, _ = _check(raw, model, READINGS[1 - READINGS.index(reading)], xs, source)
    except RnnkitError:
        other = None  # the other reading does not fit these shapes
    return explain_birnn(params_checked, x_tensor, title, notes, reading, other)


def _check(raw: dict, model: str, reading: str, xs: list[list[float]], source: str):
    """The parameters, the notes on them and the input (T, D), checked against the model."""
    model_layout = layout(model, reading)
    params, notes = check_params(raw, model, model_layout, len(xs), source)
    weight = model_layout.inputs[0]
    return params, notes, check_x(xs, params[weight].shape[1], weight)


__all__ = [
    "FORMATS",
    "LANGS",
    "MODELS",
    "READINGS",
    "WROTE",
    "Explanation",
    "build_page",
    "explain",
    "parse_x",
    "read_params_file",
    "render_explanation",
]
