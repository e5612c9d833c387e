"""The verdict of a compare run: findings computed from its numbers, then said in a language.

`findings(results)` decides what the numbers show, as data: each Finding names a sentence and
carries the numbers it rests on, so a sentence can only say what the run measured, and where the
run does not show what the lecture claims, the finding says so. `render(findings, lang)` writes
the sentences, in English or Vietnamese, from the same templates for every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit.studies.compare import CompareResults

SOLVED = 0.9  # a score (R^2 or accuracy) at or above this counts as "solved"
SIMILAR = 0.05  # mean scores closer than this count as a match
CLEAR = 10.0  # the LSTM carries "more gradient" when its reach is this many times the RNN's
NAMES = {"rnn": "RNN", "rnn-relu": "RNN (ReLU)", "lstm": "LSTM", "gru": "GRU", "gru-after": "GRU*"}


def name(cell: str) -> str:
    return NAMES.get(cell, cell)


@dataclass(frozen=True)
class Finding:
    """One sentence of the verdict: which (`key`, a template in SENTENCES) and its numbers."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)


def findings(results: CompareResults) -> list[Finding]:
    """What this run shows: gradient reach, memory reach, and weights against memory."""
    return _gradient(results) + _memory(results) + _weights(results)


def gradient_reach(norms: list[float]) -> float:
    """How much of the last step's gradient reaches the first step: ||g_1|| / ||g_T||."""
    return norms[-1] / norms[0] if norms[0] > 0 else 0.0


def _gradient(results: CompareResults) -> list[Finding]:
    if not results.gradients:
        return []
    distance = len(results.gradients[0].norms) - 1
    found, reach = [], {}
    for stage in ("init", "trained"):
        for g in results.gradients:
            if g.stage == stage:
                reach[g.cell, stage] = gradient_reach(g.norms)
        cells = {c: r for (c, s), r in reach.items() if s == stage}
        found.append(Finding(f"reach_{stage}", {"distance": distance, "reach": cells}))
    if ("rnn", "trained") in reach and ("lstm", "trained") in reach:
        ratio = reach["lstm", "trained"] / max(reach["rnn", "trained"], 1e-300)
        key = "lstm_carries_more" if ratio > CLEAR else "lstm_not_shown"
        found.append(Finding(key, {"ratio": ratio, "distance": distance}))
    return found


def _memory(results: CompareResults) -> list[Finding]:
    found = []
    for task in dict.fromkeys(m.task for m in results.memory):
        rows = [m for m in results.memory if m.task == task]
        cells = list(dict.fromkeys(m.cell for m in rows))
        solved = {}
        for cell in cells:
            lags = [m.lag for m in rows if m.cell == cell and m.score >= SOLVED]
            solved[cell] = max(lags) if lags else None
        means = {c: float(np.mean([m.score for m in rows if m.cell == c])) for c in cells}
        best = max(means, key=means.get)
        values = {"task": task, "solved": solved, "best": best, "mean": means[best]}
        found.append(Finding("memory", values))
    return found


def _weights(results: CompareResults) -> list[Finding]:
    counts = results.parameters
    if not {"rnn", "lstm", "gru"} <= counts.keys():
        return []
    found = [
        Finding(
            "weights",
            {
                "lstm_times": counts["lstm"] / counts["rnn"],
                "gru_times": counts["gru"] / counts["rnn"],
                "gru_fewer": 1 - counts["gru"] / counts["lstm"],
            },
        )
    ]
    mean = {
        cell: float(np.mean([m.score for m in results.memory if m.cell == cell]))
        for cell in ("lstm", "gru")
        if any(m.cell == cell for m in results.memory)
    }
    if len(mean) == 2:
        gap = mean["gru"] - mean["lstm"]
        outcome = "matches" if abs(gap) < SIMILAR else "beats" if gap > 0 else "falls_short"
        found.append(Finding(f"gru_{outcome}", {"gru": mean["gru"], "lstm": mean["lstm"]}))
    return found


# ----- saying it ----------------------------------------------------------------------------
SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        "reach_init": "Gradient flow at initialisation: the share of the last step's gradient "
        "that reaches {distance} steps back is {reach}.",
        "reach_trained": "Gradient flow after training: the share of the last step's gradient "
        "that reaches {distance} steps back is {reach}.",
        "lstm_carries_more": "After training the LSTM carries {ratio:.3g} times more gradient "
        "across {distance} steps than the vanilla RNN, as the lecture says: the LSTM was made to "
        "fix the vanilla RNN's vanishing gradient.",
        "lstm_not_shown": "This run does not show the LSTM carrying more gradient over distance "
        "than the vanilla RNN (ratio {ratio:.1g}); a larger --steps budget may.",
        "memory": "{task}: longest lag solved (score >= {solved_at}) is {solved}; best mean "
        "score over the lags: {best} ({mean:.3f}).",
        "weights": "Weights at equal hidden size: LSTM {lstm_times:.2f}x and GRU {gru_times:.2f}x "
        "the vanilla RNN's; the GRU has {gru_fewer:.0%} fewer than the LSTM.",
        "gru_matches": "Over every task and lag the GRU matches the LSTM (mean score {gru:.3f} "
        "against {lstm:.3f}) with fewer weights.",
        "gru_beats": "Over every task and lag the GRU beats the LSTM (mean score {gru:.3f} "
        "against {lstm:.3f}) with fewer weights.",
        "gru_falls_short": "Over every task and lag the GRU falls short of the LSTM (mean score "
        "{gru:.3f} against {lstm:.3f}) with fewer weights.",
        "none": "none",
    },
    "vi": {
        "reach_init": "Dòng gradient lúc khởi tạo: phần gradient của bước cuối truyền ngược được "
        "{distance} bước là {reach}.",
        "reach_trained": "Dòng gradient sau khi huấn luyện: phần gradient của bước cuối truyền "
        "ngược được {distance} bước là {reach}.",
        "lstm_carries_more": "Sau khi huấn luyện, LSTM truyền gradient qua {distance} bước nhiều "
        "gấp {ratio:.3g} lần RNN thường, đúng như bài giảng nói: LSTM ra đời để khắc phục hiện "
        "tượng biến mất gradient của RNN thường.",
        "lstm_not_shown": "Lần chạy này chưa cho thấy LSTM truyền gradient đi xa hơn RNN thường "
        "(tỉ lệ {ratio:.1g}); một ngân sách --steps lớn hơn có thể cho thấy.",
        "memory": "{task}: độ trễ dài nhất giải được (điểm >= {solved_at}) là {solved}; điểm "
        "trung bình cao nhất qua các độ trễ: {best} ({mean:.3f}).",
        "weights": "Số trọng số với cùng kích thước ẩn: LSTM gấp {lstm_times:.2f} lần và GRU gấp "
        "{gru_times:.2f} lần RNN thường; GRU ít hơn LSTM {gru_fewer:.0%}.",
        "gru_matches": "Trên mọi bài toán và độ trễ, GRU ngang bằng LSTM (điểm trung bình "
        "{gru:.3f} so với {lstm:.3f}) với ít trọng số hơn.",
        "gru_beats": "Trên mọi bài toán và độ trễ, GRU tốt hơn LSTM (điểm trung bình {gru:.3f} "
        "so với {lstm:.3f}) với ít trọng số hơn.",
        "gru_falls_short": "Trên mọi bài toán và độ trễ, GRU kém hơn LSTM (điểm trung bình "
        "{gru:.3f} so với {lstm:.3f}) dù ít trọng số hơn.",
        "none": "không có",
    },
}
LANGS = tuple(SENTENCES)


def render(found: list[Finding], lang: str = "en") -> str:
    """The findings as a Markdown list of sentences in `lang` ("en" or "vi")."""
    words = SENTENCES[lang]
    return "\n".join(f"- {_sentence(finding, words)}" for finding in found)


def _sentence(finding: Finding, words: dict[str, str]) -> str:
    values = dict(finding.values)
    if "reach" in values:
        values["reach"] = ", ".join(f"{name(c)} {r:.1e}" for c, r in values["reach"].items())
    if "solved" in values:
        values["solved"] = ", ".join(
            f"{name(c)} {words['none'] if lag is None else lag}"
            for c, lag in values["solved"].items()
        )
        values["best"], values["solved_at"] = name(values["best"]), SOLVED
    return words[finding.key].format(**values)
