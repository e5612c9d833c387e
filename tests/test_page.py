"""rnnkit.studies.page (`rnnkit compare --html`): one self-contained page; in headless Chromium
its tables are tables.py's, its plots decode, its verdict is the verdict's sentences, and it
fetches nothing."""

import re

import pytest

from compare_results import FAR, LECTURE, made
from devtools import Browser
from rnnkit.studies import tables
from rnnkit.studies.page import build_page
from rnnkit.studies.plots import gradient_flow_png, memory_png
from rnnkit.studies.verdict import LANGS, findings, sentences

COMMAND = "rnnkit compare --out <here> --budget 3"

# Every table as {name: [caption, header, rows]}, every image's decoded size, the verdicts.
READ_PAGE = """(() => ({
  tables: Object.fromEntries([...document.querySelectorAll("table")].map((t) => [
    t.dataset.table,
    [t.caption.textContent,
     [...t.tHead.rows[0].cells].map((c) => c.textContent),
     [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent))],
  ])),
  images: [...document.images].map((i) => [i.complete, i.naturalWidth, i.naturalHeight]),
  verdicts: Object.fromEntries([...document.querySelectorAll("ul.verdict")].map((u) => [
    u.lang, [...u.querySelectorAll("li")].map((li) => li.textContent)])),
  command: document.querySelector("pre.command").textContent,
  fetched: performance.getEntriesByType("resource").map((r) => r.name),
}))()"""


@pytest.fixture(scope="module")
def results():
    return made(FAR, LECTURE)


@pytest.fixture(scope="module")
def page(results) -> str:
    verdicts = {lang: sentences(findings(results), lang) for lang in LANGS}
    plots = {"memory.png": memory_png(results), "gradient_flow.png": gradient_flow_png(results)}
    return build_page(results, COMMAND, verdicts, plots)


def test_page_is_self_contained(page):
    assert not re.search(r"https?://|<link|<script|@import|url\(", page)
    assert re.findall(r"src='([^:']*):", page) == ["data", "data"]  # the two plots, inline


def expected_tables(results) -> dict[str, list]:
    made = {"parameters": tables.parameter_table(results)}
    for task in ("adding", "copy"):
        made[f"scores-{task}"] = tables.score_table(results, task)
        made[f"losses-{task}"] = tables.loss_table(results, task)
    made["gradients"] = tables.gradient_table(results)
    return {name: [t.caption, t.header, t.rows] for name, t in made.items()}


def test_chromium_shows_the_tables_plots_and_verdicts(browser, tmp_path, results, page):
    path = tmp_path / "results.html"
    path.write_text(page, encoding="utf-8")
    with Browser(browser, tmp_path / "profile") as chromium:
        chromium.open(path.as_uri(), ready="[...document.images].every((i) => i.complete)")
        shown = chromium.evaluate(READ_PAGE)
    assert shown["tables"] == expected_tables(results)
    # memory.png: 11 x 4 inches at 100 dpi; gradient_flow.png the same.
    assert shown["images"] == [[True, 1100, 400], [True, 1100, 400]]
    assert shown["verdicts"] == {lang: sentences(findings(results), lang) for lang in LANGS}
    assert shown["command"] == COMMAND
    assert shown["fetched"] == []
