"""rnnkit explain: the lecture's numbers (LECTURE.md) in every format and language, and errors."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.errors import RnnkitError
from rnnkit.explain import explain, parse_x
from rnnkit.explain.formula import format_number

# The lecture's results, copied from LECTURE.md (not computed by rnnkit).
LSTM_EXPECTED = {
    "f_1": [0.0179862100, 1.0],
    "i_1": [0.9975273768, 0.0066928509],
    "o_1": [0.9999938558, 0.0179862100],
    "c~_1": [0, 0.9999983369],
    "c_1": [0, 0.0066928398],
    "h_1": [0, 0.0001203770],
}
GRU_EXPECTED = {
    "z_1": [0.8807970780, 0.9525741268],
    "r_1": [0.8807970780, 0.0066928509],
    "h~_1": [0.9640275801, 0.9950547537],
    "h_1": [0.8491126756, 0.9478634131],
}
BIRNN_EXPECTED = {"h→_1": [3, 4], "h→_2": [5, 12], "h←_1": [5, 3], "h←_2": [2, 1]}
ANSWERS = {
    "lstm": [0, 0.0001203770],
    "gru": [0.8491126756, 0.9478634131],
    "birnn": [5, -2],
}
EXPECTED = {"lstm": LSTM_EXPECTED, "gru": GRU_EXPECTED, "birnn": BIRNN_EXPECTED}

# The lecture rounds to 10 decimals; its numbers are within 1e-9 of the exact ones.
TOLERANCE = 1e-9


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["explain", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def text_values(text: str) -> dict[str, list[float]]:
    """symbol -> the last '= value' line of its block, read from the text output."""
    values, symbol = {}, None
    for line in text.splitlines():
        start = re.match(r"^  (\S+) = (.*)$", line)
        more = re.match(r"^\s+= (.*)$", line)
        if start:
            symbol, values[start[1]] = start[1], start[2]
        elif more and symbol:
            values[symbol] = more[1]
        else:
            symbol = None
    # "≈1" is a value that rounds to 1 without being 1: read as its rounded number
    numbers = {name: value.replace("≈", "") for name, value in values.items()}
    return {name: json.loads(value) for name, value in numbers.items() if _is_number(value)}


def _is_number(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def text_answer(text: str) -> list[float]:
    line = re.search(r"^(?:Answer|Đáp án): .* = (.*)$", text, re.MULTILINE)
    return json.loads(line[1])


def assert_close(got, expected) -> None:
    got, expected = (
        torch.tensor(got, dtype=torch.float64),
        torch.tensor(expected, dtype=torch.float64),
    )
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=0, atol=TOLERANCE), (got, expected)


def json_values(document: dict) -> dict[str, list[float]]:
    return {
        quantity["symbol"]: quantity["value"]
        for step in document["steps"]
        for quantity in step["quantities"]
    }


# ----- the lecture's numbers ------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "vi"])
@pytest.mark.parametrize("model", ["lstm", "gru", "birnn"])
def test_text_output_has_the_lecture_numbers(capsys, model, lang):
    status, out, _ = run_cli(capsys, model, "--lang", lang)
    assert status == 0
    values = text_values(out)
    for symbol, expected in EXPECTED[model].items():
        assert_close(values[symbol], expected)
    assert_close(text_answer(out), ANSWERS[model])


@pytest.mark.parametrize("lang", ["en", "vi"])
@pytest.mark.parametrize("model", ["lstm", "gru", "birnn"])
def test_json_output_has_the_lecture_numbers(capsys, model, lang):
    status, out, _ = run_cli(capsys, model, "--lang", lang, "--format", "json")
    assert status == 0
    document = json.loads(out)
    values = json_values(document)
    for symbol, expected in EXPECTED[model].items():
        assert_close(values[symbol], expected)
    assert_close(document["answer"], ANSWERS[model])


def test_lstm_steps_are_named_as_the_lecture_names_them(capsys):
    _, english, _ = run_cli(capsys, "lstm")
    _, vietnamese, _ = run_cli(capsys, "lstm", "--lang", "vi")
    for name in ("Step 1: forget gate", "Step 2: input gate", "Step 3: update c", "Step 4: output"):
        assert name in english
    for name in (
        "Bước 1",
        "cổng quên",
        "cổng đầu vào",
        "Cập nhật c",
        "trạng thái ô",
        "cổng đầu ra",
    ):
        assert name in vietnamese
    assert "f_1 = σ(W_f x_1 + U_f h_0 + b_f)" in english
    assert "σ([-4, 27])" in english  # W_f x_1 + b_f = [2 - 6 - 5 + 5, 10 + 15 + 2]


def test_lstm_says_the_slide_prints_u_2x3(capsys):
    _, out, _ = run_cli(capsys, "lstm")
    assert "U_f, U_i, U_o, U_c are printed 2x3" in out
    assert "do not affect h_1" in out
    _, vi, _ = run_cli(capsys, "lstm", "--lang", "vi")
    assert "được in 2x3" in vi


def test_birnn_readings(capsys):
    _, out, _ = run_cli(capsys, "birnn", "--format", "json")
    lecture = json.loads(out)
    assert lecture["reading"] == "lecture"
    assert_close(lecture["other_reading_answer"], [3, -2])  # LECTURE.md: the vanilla reading
    _, out, _ = run_cli(capsys, "birnn", "--reading", "vanilla")
    assert_close(text_answer(out), [3, -2])
    assert "read as on the vanilla RNN slide" in out and "y = [5, -2]" in out


def test_markdown_has_latex(capsys):
    _, out, _ = run_cli(capsys, "gru", "--format", "markdown")
    assert r"\begin{aligned}" in out and r"\sigma\left(" in out and r"\tilde{h}_{1}" in out
    assert "0.8491126756" in out and "0.9478634131" in out


def test_rnn_exercise_against_a_hand_computation(capsys):
    _, out, _ = run_cli(capsys, "rnn", "--format", "json")
    document = json.loads(out)
    # h_1 = tanh(W [1, 0] + b), h_2 = tanh(W [0, 1] + U h_1 + b), y = softmax(V h + b_y)
    h1 = [math.tanh(1), math.tanh(2 + 1)]
    h2 = [math.tanh(-1 + 0.5 * h1[0] + h1[1]), math.tanh(0 - h1[0] + 0.5 * h1[1] + 1)]

    def softmax(a, b):
        return [
            math.exp(a) / (math.exp(a) + math.exp(b)),
            math.exp(b) / (math.exp(a) + math.exp(b)),
        ]

    y1 = softmax(h1[0] - h1[1], 2 * h1[1])
    y2 = softmax(h2[0] - h2[1], 2 * h2[1])
    values = json_values(document)
    assert_close(values["h_1"], h1)
    assert_close(values["h_2"], h2)
    assert_close(document["answer"], [y1, y2])


# ----- your own parameters and input ------------------------------------------------------------
def lstm_params_like_torch(lstm: torch.nn.LSTM) -> dict:
    """torch.nn.LSTM's weights under the lecture's names (torch stacks i, f, g, o)."""
    W, U = lstm.weight_ih_l0.chunk(4), lstm.weight_hh_l0.chunk(4)
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).chunk(4)
    params = {}
    for k, gate in enumerate("ifco"):
        params[f"W_{gate}"], params[f"U_{gate}"] = W[k].tolist(), U[k].tolist()
        params[f"b_{gate}"] = b[k].tolist()
    return params


def test_params_file_and_sequence_match_torch_lstm(capsys, tmp_path):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 3).double()
    path = tmp_path / "lstm.json"
    path.write_text(json.dumps(lstm_params_like_torch(lstm)))
    status, out, _ = run_cli(
        capsys, "lstm", "--params", str(path), "--x", "1,0;0,1;0.5,-2", "--format", "json"
    )
    assert status == 0
    expected, _ = lstm(torch.tensor([[1, 0], [0, 1], [0.5, -2]], dtype=torch.float64))
    assert_close(json.loads(out)["answer"], expected.tolist())  # one h_t per step


def test_x_overrides_the_exercise_input(capsys):
    status, out, _ = run_cli(capsys, "gru", "--x", "0,1", "--format", "json")
    assert status == 0
    # h_0 = 0: z = σ(W_z[:, 1] + b_z) = σ([4, 1]), h~ = tanh(W_h[:, 1] + b_h) = tanh([2, 1])
    sigmoid = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    expected = [sigmoid(4) * math.tanh(2), sigmoid(1) * math.tanh(1)]
    assert_close(json.loads(out)["answer"], expected)


def test_parse_x():
    assert parse_x("2,3,-1") == [[2, 3, -1]]
    assert parse_x("1,0;0,1") == [[1, 0], [0, 1]]
    with pytest.raises(RnnkitError, match="not a number"):
        parse_x("1,a")
    with pytest.raises(RnnkitError, match="same number of values"):
        parse_x("1,0;1")


BAD_PARAMS = [
    ({"W": [[1, 2]], "U": [[1]], "b": [0, 0]}, "b must be 1 number "),
    ({"W": [[1, 2]], "U": [[1]]}, "lack b"),
    ({"W": [[1, "x"]], "U": [[1]], "b": [0]}, r'W\[0\]\[1\] is "x", not a number'),
    ({"W": [[1, 2], [3]], "U": [[1, 0], [0, 1]], "b": [0, 0]}, "rows of different lengths"),
    ({"W": [[1, 2]], "U": [[1]], "b": [0], "W_f": [[1]]}, "unknown parameter W_f"),
    ({"W": [[1, 2]], "U": [[1]], "b": [0], "V": [[1]]}, "V and b_y together"),
    ({"W": [[1, 2]], "U": [[1, 2, 3], [4, 5, 6]], "b": [0]}, "U must be 1x1"),
    ({"W": [[1, 2]], "U": [[1]], "b": [True]}, "not a number"),
]


@pytest.mark.parametrize("params, message", BAD_PARAMS)
def test_bad_params_files_give_clear_errors(capsys, tmp_path, params, message):
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params))
    status, out, err = run_cli(capsys, "rnn", "--params", str(path), "--x", "1,2")
    assert status == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(message, err), err


def test_missing_gates_are_named(tmp_path, capsys):
    params = {f"{p}_{g}": [[1]] for p in "WU" for g in "fio"} | {f"b_{g}": [0] for g in "fio"}
    path = tmp_path / "lstm.json"
    path.write_text(json.dumps(params))
    status, _, err = run_cli(capsys, "lstm", "--params", str(path), "--x", "1")
    assert status == 2 and "lack W_c, U_c, b_c" in err


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "one JSON object"),
        ('{"W": NaN}', "NaN"),
        ('{"W": [[' + "9" * 5000 + "]]}", "a number too long to read"),
    ],
)
def test_unreadable_params_files(tmp_path, capsys, text, message):
    path = tmp_path / "params.json"
    path.write_text(text)
    status, _, err = run_cli(capsys, "rnn", "--params", str(path))
    assert status == 2 and message in err


def test_missing_params_file(tmp_path, capsys):
    status, _, err = run_cli(capsys, "rnn", "--params", str(tmp_path / "nope.json"))
    assert status == 2 and "cannot read params file" in err


VIETNAMESE_ERRORS = [
    (["rnn", "--params", "{params}", "--x", "1,2"], "b phải gồm 1 số (mỗi chiều ẩn một số)"),
    (["rnn", "--x", "1,a"], "--x: 'a' không phải là số"),
    (["rnn", "--x", "1,0;1"], "mọi bước thời gian cần cùng số giá trị"),
    (["lstm", "--x", "1,2"], "W_f có 3 cột; hãy đưa --x với 3 số mỗi bước"),
    (["lstm", "--reading", "vanilla"], "--reading chỉ dùng cho birnn"),
    (["lstm", "--format", "html"], "hãy đưa --out FILE.html"),
    (["rnn", "--params", "{missing}"], "không đọc được tệp tham số"),
    (["rnn", "--out", "{params}"], "đã tồn tại; hãy chọn --out khác hoặc thêm --force"),
    (["rnn", "--out", "{missing}/page.html", "--format", "html"], "không tồn tại; hãy tạo nó"),
]


@pytest.mark.parametrize("args, message", VIETNAMESE_ERRORS)
def test_errors_are_said_in_the_language_asked_for(capsys, tmp_path, args, message):
    params = tmp_path / "params.json"
    params.write_text(json.dumps(BAD_PARAMS[0][0]))
    args = [a.format(params=params, missing=tmp_path / "nope.json") for a in args]
    status, out, err = run_cli(capsys, *args, "--lang", "vi")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("lỗi: ") and message in err, err
    status, _, english = run_cli(capsys, *args)
    assert status == 2 and english.startswith("error: ") and message not in english


@pytest.mark.parametrize("params, message", BAD_PARAMS)
def test_bad_params_files_are_said_in_vietnamese_too(capsys, tmp_path, params, message):
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params))
    status, out, err = run_cli(capsys, "rnn", "--params", str(path), "--x", "1,2", "--lang", "vi")
    assert status == 2 and out == "" and err.startswith("lỗi: ") and err.count("\n") == 1
    assert not re.search(message, err), err  # not the English line
    assert re.search(r"[ảạấầẩậắằẳặẻẽẹếềểễệỉịỏọốồổộơớờởỡợủụưứừửữựỷỹỵđ]", err), err


# What argparse refuses, said in the language the command line asks for, with a guess at a typo.
WORD_ERRORS = [
    (["lstn"], "MODEL invalid choice: 'lstn'", "MODEL không có lựa chọn 'lstn'", "lstm?"),
    (["lstm", "--reading", "vanila"], "--reading invalid choice", "--reading không có", "vanilla?"),
    ([], "the following arguments are required: MODEL", "thiếu tham số: MODEL", None),
    (["lstm", "--x"], "--x expected one argument", "--x cần một giá trị", None),
    (["lstm", "--nope"], "unrecognized arguments: --nope", "không nhận ra tham số: --nope", None),
    (["lstm", "--x", "-1,2,3"], "write --x=-1,2,3", "hãy viết --x=-1,2,3", None),
    (
        ["lstm", "--x", "-1"],
        "has 1 number but W_f has 3 columns",
        "có 1 số nhưng W_f có 3 cột",
        None,
    ),
]


@pytest.mark.parametrize("args, english, vietnamese, guess", WORD_ERRORS)
def test_mistyped_words_are_said_in_the_language_asked_for(
    capsys, args, english, vietnamese, guess
):
    status, out, err = run_cli(capsys, *args)
    assert status == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ")
    assert english in err and (guess is None or f"did you mean {guess}" in err), err
    for lang in ("vi", "vn", "VI"):  # as Vietnamese often write it, too
        status, out, err = run_cli(capsys, *args, "--lang", lang)
        assert status == 2 and out == "" and err.count("\n") == 1 and err.startswith("lỗi: ")
        assert vietnamese in err and english not in err, err
        assert guess is None or f"có phải bạn muốn gõ {guess}" in err, err


def test_a_model_name_in_capitals_is_the_model(capsys):
    status, upper, _ = run_cli(capsys, "LSTM")
    assert status == 0 and upper == run_cli(capsys, "lstm")[1] and "h_1 = [0, 0.000120377]" in upper


@pytest.mark.parametrize(
    "name, kind", [("a.md", "markdown"), ("a.json", "json"), ("a.txt", "text")]
)
def test_the_ending_of_out_picks_the_format(capsys, tmp_path, name, kind):
    out = tmp_path / name
    status, said, _ = run_cli(capsys, "gru", "--out", str(out), "--lang", "vi")
    assert status == 0 and said == f"đã ghi {out}\n"
    assert out.read_text() == run_cli(capsys, "gru", "--format", kind, "--lang", "vi")[1]


def test_an_html_ending_writes_the_page(capsys, tmp_path):
    out = tmp_path / "gru.html"
    status, said, _ = run_cli(capsys, "gru", "--out", str(out), "--lang", "vi")
    assert status == 0 and said == f"đã ghi {out}; hãy mở nó bằng trình duyệt\n"
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_wide_u_is_an_error_for_a_sequence():
    with pytest.raises(RnnkitError, match=r"must be 2x2.*2 steps"):
        explain("lstm", x=[[2, 3, -1], [1, 0, 0]])


def test_input_of_the_wrong_size():
    with pytest.raises(RnnkitError, match="has 3 columns; give --x with 3 numbers"):
        explain("lstm", x=[[1, 2]])


def test_one_number_is_said_in_the_singular():
    with pytest.raises(RnnkitError, match="has 1 number but W_f has 3 columns"):
        explain("lstm", x=[[1]])


def test_reading_only_for_birnn():
    with pytest.raises(RnnkitError, match="only to birnn"):
        explain("lstm", reading="vanilla")


def test_learning_guide_shows_the_real_output(capsys):
    guide = (Path(__file__).parents[1] / "docs" / "LEARNING.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```text\n(.*?)\n```", guide, re.S)
    for lang, block in zip(["en", "vi"], blocks, strict=True):
        _, out, _ = run_cli(capsys, "lstm", "--lang", lang)
        assert block == out.rstrip("\n")


def test_rnn_says_the_vanilla_slide_swaps_w_and_u(capsys):
    for lang, words in (("en", "W and U the other way round"), ("vi", "W và U đổi chỗ")):
        _, out, _ = run_cli(capsys, "rnn", "--lang", lang)
        assert "tanh(W s_(t-1) + U x_t + b_s)" in out and words in out


def test_a_value_that_rounds_to_a_whole_number_is_marked():
    # sigma(27), the LSTM exercise's f_1[1], is 1 - 1.9e-12: not exactly 1
    assert format_number(float(torch.sigmoid(torch.tensor(27.0, dtype=torch.float64)))) == "≈1"
    assert format_number(1.0) == "1" and format_number(-2.0) == "-2"
    assert format_number(1e-12) == "≈0" and format_number(0.0) == "0"
    assert format_number(0.0179862099620916) == "0.01798621"
    assert format_number(1 - 1e-12, latex=True) == r"\approx 1"
