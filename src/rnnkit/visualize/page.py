"""The visualisation as one self-contained HTML page: inline CSS, inline JS, no network.

    text        every character coloured by the chosen unit's value there (blue > 0, red < 0;
                a gate's 0..1 is shown as -1..1, so a closed gate is red and an open one blue)
    browse      a signal (layer, h / cell state / gate) and a unit; arrow keys or buttons step
                through the units; the URL's #signal=S&unit=K opens one directly
    features    the units most correlated with simple features of the text (features.py)
    saturation  per gate, histograms of how often units are below 0.1 or above 0.9, and the
                scatter of the two fractions, one dot per unit (saturation.py)

Values travel as bytes, base64-encoded, unit-major: byte k*T + t is unit k at step t, the value
v quantised to round(255 * v) for gates (0..1) and round(255 * (v + 1) / 2) otherwise (-1..1;
unbounded values are shown through tanh).
"""

from __future__ import annotations

import base64
import html
import json
import re

import torch
from torch import Tensor

from rnnkit.visualize.features import text_features, top_units
from rnnkit.visualize.saturation import HIGH, LOW, histogram, saturation
from rnnkit.visualize.trace import Signal
from rnnkit.visualize.words import FEATURES, QUANTITIES, say

TOP_UNITS = 3  # units listed per signal and feature
# The words of the page's template (TEMPLATE's __KEY__ placeholders), from words.py.
PLAIN_WORDS = ("signal", "unit", "previous", "next", "gate_closed", "gate_half", "gate_open")
PLAIN_WORDS += ("keys", "features_heading", "features_text", "saturation_heading")


def build_page(
    chars: list[str], signals: list[Signal], title: str, subtitle: str = "", lang: str = "en"
) -> str:
    """The HTML page for `signals` (each (T, H)) over the text `chars` (T characters), its words
    in `lang` ("en" or "vi")."""
    data = {
        "chars": chars,
        "signals": [
            {
                "label": label(s, lang)
                + (say(lang, "through_tanh") if s.kind == "unbounded" else ""),
                "kind": s.kind,
                "units": s.values.shape[1],
                "data": encode(s),
            }
            for s in signals
        ],
        "status": say(lang, "status", signal="{signal}", unit="{unit}", units="{units}"),
    }
    # "<" escaped so that no text can close the script element.
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    words = {
        "__TITLE__": html.escape(title),
        "__SUBTITLE__": html.escape(subtitle),
        "__LANG__": lang,
        "__FEATURES__": features_table(chars, signals, lang),
        "__SATURATION__": saturation_section(signals, lang),
        "__DATA__": payload,
    }
    for key in PLAIN_WORDS:
        words[f"__{key.upper()}__"] = html.escape(say(lang, key))
    words["__SATURATION_TEXT__"] = html.escape(say(lang, "saturation_text", low=LOW, high=HIGH))
    # One pass over the template: a text that holds "__DATA__" stays as it is.
    return re.sub(r"__[A-Z_]+__", lambda match: words[match.group(0)], TEMPLATE)


def label(signal: Signal, lang: str = "en") -> str:
    """'layer 1 · f (forget gate)': the layer and the quantity, in `lang`."""
    quantity = QUANTITIES[lang].get(signal.name, signal.name)
    return say(lang, "signal_label", layer=signal.layer, quantity=quantity)


def quantise(signal: Signal) -> Tensor:
    """(H, T) uint8: the values as bytes, as the page's JS reads them back."""
    values = signal.values.double().T  # (H, T), unit-major
    if signal.kind == "gate":
        scaled = values.clamp(0, 1)
    else:
        bounded = values.tanh() if signal.kind == "unbounded" else values.clamp(-1, 1)
        scaled = (bounded + 1) / 2
    return (scaled * 255).round().to(torch.uint8)


def encode(signal: Signal) -> str:
    return base64.b64encode(quantise(signal).contiguous().numpy().tobytes()).decode("ascii")


# ----- the units most correlated with features --------------------------------------------------
def features_table(chars: list[str], signals: list[Signal], lang: str = "en") -> str:
    features = text_features(chars)
    head = "".join(f"<th>{html.escape(FEATURES[lang][name])}</th>" for name in features)
    rows = []
    for index, signal in enumerate(signals):
        cells = []
        for feature in features.values():
            if feature.max() == feature.min():  # constant (or one character): no correlation
                cells.append(f'<td class="none">{html.escape(say(lang, "not_in_text"))}</td>')
                continue
            links = [
                f'<a href="#signal={index}&amp;unit={unit}" class="unit-link" '
                f'data-signal="{index}" data-unit="{unit}">{say(lang, "unit_k", unit=unit)}</a> '
                f"(r = {r:+.2f})"
                for unit, r in top_units(signal.values, feature, TOP_UNITS)
            ]
            cells.append("<td>" + "<br>".join(links) + "</td>")
        rows.append(f"<tr><th>{html.escape(label(signal, lang))}</th>{''.join(cells)}</tr>")
    corner = html.escape(say(lang, "signal"))
    return f'<table id="features"><tr><th>{corner}</th>{head}</tr>{"".join(rows)}</table>'


# ----- gate saturation ---------------------------------------------------------------------------
def saturation_section(signals: list[Signal], lang: str = "en") -> str:
    figures = []
    for index, signal in enumerate(signals):
        if signal.kind != "gate":
            continue
        left, right = saturation(signal.values)
        figures.append(
            f'<figure class="gate" data-signal="{index}"><figcaption>'
            f"{html.escape(label(signal, lang))}</figcaption>"
            + histogram_svg(histogram(left), say(lang, "below", low=LOW), lang)
            + histogram_svg(histogram(right), say(lang, "above", high=HIGH), lang)
            + scatter_svg(left, right, index, lang)
            + "</figure>"
        )
    if not figures:
        return f"<p>{html.escape(say(lang, 'no_gates'))}</p>"
    return "".join(figures)


WIDTH, HEIGHT, PAD = 220, 140, 24


def histogram_svg(counts: list[int], label: str, lang: str = "en") -> str:
    """Bars: how many units (height) have their fraction in each tenth (x)."""
    tallest = max(max(counts), 1)
    bar = (WIDTH - 2 * PAD) / len(counts)
    bars = []
    for b, count in enumerate(counts):
        height = (HEIGHT - 2 * PAD) * count / tallest
        x, y = PAD + b * bar, HEIGHT - PAD - height
        bounds = {"start": f"{b / 10:.1f}", "end": f"{(b + 1) / 10:.1f}", "count": count}
        title = say(lang, "bar_one" if count == 1 else "bar", **bounds)
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" '
            f'height="{height:.1f}"><title>{title}</title></rect>'
        )
    return (
        f'<svg class="histogram" width="{WIDTH}" height="{HEIGHT}" role="img">'
        f'<text x="{WIDTH / 2}" y="14" text-anchor="middle">{html.escape(label)}</text>'
        + _axes()
        + "".join(bars)
        + f'<text x="{PAD}" y="{HEIGHT - 8}">0</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">1</text>'
        f'<text x="4" y="{PAD + 8}">{tallest}</text></svg>'
    )


def scatter_svg(left: Tensor, right: Tensor, signal: int, lang: str = "en") -> str:
    """One dot per unit: x the fraction below LOW, y the fraction above HIGH (click: browse it)."""
    span = WIDTH - 2 * PAD
    dots = [
        f'<circle class="dot" cx="{PAD + span * float(l):.1f}" '
        f'cy="{HEIGHT - PAD - (HEIGHT - 2 * PAD) * float(r):.1f}" r="3" '
        f'data-signal="{signal}" data-unit="{unit}"><title>'
        + html.escape(
            say(
                lang,
                "dot",
                unit=unit,
                below=f"{float(l):.2f}",
                low=LOW,
                above=f"{float(r):.2f}",
                high=HIGH,
            )
        )
        + "</title></circle>"
        for unit, (l, r) in enumerate(zip(left, right))
    ]
    return (
        f'<svg class="scatter" width="{WIDTH}" height="{HEIGHT}" role="img">'
        f'<text x="{WIDTH / 2}" y="14" text-anchor="middle">'
        + html.escape(say(lang, "scatter", low=LOW, high=HIGH))
        + "</text>"
        + _axes()
        + "".join(dots)
        + "</svg>"
    )


def _axes() -> str:
    bottom, right = HEIGHT - PAD, WIDTH - PAD
    return (
        f'<line class="axis" x1="{PAD}" y1="{bottom}" x2="{right}" y2="{bottom}"/>'
        f'<line class="axis" x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{bottom}"/>'
    )


TEMPLATE = """<!DOCTYPE html>
<html lang="__LANG__">
<head>
<meta charset="utf-8">
<title>__TITLE__</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; }
.subtitle { color: #666; margin-top: 0; }
#controls { position: sticky; top: 0; background: #fff; padding: 0.5em 0;
            border-bottom: 1px solid #ddd; }
#controls select, #controls input, #controls button { font-size: 1em; margin-right: 0.4em; }
#status { font-weight: bold; }
#text { font-family: ui-monospace, monospace; white-space: pre-wrap; line-height: 1.6;
        border: 1px solid #ddd; padding: 0.8em; margin: 1em 0; }
#text span.ch { border-radius: 2px; }
#legend span { display: inline-block; padding: 0 0.6em; font-family: monospace; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
td.none { color: #999; }
figure.gate { display: inline-block; margin: 0.5em 1em 0.5em 0; border: 1px solid #ddd;
               padding: 0.4em; }
figure.gate figcaption { font-weight: bold; font-size: 0.9em; }
svg text { font-size: 10px; fill: #444; }
rect.bar { fill: #4393c3; }
circle.dot { fill: #d6604d; fill-opacity: 0.6; cursor: pointer; }
line.axis { stroke: #888; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<p class="subtitle">__SUBTITLE__</p>
<div id="controls">
  <label>__SIGNAL__ <select id="signal"></select></label>
  <label>__UNIT__ <input id="unit" type="number" min="0" value="0" style="width: 5em"></label>
  <button id="prev" type="button">&#9664; __PREVIOUS__</button>
  <button id="next" type="button">__NEXT__ &#9654;</button>
  <span id="status"></span>
  <div id="legend">
    <span style="background: rgba(214, 96, 77, 1)">__GATE_CLOSED__</span>
    <span>__GATE_HALF__</span>
    <span style="background: rgba(67, 147, 195, 1)">__GATE_OPEN__</span>
    __KEYS__
  </div>
</div>
<div id="text"></div>
<h2>__FEATURES_HEADING__</h2>
<p>__FEATURES_TEXT__</p>
__FEATURES__
<h2>__SATURATION_HEADING__</h2>
<p>__SATURATION_TEXT__</p>
<div id="saturation">__SATURATION__</div>
<script type="application/json" id="data">__DATA__</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const T = data.chars.length;
const bytes = data.signals.map(s => Uint8Array.from(atob(s.data), c => c.charCodeAt(0)));
const select = document.getElementById("signal");
const unitInput = document.getElementById("unit");
const spans = [];

function value(signal, unit, t) {
  const q = bytes[signal][unit * T + t] / 255;
  return data.signals[signal].kind === "gate" ? q : 2 * q - 1;
}

function colour(v, kind) {
  const s = kind === "gate" ? 2 * v - 1 : v;  // a gate's 0..1 on the -1..1 scale
  const a = Math.abs(s).toFixed(3);
  return s >= 0 ? `rgba(67, 147, 195, ${a})` : `rgba(214, 96, 77, ${a})`;
}

function show(signal, unit) {
  const units = data.signals[signal].units;
  unit = Math.max(0, Math.min(units - 1, unit));
  select.value = String(signal);
  unitInput.max = String(units - 1);
  unitInput.value = String(unit);
  const kind = data.signals[signal].kind;
  for (let t = 0; t < T; t++) {
    const v = value(signal, unit, t);
    spans[t].style.backgroundColor = colour(v, kind);
    spans[t].title = v.toFixed(3);
    spans[t].dataset.value = v.toFixed(3);
  }
  const status = document.getElementById("status");
  status.textContent = data.status.replace("{signal}", data.signals[signal].label)
    .replace("{unit}", unit).replace("{units}", units);
  status.dataset.signal = String(signal);
  status.dataset.unit = String(unit);
  history.replaceState(null, "", `#signal=${signal}&unit=${unit}`);
}

function current() {
  return [Number(select.value), Number(unitInput.value)];
}

const text = document.getElementById("text");
data.chars.forEach((c, t) => {
  const span = document.createElement("span");
  span.className = "ch";
  span.textContent = c === "\\n" ? "\\u21b5\\n" : c;
  text.appendChild(span);
  spans.push(span);
});
data.signals.forEach((s, i) => select.add(new Option(s.label, String(i))));
select.addEventListener("change", () => show(Number(select.value), current()[1]));
unitInput.addEventListener("change", () => show(...current()));
function step(by) {
  const [signal, unit] = current();
  show(signal, unit + by);
}
document.getElementById("prev").addEventListener("click", () => step(-1));
document.getElementById("next").addEventListener("click", () => step(1));
document.addEventListener("keydown", event => {
  if (event.target === unitInput) return;
  if (event.key === "ArrowRight") step(1);
  if (event.key === "ArrowLeft") step(-1);
});
document.querySelectorAll("[data-signal][data-unit]").forEach(element => {
  element.addEventListener("click", event => {
    event.preventDefault();
    show(Number(element.dataset.signal), Number(element.dataset.unit));
    window.scrollTo(0, 0);
  });
});
const asked = new URLSearchParams(location.hash.slice(1));
show(Number(asked.get("signal") || 0), Number(asked.get("unit") || 0));
document.body.dataset.ready = "true";
</script>
</body>
</html>
"""
