"""The language a command line's errors are said in: Vietnamese where it asks for `--lang vi`.

Errors raised as RnnkitError carry their own Vietnamese (rnnkit.errors); what argparse says about
the words themselves (a model name misspelt, a flag without its value) and the value kinds'
"must be ..." (rnnkit.values) are said here. A line argparse words otherwise stays English.
"""

from __future__ import annotations

import difflib
import re

PREFIX = {"en": "error", "vi": "lỗi"}
SEE_HELP = {"en": "see `{command} --help`", "vi": "xem `{command} --help`"}

# The value kinds' descriptions (values.py), as "phải là ..." completes them.
KINDS_VI = {
    "a positive integer": "một số nguyên dương",
    "a non-negative integer": "một số nguyên không âm",
    "a number of layers from 1 to 100": "một số lớp từ 1 đến 100",
    "a probability in [0, 1)": "một xác suất trong [0, 1)",
    "a number from 0 to 1": "một số từ 0 đến 1",
    "a share between 0 and 1, e.g. 0.2": "một tỉ lệ giữa 0 và 1, ví dụ 0.2",
    "a probability in (0, 1]": "một xác suất trong (0, 1]",
    "a positive finite number": "một số hữu hạn dương",
    "a finite number >= 0": "một số hữu hạn >= 0",
    "a duration such as 90s, 10m or 1h30m": "một khoảng thời gian như 90s, 10m hoặc 1h30m",
    "a file or folder name": "tên một tệp hoặc thư mục",
}

# argparse's own sentences (the same from Python 3.10 to 3.13) -> the Vietnamese; {0}, {1}: the
# groups.
ARGPARSE_VI = [
    (r"invalid choice: (.+) \(choose from (.+)\)", "không có lựa chọn {0}; hãy chọn một trong {1}"),
    (r"expected one argument", "cần một giá trị"),
    (r"the following arguments are required: (.+)", "thiếu tham số: {0}"),
    (r"unrecognized arguments: (.+)", "không nhận ra tham số: {0}"),
    (r"ignored explicit argument (.+)", "không nhận giá trị; hãy bỏ {0}"),
    (r"must be at most (.+), got (.+)", "phải nhiều nhất là {0}, nhận được {1}"),
    (r"must be (.+), got (.+)", "phải là {0}, nhận được {1}"),
]


def lang_value(text: str) -> str:
    """--lang's value as a language code: any capitals, and "vn" (as Vietnamese often write it)
    for "vi"."""
    text = text.strip().lower()
    return "vi" if text == "vn" else text


def language_of(words: list[str]) -> str:
    """The language `--lang` asks for among a command line's words ("en" unless it says "vi")."""
    for i, word in enumerate(words):
        value = words[i + 1] if word == "--lang" and i + 1 < len(words) else None
        if word.startswith("--lang="):
            value = word.removeprefix("--lang=")
        if value is not None:
            return "vi" if lang_value(value) == "vi" else "en"
    return "en"


def closest(word: str, choices: list[str]) -> str | None:
    """The choice `word` was most likely meant to be (a typo, other capitals), or None."""
    by_lower = {c.lower(): c for c in choices}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def argparse_line(message: str, command: str, lang: str) -> str:
    """argparse's message as rnnkit's one line: the flag first, a guess at a misspelt choice,
    where to read more, in `lang`."""
    # argparse says "argument --hidden: must be ..."; the flag is the subject of the sentence.
    subject, rest = "", message
    found = re.match(r"^argument ([^:]+): (.*)$", message, re.S)
    if found:
        subject, rest = found.group(1) + " ", found.group(2)
    guess = _guess(rest)
    if lang == "vi":
        rest = _vietnamese(rest)
        hint = f"; có phải bạn muốn gõ {guess}?" if guess else ""
    else:
        hint = f"; did you mean {guess}?" if guess else ""
    see = SEE_HELP[lang].format(command=command)
    return f"{PREFIX[lang]}: {subject}{rest}{hint} ({see})"


def _guess(message: str) -> str | None:
    found = re.match(r"invalid choice: '([^']*)' \(choose from (.+)\)", message)
    if not found:
        return None
    choices = [c.strip().strip("'") for c in found.group(2).split(",")]
    return closest(found.group(1), choices)


def _vietnamese(message: str) -> str:
    for pattern, vi in ARGPARSE_VI:
        found = re.fullmatch(pattern, message, re.S)
        if found:
            groups = [KINDS_VI.get(g, g) for g in found.groups()]
            return vi.format(*groups)
    return message
