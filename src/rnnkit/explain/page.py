"""`rnnkit explain --format html`: a worked exercise as one page where every number can be edited.

The page is self-contained (inline CSS and JavaScript, no network). Python writes into it what
stays put while the learner types: the title, the notes, the step headings (words.py), each
formula with its names, and each formula with its numbers as a template whose leaves name a value:

    σ(W_f x_1 + U_f h_0 + b_f)                    the formula, as the text output prints it
    σ(⟨0⟩ ⟨1⟩ + ⟨2⟩ ⟨3⟩ + ⟨4⟩)   W_f x_1 U_f h_0 b_f  with its numbers
    σ(⟨0⟩)                       inner:f_1        its inside computed
    ⟨0⟩                          f_1              its value

The templates come from formula.render itself, so they print exactly as the text output does.
page.js holds the lecture's equations, one function per cell: from the fields (the inputs x_t,
every weight and bias) it computes every named value, and fills the templates with the text
output's number format (formula.format_number).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import fields, is_dataclass, replace
from importlib import resources

from rnnkit.explain.explanation import Explanation, Note, Quantity
from rnnkit.explain.formula import Expr, Symbol, render
from rnnkit.explain.inputs import layout
from rnnkit.explain.render import numbered
from rnnkit.explain.words import TEXT, say

# A template's k-th leaf; private-use characters, which no name contains.
LEAF = "\ue000{}\ue001"

# Sentences the page's script fills in and shows (page.js reads them by these keys).
SCRIPT_WORDS = ("page.invalid",)


def build_page(explanation: Explanation, lang: str) -> str:
    """The HTML page of `explanation` in `lang` ("en" or "vi")."""
    title = say(explanation.title.key, lang)
    data = {
        "model": explanation.model,
        "reading": explanation.reading,
        "other_reading": explanation.other_answer is not None,
        "title": title,
        "source": say("page.source", lang, source=say(f"source.{explanation.model}", lang)),
        "labels": {
            key: say(f"label.{key}", lang) for key in ("given", "note", "solution", "answer")
        },
        "reset": say("page.reset", lang),
        "words": {key: TEXT[key][lang] for key in SCRIPT_WORDS},  # page.js fills them in
        "given": _given(explanation),
        "notes": [_note(note, lang) for note in explanation.notes],
        "steps": _steps(explanation, lang),
        "answer": _answer(explanation),
    }
    # "<" escaped so that no text can close the script element.
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    script, style = _asset("page.js"), _asset("page.css")
    return (
        TEMPLATE.replace("__LANG__", lang)
        .replace("__TITLE__", html.escape(title))
        .replace("__NOSCRIPT__", html.escape(say("page.noscript", lang)))
        .replace("__STYLE__", style)
        .replace("__DATA__", payload)
        .replace("__SCRIPT__", script)
    )


def _asset(name: str) -> str:
    """page.js or page.css, shipped beside this module (pyproject.toml's package-data)."""
    text = resources.files("rnnkit.explain").joinpath(name).read_text(encoding="utf-8")
    if "</" in text:
        raise RuntimeError(f"{name} holds '</', which would end its element inside the page")
    return text


# ----- the data -------------------------------------------------------------------------------
def _given(explanation: Explanation) -> list[dict]:
    """Every given symbol and its role: the inputs x_t and the parameters are fields on the page;
    the initial states (h_0, c_0) are not, as the lecture starts from zero."""
    parameters = set(layout(explanation.model, explanation.reading or "lecture").names)

    def role(name: str) -> str:
        if name in parameters:
            return "parameter"
        return "input" if re.fullmatch(r"x_\d+", name) else "state"

    return [
        {"name": s.name, "value": s.value.tolist(), "role": role(s.name)} for s in explanation.given
    ]


def _note(note: Note, lang: str) -> dict:
    """A note's sentence; exercise 4's answer under the other reading ({other}) is left as a
    leaf for the page to compute."""
    if "other" not in note.args:
        return {"template": say(note.key, lang, **note.args), "leaves": []}
    args = {**note.args, "other": LEAF.format(0)}
    return {"template": say(note.key, lang, **args), "leaves": ["other:y"]}


def _steps(explanation: Explanation, lang: str) -> list[dict]:
    return [
        {
            "time": say("label.time", lang, t=step.time) if new_time else None,
            "heading": say("label.step", lang, n=number, name=say(step.key, lang)),
            "quantities": [_quantity(quantity) for quantity in step.quantities],
        }
        for number, step, new_time in numbered(explanation.steps)
    ]


def _quantity(quantity: Quantity) -> dict:
    """The symbol and its lines (render._lines, as templates): the formula, with its numbers,
    with its inside computed, the value. The page drops a line equal to the one before."""
    name = quantity.symbol.name
    lines = [
        {"template": render(quantity.formula), "leaves": []},
        _template(quantity.formula, name),
    ]
    if quantity.evaluated is not None:
        lines.append(_template(quantity.evaluated, name))
    lines.append({"template": LEAF.format(0), "leaves": [name]})
    return {"symbol": name, "lines": lines}


def _template(expr: Expr, quantity: str) -> dict:
    """`expr` printed with its numbers, each symbol a leaf: its name, or inner:QUANTITY for the
    one nameless value (an activation's argument, or tanh(c_t)) the quantity shows inside."""
    leaves: list[str] = []

    def leaf(part):
        if isinstance(part, Symbol):
            key = part.name or f"inner:{quantity}"
            if key in leaves and not part.name:
                raise ValueError(f"{quantity} shows two nameless values; the page names one")
            leaves.append(key)
            return Symbol(LEAF.format(len(leaves) - 1), "", part.value)
        if isinstance(part, tuple):
            return tuple(leaf(item) for item in part)
        if is_dataclass(part):
            return replace(part, **{f.name: leaf(getattr(part, f.name)) for f in fields(part)})
        return part  # an activation's name

    return {"template": render(leaf(expr)), "leaves": leaves}


def _answer(explanation: Explanation) -> dict:
    """render._answer as a template: "h_1 = ⟨0⟩" or "y_1 = ⟨0⟩, y_2 = ⟨1⟩"."""
    symbols = explanation.answer
    template = ", ".join(f"{s.name} = {LEAF.format(k)}" for k, s in enumerate(symbols))
    return {"template": template, "leaves": [s.name for s in symbols]}


TEMPLATE = """<!DOCTYPE html>
<html lang="__LANG__">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
__STYLE__
</style>
</head>
<body>
<main id="page">
<h1>__TITLE__</h1>
<noscript><p>__NOSCRIPT__</p></noscript>
</main>
<script type="application/json" id="data">__DATA__</script>
<script>
__SCRIPT__
</script>
</body>
</html>
"""
