"""rnnkit explain --format html: the page and its command; in headless Chromium, the numbers the
page shows on load and after typing into its fields are what `rnnkit explain` prints."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from devtools import Browser
from rnnkit.cli.main import main
from rnnkit.explain import MODELS, build_page, explain
from rnnkit.explain.inputs import layout
from rnnkit.explain.words import say

READY = "document.body.dataset.ready === 'true'"

# What the page shows, read from its DOM and laid out as the text output lays out its solution.
READ_PAGE = """(() => {
  const solution = [];
  for (const node of document.querySelectorAll("#solution > *")) {
    if (node.matches("pre")) solution.push(...node.textContent.split("\\n").map((l) => "  " + l));
    else solution.push("", node.textContent);
  }
  const message = document.getElementById("message");
  return {
    title: document.querySelector("h1").textContent,
    notes: [...document.querySelectorAll("p.note")].map((p) => p.textContent),
    solution,
    message: message.hidden ? null : message.textContent,
    stale: document.getElementById("solution").classList.contains("stale"),
    bad: [...document.querySelectorAll("input.bad")].map((i) => i.getAttribute("aria-label")),
    text: document.body.innerText,
  };
})()"""

# Type into fields as a learner does: set the text, then the input event the page listens to.
TYPE = """((edits) => {
  for (const [name, index, text] of edits) {
    const field = document.querySelector(`input[data-name="${name}"][data-index="${index}"]`);
    field.value = text;
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }
  return document.querySelectorAll("input.number").length;
})"""


@pytest.fixture(scope="module")
def chromium(browser, tmp_path_factory):
    """One headless Chromium for the module (the `browser` fixture is its path, conftest.py)."""
    with Browser(browser, tmp_path_factory.mktemp("profile")) as driver:
        yield driver


def run_explain(capsys, *args: str) -> str:
    """What `rnnkit explain ARGS` prints."""
    capsys.readouterr()
    assert main(["explain", *args]) == 0
    return capsys.readouterr().out.removesuffix("\n")


def write_page(capsys, path: Path, *args: str) -> Path:
    run_explain(capsys, *args, "--format", "html", "--out", str(path))
    return path


def expected(text: str, lang: str = "en") -> dict:
    """The title, the notes and the solution (with the answer) of the text output."""
    lines = text.splitlines()
    start = lines.index(say("label.solution", lang) + ":")
    note = say("label.note", lang) + ": "
    return {
        "title": lines[0],
        "notes": [line for line in lines[:start] if line.startswith(note)],
        "solution": lines[start + 1 :],
    }


def shown(chromium: Browser) -> dict:
    return chromium.evaluate(READ_PAGE)


def assert_shows(page: dict, text: dict) -> None:
    assert page["solution"] == text["solution"]
    assert page["message"] is None and not page["stale"] and not page["bad"]


# ----- random parameters, as a params file, an --x and edits ---------------------------------
def random_like(shapes: dict[str, tuple[int, ...]], rng: random.Random) -> dict[str, list]:
    def numbers(shape):
        if not shape:
            return rng.gauss(0, 2)
        return [numbers(shape[1:]) for _ in range(shape[0])]

    return {name: numbers(shape) for name, shape in shapes.items()}


def shapes_of(model: str, D: int, H: int, T: int, K: int | None) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape (K None: no output layer) and x's, (T, D)."""
    names = layout(model)
    shapes = {name: (H, D) for name in names.inputs}
    shapes |= {name: (H, H) for name in names.recurrent}
    shapes |= {name: (H,) for name in names.biases}
    if K is not None:
        shapes |= {name: (K, H) for name in names.outputs}
        shapes |= {name: (K,) for name in names.output_biases}
    return shapes | {"x": (T, D)}


def as_args(values: dict[str, list], folder: Path, name: str) -> list[str]:
    """--params FILE (written into `folder`) and --x for `values` (x: the input, (T, D))."""
    params = {key: value for key, value in values.items() if key != "x"}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(params), encoding="utf-8")
    steps = ";".join(",".join(repr(v) for v in step) for step in values["x"])
    return ["--params", str(path), f"--x={steps}"]


def as_edits(values: dict[str, list]) -> list[list[str]]:
    """[field name, index, text] for every number; x's rows are the fields x_1, ..., x_T."""
    named = {key: value for key, value in values.items() if key != "x"}
    named |= {f"x_{t}": step for t, step in enumerate(values["x"], start=1)}
    edits = []
    for name, value in named.items():
        for index, number in _flat(value, ()):
            edits.append([name, ",".join(map(str, index)), repr(number)])
    return edits


def _flat(value, index):
    if not isinstance(value, list):
        return [(index, value)]
    return [item for k, v in enumerate(value) for item in _flat(v, (*index, k))]


def type_into(chromium: Browser, edits: list[list[str]]) -> int:
    """Type the edits; the number of fields on the page."""
    return chromium.evaluate(f"{TYPE}({json.dumps(edits)})")


# ----- the page as written --------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_page_is_self_contained(model):
    page = build_page(explain(model), "vi")
    assert not re.search(r"https?://|<link|\bsrc=|@import|url\(", page)
    assert page.count("<script") == page.count("</script>") == 2  # the data and the script
    assert '<html lang="vi">' in page


def test_html_needs_out(capsys, tmp_path):
    assert main(["explain", "gru", "--format", "html"]) == 2
    assert "give --out" in capsys.readouterr().err


def test_out_is_replaced_only_with_force(capsys, tmp_path):
    out = tmp_path / "page.html"
    out.write_text("mine", encoding="utf-8")
    assert main(["explain", "gru", "--format", "html", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "mine"
    write_page(capsys, out, "gru", "--force")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left beside it


def test_out_takes_every_format(capsys, tmp_path):
    printed = run_explain(capsys, "birnn", "--format", "json")
    run_explain(capsys, "birnn", "--format", "json", "--out", str(tmp_path / "b.json"))
    assert (tmp_path / "b.json").read_text(encoding="utf-8") == printed + "\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "{tmp}/missing/page.html"], "does not exist"),
        (["--out", "{tmp}"], "is a folder"),
        (["--force"], "--force replaces the file given by --out"),
    ],
)
def test_out_errors(capsys, tmp_path, args, message):
    args = [arg.format(tmp=tmp_path) for arg in args]
    assert main(["explain", "lstm", "--format", "json", *args]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# ----- in headless Chromium -------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "vi"])
@pytest.mark.parametrize(
    "args", [("lstm",), ("gru",), ("birnn",), ("birnn", "--reading", "vanilla"), ("rnn",)]
)
def test_page_shows_the_exercise_as_the_text_output(chromium, capsys, tmp_path, args, lang):
    page = write_page(capsys, tmp_path / "page.html", *args, "--lang", lang)
    chromium.open(page.as_uri(), READY)
    text = expected(run_explain(capsys, *args, "--lang", lang), lang)
    page = shown(chromium)
    assert_shows(page, text)
    assert page["title"] == text["title"]
    assert page["notes"] == text["notes"]


@pytest.mark.parametrize(
    "model, sizes",  # D inputs, H hidden units, T steps, K outputs (None: no output layer)
    [
        ("lstm", (2, 3, 3, None)),
        ("gru", (3, 2, 3, None)),
        ("rnn", (2, 3, 3, 4)),
        ("rnn", (3, 2, 2, None)),
        ("birnn", (3, 2, 3, 2)),
        ("birnn", (2, 2, 3, 2)),  # D = H: the note gives the other reading's answer
    ],
)
def test_typing_random_numbers_follows_rnnkit(chromium, capsys, tmp_path, model, sizes):
    rng = random.Random(f"{model}{sizes}")
    shapes = shapes_of(model, *sizes)
    first, second = random_like(shapes, rng), random_like(shapes, rng)
    page = write_page(capsys, tmp_path / "page.html", model, *as_args(first, tmp_path, "first"))
    chromium.open(page.as_uri(), READY)
    text = expected(run_explain(capsys, model, *as_args(first, tmp_path, "first")))
    assert_shows(shown(chromium), text)

    edits = as_edits(second)
    assert type_into(chromium, edits) == len(edits)  # every input, weight and bias is a field
    text = expected(run_explain(capsys, model, *as_args(second, tmp_path, "second")))
    page = shown(chromium)
    assert_shows(page, text)
    assert page["notes"] == text["notes"]


@pytest.mark.parametrize("model", MODELS)
def test_typing_into_the_exercise_follows_rnnkit(chromium, capsys, tmp_path, model):
    page = write_page(capsys, tmp_path / "page.html", model, "--lang", "vi")
    chromium.open(page.as_uri(), READY)
    given = {s.name: tuple(s.value.shape) for s in explain(model).given}
    steps = [name for name in given if name.startswith("x_")]
    shapes = {name: given[name] for name in layout(model).names if name in given}
    values = random_like(shapes | {"x": (len(steps), given["x_1"][0])}, random.Random(model))
    type_into(chromium, as_edits(values))
    text = run_explain(capsys, model, *as_args(values, tmp_path, "p"), "--lang", "vi")
    text = expected(text, "vi")
    page = shown(chromium)
    assert_shows(page, text)
    assert set(text["notes"]) <= set(page["notes"])  # the other reading's answer follows too


def test_numbers_print_as_python_prints_them(chromium, capsys, tmp_path):
    """Halves at the 10th decimal round to even as Python's format does (toFixed rounds them
    away from zero); 1e22 is written out; -1e-12 is ≈0 (rounds to 0 without being 0)."""
    page = write_page(capsys, tmp_path / "page.html", "birnn")
    chromium.open(page.as_uri(), READY)
    values = {
        "W_A": [[0.00048828125, -0.00146484375], [1e22, -1e-12]],
        "W_A'": [[0.5, 2.0], [2.0, 123456.00048828125]],
        "U_A": [[1.0, 1.0], [1.0, 2.0]],
        "U_A'": [[3.0, -1.0], [0.0, 1.0]],
        "V_A": [-1.0, 0.0],
        "V_A'": [1.0, 1.0],
        "x": [[1.0, 0.0], [0.0, 1.0]],
    }
    type_into(chromium, as_edits(values))
    text = expected(run_explain(capsys, "birnn", *as_args(values, tmp_path, "p")))
    page = shown(chromium)
    assert_shows(page, text)
    solution = "\n".join(page["solution"])
    for number in ("0.0004882812", "-0.0014648438", "10000000000000000000000", "123456.0004882812"):
        assert number in solution


def test_a_field_that_is_not_a_number_is_marked(chromium, capsys, tmp_path):
    page = write_page(capsys, tmp_path / "page.html", "gru")
    chromium.open(page.as_uri(), READY)
    before = shown(chromium)
    for text in ("abc", "1e999", "0x10", "", "1,5"):
        type_into(chromium, [["W_z", "0,1", text]])
        page = shown(chromium)
        assert page["bad"] == ["W_z[0][1]"]
        assert "W_z[0][1]" in page["message"] and f"“{text}”" in page["message"]
        assert page["stale"] and page["solution"] == before["solution"]
        assert not re.search(r"\bnan\b|NaN|Infinity", page["text"])

    type_into(chromium, [["W_z", "0,1", " -2.5e0 "]])
    exercise = json.loads(run_explain(capsys, "gru", "--format", "json"))["given"]
    params = {name: value for name, value in exercise.items() if name in layout("gru").names}
    params["W_z"][0][1] = -2.5
    values = params | {"x": [exercise["x_1"]]}
    text = run_explain(capsys, "gru", *as_args(values, tmp_path, "p"))
    assert_shows(shown(chromium), expected(text))

    chromium.evaluate("document.querySelector('button.reset').click()")
    assert shown(chromium)["solution"] == before["solution"]
