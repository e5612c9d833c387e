"""Everything the `rnnkit visualize` page says, in English and in Vietnamese (as `rnnkit explain`
says it: each quantity's Vietnamese name with the lecture's English in brackets)."""

from __future__ import annotations

LANGS = ("en", "vi")

# Each shown quantity, for people: the lecture's letters and names.
QUANTITIES: dict[str, dict[str, str]] = {
    "en": {
        "h": "h (hidden state)",
        "tanh_c": "tanh(c) (cell state)",
        "f": "f (forget gate)",
        "i": "i (input gate)",
        "o": "o (output gate)",
        "c_tilde": "c~ (candidate)",
        "z": "z (update gate)",
        "r": "r (reset gate)",
        "h_tilde": "h~ (new update information)",
    },
    "vi": {
        "h": "h (trạng thái ẩn, hidden state)",
        "tanh_c": "tanh(c) (trạng thái ô nhớ, cell state)",
        "f": "f (cổng quên, forget gate)",
        "i": "i (cổng đầu vào, input gate)",
        "o": "o (cổng đầu ra, output gate)",
        "c_tilde": "c~ (giá trị ứng viên, candidate)",
        "z": "z (cổng cập nhật, update gate)",
        "r": "r (cổng đặt lại, reset gate)",
        "h_tilde": "h~ (thông tin update mới)",
    },
}

# The features of features.py, by their English names.
FEATURES: dict[str, dict[str, str]] = {
    "en": {name: name for name in ("inside quotes", "position in line", "inside brackets")},
    "vi": {
        "inside quotes": "trong dấu ngoặc kép",
        "position in line": "vị trí trong dòng",
        "inside brackets": "trong dấu ngoặc",
    },
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "wrote": "wrote {out} ({size} KiB); open it in a browser",
        "title": "rnnkit visualize: {run}",
        "subtitle": "{run}: {cell} cell, {layers} layer(s) of {units} units; {count} characters "
        "of {text}",
        "signal_label": "layer {layer} · {quantity}",
        "through_tanh": ", shown through tanh",
        "signal": "signal",
        "unit": "unit",
        "unit_k": "unit {unit}",
        "previous": "previous",
        "next": "next",
        "gate_closed": "-1 (for a gate: 0, closed)",
        "gate_half": "0 (for a gate: 0.5)",
        "gate_open": "+1 (for a gate: 1, open)",
        "keys": "(arrow keys: previous / next unit; hover a character for its value)",
        "status": "{signal}, unit {unit} of {units}",
        "features_heading": "Units that follow simple features",
        "features_text": "Pearson's r between each unit's values and a feature of the text; click "
        "a unit to show it.",
        "not_in_text": "not in this text",
        "saturation_heading": "Gate saturation",
        "saturation_text": "How often each gate unit is nearly closed (< {low}) or nearly open "
        "(> {high}) over this text.",
        "no_gates": "This cell has no sigmoid gates.",
        "below": "fraction of steps < {low}",
        "above": "fraction of steps > {high}",
        "bar": "{start}-{end}: {count} units",
        "bar_one": "{start}-{end}: 1 unit",
        "scatter": "each unit: < {low} (x), > {high} (y)",
        "dot": "unit {unit}: {below} below {low}, {above} above {high}",
    },
    "vi": {
        "wrote": "đã ghi {out} ({size} KiB); hãy mở nó bằng trình duyệt",
        "title": "rnnkit visualize: {run}",
        "subtitle": "{run}: cell {cell}, {layers} lớp, mỗi lớp {units} unit; {count} ký tự của "
        "{text}",
        "signal_label": "lớp {layer} · {quantity}",
        "through_tanh": ", hiển thị qua tanh",
        "signal": "tín hiệu",
        "unit": "unit",
        "unit_k": "unit {unit}",
        "previous": "Trước",
        "next": "Tiếp",
        "gate_closed": "-1 (với cổng: 0, đóng)",
        "gate_half": "0 (với cổng: 0.5)",
        "gate_open": "+1 (với cổng: 1, mở)",
        "keys": "(phím mũi tên: unit trước / sau; rê chuột lên một ký tự để xem giá trị của nó)",
        "status": "{signal}, unit {unit} (trong số {units})",
        "features_heading": "Các unit bám theo những đặc trưng đơn giản",
        "features_text": "Hệ số tương quan Pearson r giữa giá trị của mỗi unit và một đặc trưng "
        "của văn bản; bấm vào một unit để xem nó.",
        "not_in_text": "không có trong văn bản này",
        "saturation_heading": "Độ bão hoà của các cổng",
        "saturation_text": "Tần suất mỗi unit của cổng gần như đóng (< {low}) hoặc gần như mở "
        "(> {high}) trên văn bản này.",
        "no_gates": "Cell này không có cổng sigmoid nào.",
        "below": "tỉ lệ số bước < {low}",
        "above": "tỉ lệ số bước > {high}",
        "bar": "{start}-{end}: {count} unit",
        "bar_one": "{start}-{end}: 1 unit",
        "scatter": "mỗi unit: < {low} (x), > {high} (y)",
        "dot": "unit {unit}: {below} dưới {low}, {above} trên {high}",
    },
}


def say(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang` ("en" or "vi") with `values` put in."""
    return TEXT[lang][key].format(**values)
