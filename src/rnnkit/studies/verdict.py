"""The verdict of a compare run: findings computed from its numbers, then said in a language.

`findings(results)` decides what the numbers show, as data: each Finding names a sentence and
carries the numbers it rests on, so a sentence can only say what the run measured, and where the
run does not show what the lecture claims, the finding says so. A claim about memory must hold on
every seed: a lag counts as solved by a cell only when every seed solved it, and as not solved
only when no seed did; a cell that solves no lag at all is said to tell nothing about distance,
and a gradient that underflowed to 0 in float32 is said, with what that does to the ratios.
`render(findings, lang)` writes the sentences, in English or Vietnamese, from the same templates
for every run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rnnkit.layers import display_name
from rnnkit.studies import summary
from rnnkit.studies.compare import CompareResults, MemoryResult

SOLVED = 0.9  # a score (R^2 or accuracy) at or above this counts as "solved"
BELOW_BASELINE = 0.9  # a loss under this share of the memoryless baseline beats the baseline
SIMILAR = 0.05  # mean scores closer than this count as a match
CLEAR = 10.0  # the LSTM carries "more gradient" when its reach is this many times the RNN's
TOO_SHORT = 200  # Adam steps per piece under which a run trains nothing (`--quick`: 5)
# The findings about the networks as initialised, which a run too short to train still shows.
BEFORE_TRAINING = {"reach_init", "underflow_init", "gru_gate_at_init", "weights"}


@dataclass(frozen=True)
class Finding:
    """One sentence of the verdict: which (`key`, a template in SENTENCES) and its numbers."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)


def findings(results: CompareResults) -> list[Finding]:
    """What this run shows: gradient reach, memory reach, and weights against memory; then the
    caveat every run carries (first, where the budget is too short to train anything)."""
    short = results.config.steps < TOO_SHORT
    first = [Finding("too_short", {"steps": results.config.steps})] if short else []
    found = _gradient(results) + _memory(results) + _weights(results)
    if short:  # what training showed says nothing: only what holds before it
        found = [finding for finding in found if finding.key in BEFORE_TRAINING]
    return first + found + [Finding("caveat")]


# ----- gradient flow -------------------------------------------------------------------------
def _gradient(results: CompareResults) -> list[Finding]:
    if not results.gradients:
        return []
    distance = len(results.gradients[0].norms) - 1
    found = []
    for stage in ("init", "trained"):
        by_cell = summary.reaches(results, stage)
        spreads = {c: summary.Spread.geometric(list(r.values())) for c, r in by_cell.items()}
        found.append(Finding(f"reach_{stage}", {"distance": distance, "reach": spreads}))
        zeros = {c: sum(v == 0 for v in r.values()) for c, r in by_cell.items()}
        underflowed = {c: (n, len(by_cell[c])) for c, n in zeros.items() if n}
        if underflowed:
            values = {"distance": distance, "underflowed": underflowed, "tiny": summary.TINY}
            found.append(Finding(f"underflow_{stage}", values))
        if stage == "init" and _gru_fades_first(spreads, results.config.init):
            found.append(Finding("gru_gate_at_init", {"distance": distance}))
    trained = summary.reaches(results, "trained")
    if {"rnn", "lstm"} <= trained.keys():
        ratios = [
            trained["lstm"][seed] / max(trained["rnn"][seed], summary.TINY)
            for seed in trained["lstm"]
        ]
        key = "lstm_carries_more" if min(ratios) > CLEAR else "lstm_not_shown"
        values = {"low": min(ratios), "high": max(ratios), "distance": distance}
        found.append(Finding(key, values))
    return found


def _gru_fades_first(spreads: dict[str, summary.Spread], init: str) -> bool:
    """With init "rnn" (biases 0, the LSTM's forget-gate bias 1), the GRU's update gate starts
    at z_t = sigma(0) = 0.5, so h_t = (1 - z_t) h_{t-1} + z_t h~_t keeps half of h_{t-1} a step,
    against the LSTM's forget gate at sigma(1) = 0.73: its gradient at initialisation fades
    fastest (with b_z = -2, z_t = 0.12, it reaches as far as the LSTM's: docs/CLASSIFICATION.md).
    Said only where the run shows it."""
    if init != "rnn" or "gru" not in spreads:
        return False
    others = [spreads[c].mean for c in ("rnn", "lstm") if c in spreads]
    return bool(others) and spreads["gru"].mean * CLEAR < min(others)


# ----- memory --------------------------------------------------------------------------------
def _memory(results: CompareResults) -> list[Finding]:
    found = []
    cells = summary.cells(results)
    for task in summary.tasks(results):
        example = summary.first(results, task)
        solved = {c: _lags(results, task, c, _solves) for c in cells}
        some = {c: _lags(results, task, c, _solves_once) for c in cells}
        beats = {c: _lags(results, task, c, _beats_baseline) for c in cells}
        found.append(Finding("memory", {"task": task, "metric": example.metric, "solved": solved}))
        if some != solved:
            found.append(Finding("memory_some", {"task": task, "solved": some}))
        baseline = {"task": task, "baseline": example.baseline, "beats": beats}
        found.append(Finding("baseline", baseline))
        never = [c for c in cells if not some[c]]
        if never:
            shortest = min(summary.lags(results, task))
            found.append(Finding("never_learned", {"task": task, "cells": never, "lag": shortest}))
        if {"rnn", "lstm"} <= set(cells):
            found += _contrast(results, task, example.metric, never)
            found += _above_baseline(results, task, example)
    return found


# Tests on one piece's runs (one per seed).
def _solves(runs: list[MemoryResult]) -> bool:
    return min(m.score for m in runs) >= SOLVED


def _solves_once(runs: list[MemoryResult]) -> bool:
    return max(m.score for m in runs) >= SOLVED


def _beats_baseline(runs: list[MemoryResult]) -> bool:
    return all(m.loss <= BELOW_BASELINE * m.baseline for m in runs)


def _beats_baseline_once(runs: list[MemoryResult]) -> bool:
    return any(m.loss <= BELOW_BASELINE * m.baseline for m in runs)


def _lags(results: CompareResults, task: str, cell: str, test) -> list[int]:
    """The lags at which `test` holds for the cell's runs, shortest first."""
    return [
        lag for lag in summary.lags(results, task) if test(summary.runs(results, task, lag, cell))
    ]


# (the cell that remembers longer, the other, the finding's key, its key where the other cell
# solved no lag at all: then the lag shows one cell learning the task, not the other forgetting)
CONTRASTS = (
    ("lstm", "rnn", "lstm_outlasts_rnn", "lstm_learns_rnn_does_not"),
    ("rnn", "lstm", "rnn_outlasts_lstm", "rnn_learns_lstm_does_not"),
)


def _contrast(results: CompareResults, task: str, metric: str, never: list[str]) -> list[Finding]:
    """The longest lag at which one of the LSTM and the vanilla RNN solves the task on every
    seed and the other on none: the lecture's claim, or its opposite; `never`: the cells that
    solved no lag of the task on any seed."""
    found = []
    for winner, loser, key, key_never in CONTRASTS:
        lag = _longest_lag(
            results, task, winner, loser, lambda w, o: _solves(w) and not _solves_once(o)
        )
        if lag is not None:
            values = {
                "task": task,
                "metric": metric,
                "lag": lag,
                "low": summary.scores(results, task, lag, winner).low,
                "high": summary.scores(results, task, lag, loser).high,
            }
            found.append(Finding(key_never if loser in never else key, values))
    return found or [Finding("no_separation", {"task": task})]


def _above_baseline(results: CompareResults, task: str, example: MemoryResult) -> list[Finding]:
    """The longest lag that neither the LSTM nor the vanilla RNN solves on any seed, where one
    beats the memoryless baseline on every seed and the other on none: the other's training
    had not left the plateau of the memoryless guess within the budget there."""
    found = []
    for winner, loser, *_ in CONTRASTS:
        lag = _longest_lag(
            results,
            task,
            winner,
            loser,
            lambda w, o: (
                not (_solves_once(w) or _solves_once(o))
                and _beats_baseline(w)
                and not _beats_baseline_once(o)
            ),
        )
        if lag is not None:
            values = {
                "task": task,
                "metric": example.metric,
                "lag": lag,
                "winner": winner,
                "loser": loser,
                "winner_score": summary.scores(results, task, lag, winner).mean,
                "loser_score": summary.scores(results, task, lag, loser).mean,
                "chance": example.chance,
            }
            found.append(Finding("above_baseline", values))
    return found


def _longest_lag(results: CompareResults, task: str, winner: str, other: str, holds) -> int | None:
    """The longest lag of `task` at which holds(winner's runs, the other's runs) is true (each
    one run per seed), or None."""
    held = [
        lag
        for lag in summary.lags(results, task)
        if holds(summary.runs(results, task, lag, winner), summary.runs(results, task, lag, other))
    ]
    return max(held) if held else None


# ----- weights -------------------------------------------------------------------------------
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
        cell: summary.Spread.of([m.score for m in results.memory if m.cell == cell]).mean
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
        "underflow_init": "At initialisation the gradient {distance} steps back underflowed to "
        "0 in float32 for {underflowed}; there it counts as {tiny:.1e}, the smallest float32 "
        "above 0, so a share above that uses it is an upper bound and a ratio against it a lower "
        "bound.",
        "underflow_trained": "After training the gradient {distance} steps back underflowed to 0 "
        "in float32 for {underflowed}; there it counts as {tiny:.1e}, the smallest float32 above "
        "0, so a share above that uses it is an upper bound and a ratio against it a lower bound.",
        "gru_gate_at_init": "At initialisation the GRU's gradient fades fastest: its update gate "
        "starts near z_t = sigma(0) = 0.5 (its biases are 0), so h_t = (1 - z_t) h_(t-1) + z_t "
        "h~_t keeps only about half of h_(t-1) at each step, where the LSTM's forget gate starts "
        "at sigma(1) = 0.73 (rnnkit's forget-gate bias of 1). Training moves the gates: compare "
        "the shares after training.",
        "too_short": "This run's budget, {steps} steps per cell, task, lag and seed, is far too "
        "short to train anything (--quick, or a small --budget, checks that the study runs): its "
        "scores mean nothing, so only what holds before training is said below. Run it without "
        "--quick, with the default --budget 2000 or more, for the study.",
        "lstm_carries_more": "After training the LSTM carries {ratios} times more "
        "gradient across {distance} steps than the vanilla RNN (seed by seed), as the lecture "
        "says: the LSTM was made to fix the vanilla RNN's vanishing gradient.",
        "lstm_not_shown": "This run does not show the LSTM carrying more gradient over distance "
        "than the vanilla RNN on every seed (ratios {ratios}); a larger --budget "
        "may.",
        "memory": "{task}: lags solved ({metric} >= {solved_at}) on every seed: {solved}.",
        "memory_some": "{task}: lags solved on at least one seed: {solved}.",
        "baseline": "{task}: lags at which the loss is at least {margin} below the memoryless "
        "baseline ({baseline:.3f}) on every seed: {beats}.",
        "above_baseline": "{task}: at lag {lag} neither the LSTM nor the vanilla RNN solves the "
        "task on any seed, but the {winner}'s loss is at least {margin} below the memoryless "
        "baseline on every seed (mean {metric} {winner_score:.3f}) and the {loser}'s on none "
        "({loser_score:.3f}; chance {chance:.3f}): within this budget the {loser}'s training had "
        "not left the plateau of the memoryless guess at this lag, while the {winner} recalls "
        "more than chance. That is how far each got in the budget, not which remembers longer.",
        "lstm_outlasts_rnn": "{task}: at lag {lag} the LSTM solves the task on every seed "
        "({metric} >= {low:.3f}) and the vanilla RNN on none ({metric} <= {high:.3f}): at this "
        "distance the LSTM remembers and the vanilla RNN does not, as the lecture says.",
        "never_learned": "{task}: {cells} solved no lag on any seed, not even the shortest "
        "({lag}), so this run cannot tell forgetting over a distance from not learning the task "
        "with these settings.",
        "lstm_learns_rnn_does_not": "{task}: at lag {lag} the LSTM solves the task on every "
        "seed ({metric} >= {low:.3f}) and the vanilla RNN on none ({metric} <= {high:.3f}); as "
        "the RNN solved no lag at all, this shows the LSTM learning the task within the budget "
        "where the RNN did not, rather than the RNN forgetting over the distance.",
        "rnn_learns_lstm_does_not": "{task}: at lag {lag} the vanilla RNN solves the task on "
        "every seed ({metric} >= {low:.3f}) and the LSTM on none ({metric} <= {high:.3f}); as "
        "the LSTM solved no lag at all, this shows the RNN learning the task within the budget "
        "where the LSTM did not, rather than the LSTM forgetting over the distance.",
        "rnn_outlasts_lstm": "{task}: at lag {lag} the vanilla RNN solves the task on every seed "
        "({metric} >= {low:.3f}) and the LSTM on none ({metric} <= {high:.3f}): on this task "
        "this run shows the opposite of the lecture's claim that the LSTM remembers longer.",
        "no_separation": "{task}: no lag separates the LSTM from the vanilla RNN (one solving "
        "it on every seed, the other on none), so this run shows neither remembering longer.",
        "weights": "Weights at equal hidden size: LSTM {lstm_times:.2f}x and GRU {gru_times:.2f}x "
        "the vanilla RNN's; the GRU has {gru_fewer:.0%} fewer than the LSTM.",
        "gru_matches": "Over every task, lag and seed the GRU matches the LSTM (mean score "
        "{gru:.3f} against {lstm:.3f}) with fewer weights.",
        "gru_beats": "Over every task, lag and seed the GRU beats the LSTM (mean score {gru:.3f} "
        "against {lstm:.3f}) with fewer weights.",
        "gru_falls_short": "Over every task, lag and seed the GRU falls short of the LSTM (mean "
        "score {gru:.3f} against {lstm:.3f}) with fewer weights.",
        "caveat": "Every score depends on the budget and the initialisation, which are the same "
        "for every cell, and on each cell's learning rate; docs/compare/SETTINGS.md says how they "
        "were chosen and what the published studies used.",
        "none": "none",
        "to": "to",
        "of_seeds": "{count} of {seeds} seeds",
    },
    "vi": {
        "reach_init": "Luồng gradient lúc khởi tạo: tỉ lệ gradient của bước cuối còn lại sau "
        "khi truyền ngược {distance} bước là {reach}.",
        "reach_trained": "Luồng gradient sau khi huấn luyện: tỉ lệ gradient của bước cuối còn "
        "lại sau khi truyền ngược {distance} bước là {reach}.",
        "underflow_init": "Lúc khởi tạo, gradient ở {distance} bước trước bị tràn dưới về 0 "
        "trong float32 với {underflowed}; khi đó nó được tính bằng {tiny:.1e}, số float32 dương "
        "nhỏ nhất. Vì vậy, tỉ lệ gradient nào ở trên dùng số này chỉ là cận trên của giá trị thật, "
        "và tỉ số nào lấy nó làm mẫu số chỉ là cận dưới.",
        "underflow_trained": "Sau khi huấn luyện, gradient ở {distance} bước trước bị tràn dưới "
        "về 0 trong float32 với {underflowed}; khi đó nó được tính bằng {tiny:.1e}, số float32 "
        "dương nhỏ nhất. Vì vậy, tỉ lệ gradient nào ở trên dùng số này chỉ là cận trên của giá "
        "trị thật, và tỉ số nào lấy nó làm mẫu số chỉ là cận dưới.",
        "gru_gate_at_init": "Lúc khởi tạo, gradient của GRU tiêu biến nhanh nhất: cổng cập nhật "
        "bắt đầu ở gần z_t = sigma(0) = 0.5 (các bias bằng 0), nên h_t = (1 - z_t) h_(t-1) + z_t "
        "h~_t chỉ giữ lại khoảng một nửa h_(t-1) ở mỗi bước, trong khi cổng quên của LSTM bắt "
        "đầu ở sigma(1) = 0.73 (rnnkit đặt bias của cổng quên bằng 1). Huấn luyện làm các cổng "
        "thay đổi: hãy so với tỉ lệ gradient sau khi huấn luyện.",
        "too_short": "Ngân sách của lần chạy này, {steps} bước cho mỗi cell, bài toán, độ trễ và "
        "seed, quá ngắn để mô hình học được gì (--quick, hoặc một --budget nhỏ, chỉ kiểm tra rằng "
        "nghiên cứu chạy được): các điểm số không có ý nghĩa, nên dưới đây chỉ nói những gì đúng "
        "trước khi huấn luyện. Hãy chạy lại "
        "không kèm --quick, với --budget mặc định 2000 hoặc lớn hơn, để có kết quả thật.",
        "lstm_carries_more": "Sau khi huấn luyện, LSTM truyền gradient qua {distance} bước nhiều "
        "gấp {ratios} lần vanilla RNN (so từng seed), đúng như bài giảng nói: "
        "LSTM ra đời để khắc phục hiện tượng tiêu biến gradient (vanishing gradient) của "
        "vanilla RNN.",
        "lstm_not_shown": "Lần chạy này chưa cho thấy LSTM truyền gradient đi xa hơn vanilla RNN "
        "trên mọi seed (tỉ lệ {ratios}); một ngân sách --budget lớn hơn có thể "
        "cho thấy.",
        "memory": "{task}: các độ trễ giải được ({metric} >= {solved_at}) trên mọi seed: {solved}.",
        "memory_some": "{task}: các độ trễ giải được trên ít nhất một seed: {solved}.",
        "baseline": "{task}: các độ trễ mà hàm mất mát thấp hơn mức cơ sở của mô hình không có "
        "bộ nhớ ({baseline:.3f}) ít nhất {margin} trên mọi seed: {beats}.",
        "above_baseline": "{task}: ở độ trễ {lag}, cả LSTM lẫn vanilla RNN đều không giải được bài "
        "toán trên seed nào, nhưng hàm mất mát của {winner} thấp hơn mức cơ sở của mô hình không "
        "có bộ nhớ ít nhất {margin} trên mọi seed ({metric} trung bình {winner_score:.3f}) còn "
        "của {loser} thì không thấp hơn trên seed nào ({loser_score:.3f}; mức ngẫu nhiên "
        "{chance:.3f}): trong ngân sách này, quá trình huấn luyện của {loser} chưa thoát khỏi "
        "vùng bình nguyên (plateau) của cách đoán không cần nhớ ở độ trễ này, còn {winner} nhớ "
        "tốt hơn mức ngẫu nhiên. Đó là mức mỗi mô hình đạt được trong ngân sách, không phải mô "
        "hình nào nhớ lâu hơn.",
        "lstm_outlasts_rnn": "{task}: ở độ trễ {lag}, LSTM giải được bài toán trên mọi seed "
        "({metric} >= {low:.3f}) còn vanilla RNN không giải được trên seed nào ({metric} <= "
        "{high:.3f}): ở khoảng cách này LSTM nhớ được còn vanilla RNN thì không, đúng như bài "
        "giảng nói.",
        "never_learned": "{task}: {cells} không giải được độ trễ nào trên seed nào, kể cả độ trễ "
        "ngắn nhất ({lag}), nên lần chạy này không phân biệt được việc quên qua một khoảng cách "
        "với việc không học được bài toán với các thiết lập này.",
        "lstm_learns_rnn_does_not": "{task}: ở độ trễ {lag}, LSTM giải được bài toán trên mọi "
        "seed ({metric} >= {low:.3f}) còn vanilla RNN không giải được trên seed nào ({metric} <= "
        "{high:.3f}); vì RNN không giải được độ trễ nào, điều này cho thấy LSTM học được bài toán "
        "trong ngân sách còn RNN thì không, chứ không phải RNN quên do khoảng cách xa.",
        "rnn_learns_lstm_does_not": "{task}: ở độ trễ {lag}, vanilla RNN giải được bài toán trên "
        "mọi seed ({metric} >= {low:.3f}) còn LSTM không giải được trên seed nào ({metric} <= "
        "{high:.3f}); vì LSTM không giải được độ trễ nào, điều này cho thấy RNN học được bài toán "
        "trong ngân sách còn LSTM thì không, chứ không phải LSTM quên do khoảng cách xa.",
        "rnn_outlasts_lstm": "{task}: ở độ trễ {lag}, vanilla RNN giải được bài toán trên mọi seed "
        "({metric} >= {low:.3f}) còn LSTM không giải được trên seed nào ({metric} <= "
        "{high:.3f}): với bài toán này, lần chạy cho thấy điều ngược lại với nhận định của bài "
        "giảng rằng LSTM nhớ lâu hơn.",
        "no_separation": "{task}: không có độ trễ nào phân biệt LSTM với vanilla RNN (một bên "
        "giải được trên mọi seed, bên kia không giải được trên seed nào), nên lần chạy này không "
        "cho thấy bên nào nhớ lâu hơn.",
        "weights": "Số trọng số với cùng kích thước ẩn: LSTM gấp {lstm_times:.2f} lần và GRU gấp "
        "{gru_times:.2f} lần vanilla RNN; GRU ít hơn LSTM {gru_fewer:.0%}.",
        "gru_matches": "Trên mọi bài toán, độ trễ và seed, GRU ngang bằng LSTM (điểm trung bình "
        "{gru:.3f} so với {lstm:.3f}) với ít trọng số hơn.",
        "gru_beats": "Trên mọi bài toán, độ trễ và seed, GRU tốt hơn LSTM (điểm trung bình "
        "{gru:.3f} so với {lstm:.3f}) với ít trọng số hơn.",
        "gru_falls_short": "Trên mọi bài toán, độ trễ và seed, GRU kém hơn LSTM (điểm trung bình "
        "{gru:.3f} so với {lstm:.3f}), và GRU có ít trọng số hơn.",
        "caveat": "Mọi điểm số đều phụ thuộc vào ngân sách huấn luyện và cách khởi tạo, vốn giống "
        "nhau cho mọi cell, và vào tốc độ học của từng cell; docs/compare/SETTINGS.md giải thích "
        "cách chọn chúng và các thiết lập mà các công trình đã công bố sử dụng.",
        "none": "không có độ trễ nào",
        "to": "đến",
        "of_seeds": "{count} trong {seeds} seed",
    },
}
LANGS = tuple(SENTENCES)
# The tasks' and scores' names where a language says them in its own words.
OWN_NAMES = {
    "vi": {
        "adding": "bài toán cộng (adding)",
        "copy": "bài toán sao chép (copy)",
        "accuracy": "độ chính xác",
    },
}


def sentences(found: list[Finding], lang: str = "en") -> list[str]:
    """The findings, one sentence each, in `lang` ("en" or "vi")."""
    said = [_sentence(finding, SENTENCES[lang], OWN_NAMES.get(lang, {})) for finding in found]
    return [sentence[:1].upper() + sentence[1:] for sentence in said]


def render(found: list[Finding], lang: str = "en") -> str:
    """The findings as a Markdown list of sentences in `lang`."""
    return "\n".join(f"- {sentence}" for sentence in sentences(found, lang))


def _sentence(finding: Finding, words: dict[str, str], names: dict[str, str]) -> str:
    values = dict(finding.values)
    for key in ("task", "metric"):
        if key in values:
            values[key] = names.get(values[key], values[key])
    if "reach" in values:
        values["reach"] = ", ".join(
            f"{display_name(c)} {_range(spread, words)}" for c, spread in values["reach"].items()
        )
    for lags in ("solved", "beats"):
        if lags in values:
            values[lags] = "; ".join(
                f"{display_name(c)} {', '.join(map(str, held)) or words['none']}"
                for c, held in values[lags].items()
            )
    for cell in ("winner", "loser"):
        if cell in values:
            values[cell] = display_name(values[cell])
    if "cells" in values:
        values["cells"] = ", ".join(display_name(c) for c in values["cells"])
    if "underflowed" in values:
        values["underflowed"] = ", ".join(
            f"{display_name(c)} ({words['of_seeds'].format(count=n, seeds=total)})"
            for c, (n, total) in values["underflowed"].items()
        )
    if finding.key in ("lstm_carries_more", "lstm_not_shown"):  # one seed: one ratio
        low, high = values["low"], values["high"]
        same = math.isclose(low, high, rel_tol=1e-3)
        values["ratios"] = f"{low:.3g}" if same else f"{low:.3g} {words['to']} {high:.3g}"
    values["solved_at"], values["margin"] = SOLVED, f"{1 - BELOW_BASELINE:.0%}"
    return words[finding.key].format(**values)


def _range(spread: summary.Spread, words: dict[str, str]) -> str:
    """'2.1e-05' for one seed, '2.1e-05 (1.0e-06 to 3.0e-05)' for several."""
    if spread.count == 1 or math.isclose(spread.low, spread.high):
        return f"{spread.mean:.1e}"
    return f"{spread.mean:.1e} ({spread.low:.1e} {words['to']} {spread.high:.1e})"
