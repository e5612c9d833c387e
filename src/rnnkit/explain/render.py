"""An Explanation printed as text (a terminal), Markdown with LaTeX (notes) or JSON (tools)."""

from __future__ import annotations

import json

from rnnkit.explain.explanation import Explanation, Note, Quantity, Step
from rnnkit.explain.formula import Symbol, format_tensor, render
from rnnkit.explain.words import say

FORMATS = ("text", "markdown", "json")


def render_explanation(explanation: Explanation, format: str = "text", lang: str = "en") -> str:
    """The whole explanation in `format` ("text", "markdown" or "json") and `lang`."""
    renderers = {"text": to_text, "markdown": to_markdown, "json": to_json}
    return renderers[format](explanation, lang)


# ----- shared ---------------------------------------------------------------------------------
def _note(note: Note, lang: str) -> str:
    return say(note.key, lang, **note.args)


def _source(explanation: Explanation, lang: str) -> str:
    return say("label.source", lang, source=say(f"source.{explanation.model}", lang))


def numbered(steps: tuple[Step, ...]) -> list[tuple[int, Step, bool]]:
    """(number, step, starts a new time step): steps are numbered 1, 2, ... within a time step."""
    timed = len({step.time for step in steps}) > 1
    numbered, number, time = [], 0, object()
    for step in steps:
        new_time = timed and step.time != time
        number = 1 if step.time != time else number + 1
        time = step.time
        numbered.append((number, step, new_time))
    return numbered


def _lines(quantity: Quantity, latex: bool) -> list[str]:
    """The formula, with its numbers, with its inner part computed, the value; no repeats."""
    lines = [
        render(quantity.formula, latex),
        render(quantity.formula, latex, numbers=True),
    ]
    if quantity.evaluated is not None:
        lines.append(render(quantity.evaluated, latex, numbers=True))
    lines.append(format_tensor(quantity.symbol.value, latex))
    unique = [lines[0]]
    for line in lines[1:]:
        if line != unique[-1]:
            unique.append(line)
    return unique


def _answer(answer: tuple[Symbol, ...], latex: bool) -> str:
    name = (lambda s: s.latex) if latex else (lambda s: s.name)
    return ", ".join(f"{name(s)} = {format_tensor(s.value, latex)}" for s in answer)


# ----- text -----------------------------------------------------------------------------------
def to_text(explanation: Explanation, lang: str) -> str:
    out = [say(explanation.title.key, lang), _source(explanation, lang), ""]
    out.append(say("label.given", lang) + ":")
    out += [f"  {s.name} = {format_tensor(s.value)}" for s in explanation.given]
    for note in explanation.notes:
        out += ["", f"{say('label.note', lang)}: {_note(note, lang)}"]
    out += ["", say("label.solution", lang) + ":"]
    for number, step, new_time in numbered(explanation.steps):
        if new_time:
            out += ["", say("label.time", lang, t=step.time)]
        out += ["", say("label.step", lang, n=number, name=say(step.key, lang))]
        for quantity in step.quantities:
            first, *rest = _lines(quantity, latex=False)
            symbol = quantity.symbol.name
            out.append(f"  {symbol} = {first}")
            out += [f"  {' ' * len(symbol)} = {line}" for line in rest]
    out += ["", f"{say('label.answer', lang)}: {_answer(explanation.answer, latex=False)}"]
    return "\n".join(out)


# ----- Markdown -------------------------------------------------------------------------------
def _md(text: str) -> str:
    """Plain text safe in Markdown: underscores and asterisks do not start emphasis."""
    return text.replace("_", r"\_").replace("*", r"\*")


def to_markdown(explanation: Explanation, lang: str) -> str:
    out = [
        f"## {_md(say(explanation.title.key, lang))}",
        "",
        f"*{_md(_source(explanation, lang))}*",
    ]
    out += ["", f"**{say('label.given', lang)}:**", ""]
    out += [f"- ${s.latex} = {format_tensor(s.value, latex=True)}$" for s in explanation.given]
    for note in explanation.notes:
        out += ["", f"> **{say('label.note', lang)}:** {_md(_note(note, lang))}"]
    out += ["", f"### {say('label.solution', lang)}"]
    for number, step, new_time in numbered(explanation.steps):
        if new_time:
            out += ["", f"#### {say('label.time', lang, t=step.time)}"]
        out += ["", f"**{_md(say('label.step', lang, n=number, name=say(step.key, lang)))}**", ""]
        for quantity in step.quantities:
            first, *rest = _lines(quantity, latex=True)
            rows = [f"{quantity.symbol.latex} &= {first}"] + [f"&= {line}" for line in rest]
            out += ["$$", r"\begin{aligned}", " \\\\\n".join(rows), r"\end{aligned}", "$$"]
    answer = _answer(explanation.answer, latex=True)
    out += ["", f"**{say('label.answer', lang)}:** ${answer}$"]
    return "\n".join(out)


# ----- JSON -----------------------------------------------------------------------------------
def to_json(explanation: Explanation, lang: str) -> str:
    """The steps, each quantity's formulas and value, and a top-level `answer`.

    `answer` is the final vector, or the list of output vectors for a sequence.
    """
    answer = [symbol.value.tolist() for symbol in explanation.answer]
    document = {
        "model": explanation.model,
        "lang": lang,
        "title": say(explanation.title.key, lang),
        "source": _source(explanation, lang),
        "notes": [_note(note, lang) for note in explanation.notes],
        "given": {s.name: s.value.tolist() for s in explanation.given},
        "steps": [
            {
                "number": number,
                "time": step.time,
                "name": say(step.key, lang),
                "quantities": [_quantity_json(q) for q in step.quantities],
            }
            for number, step, _ in numbered(explanation.steps)
        ],
        "answer_symbols": [symbol.name for symbol in explanation.answer],
        "answer": answer[0] if len(answer) == 1 else answer,
    }
    if explanation.reading is not None:
        document["reading"] = explanation.reading
        other = explanation.other_answer
        document["other_reading_answer"] = None if other is None else other.tolist()
    return json.dumps(document, ensure_ascii=False, indent=2)


def _quantity_json(quantity: Quantity) -> dict:
    return {
        "symbol": quantity.symbol.name,
        "formula": render(quantity.formula),
        "substituted": render(quantity.formula, numbers=True),
        "evaluated": None
        if quantity.evaluated is None
        else render(quantity.evaluated, numbers=True),
        "value": quantity.symbol.value.tolist(),
    }
