"""Everything `rnnkit explain` says, in English and in Vietnamese (the lecture's own terms).

The Vietnamese follows the slides: "Bước 1: Tính giá trị vector tại forget gate", "Cập nhật c",
"Thông tin update mới"; gate names are given in Vietnamese with the slide's English in brackets
(cổng quên (forget gate), cổng đầu vào, cổng đầu ra, trạng thái ô nhớ).
"""

from __future__ import annotations

LANGS = ("en", "vi")

TEXT: dict[str, dict[str, str]] = {
    # ----- titles -----
    "title.lstm.exercise": {
        "en": "LSTM: the lecture's exercise 2, compute h_1",
        "vi": "LSTM: Bài tập 2 của bài giảng, tính giá trị h_1",
    },
    "title.gru.exercise": {
        "en": "GRU: the lecture's exercise 3, compute y^_1",
        "vi": "GRU: Bài tập 3 của bài giảng, tính giá trị y^_1",
    },
    "title.birnn.exercise": {
        "en": 'Bidirectional RNN: the lecture\'s exercise 4, the output for "machine learning" '
        "(one-hot: machine -> [1, 0], learning -> [0, 1])",
        "vi": "Bidirectional RNN: Bài tập 4 của bài giảng, tính output cho chuỗi "
        '"machine learning" (one-hot encoding: machine -> [1, 0], learning -> [0, 1])',
    },
    "title.rnn.exercise": {
        "en": "Vanilla RNN: a small exercise in the lecture's style (rnnkit's own), "
        'compute y_1 and y_2 for "machine learning"',
        "vi": "Vanilla RNN: một bài tập nhỏ theo cách của bài giảng (do rnnkit đặt ra), "
        'tính y_1 và y_2 cho "machine learning"',
    },
    "title.lstm.custom": {"en": "LSTM, step by step", "vi": "LSTM: giải từng bước"},
    "title.gru.custom": {"en": "GRU, step by step", "vi": "GRU: giải từng bước"},
    "title.birnn.custom": {
        "en": "Bidirectional RNN, step by step (every activation function ignored)",
        "vi": "Bidirectional RNN: giải từng bước (bỏ qua mọi hàm kích hoạt)",
    },
    "title.rnn.custom": {"en": "Vanilla RNN, step by step", "vi": "Vanilla RNN: giải từng bước"},
    # ----- where the numbers come from -----
    "source.lstm": {"en": "rnnkit.LSTMCell", "vi": "rnnkit.LSTMCell"},
    "source.gru": {
        "en": 'rnnkit.GRUCell (reset="before")',
        "vi": 'rnnkit.GRUCell (reset="before")',
    },
    "source.rnn": {"en": "rnnkit.RNNCell", "vi": "rnnkit.RNNCell"},
    "source.birnn": {
        "en": "rnnkit.Bidirectional over two RNN cells without activation",
        "vi": "rnnkit.Bidirectional (gồm hai RNN cell, không dùng hàm kích hoạt)",
    },
    "label.source": {
        "en": "Every number is computed by {source} in float64 and rounded to 10 decimals, "
        "trailing zeros dropped (≈: rounded to a whole number that it is not exactly).",
        "vi": "Mọi con số đều do {source} tính bằng float64, làm tròn đến 10 chữ số thập phân, "
        "bỏ các số 0 ở cuối (≈: đã làm tròn thành số nguyên nhưng không đúng bằng số nguyên đó).",
    },
    # ----- the lecture's steps -----
    "lstm.forget": {
        "en": "forget gate",
        "vi": "Tính giá trị vector tại cổng quên (forget gate)",
    },
    "lstm.input": {
        "en": "input gate (and the candidate c~)",
        "vi": "Tính giá trị vector tại cổng đầu vào (input gate) và giá trị ứng viên c~",
    },
    "lstm.update": {
        "en": "update c (the cell state)",
        "vi": "Cập nhật c (trạng thái ô nhớ, cell state)",
    },
    "lstm.output": {
        "en": "output (output gate, then h)",
        "vi": "Tính giá trị output (đầu ra): cổng đầu ra o (output gate), rồi h",
    },
    "gru.update": {
        "en": "update gate z",
        "vi": "Tính giá trị vector tại cổng cập nhật z (update gate)",
    },
    "gru.reset": {
        "en": "reset gate r",
        "vi": "Tính giá trị vector tại cổng đặt lại r (reset gate)",
    },
    "gru.candidate": {
        "en": "new update information h~",
        "vi": "Thông tin update mới h~",
    },
    "gru.state": {"en": "new hidden state h", "vi": "Trạng thái ẩn mới h (hidden state)"},
    "rnn.state": {"en": "hidden state h", "vi": "Trạng thái ẩn h (hidden state)"},
    "rnn.output": {"en": "output y", "vi": "Đầu ra y (output)"},
    "birnn.forward": {
        "en": "forward RNN A reads x_1, ..., x_T",
        "vi": "RNN xuôi A (forward) đọc x_1, ..., x_T",
    },
    "birnn.backward": {
        "en": "backward RNN A' reads x_T, ..., x_1",
        "vi": "RNN ngược A' (backward) đọc x_T, ..., x_1",
    },
    "birnn.output": {
        "en": "output y_t = V_A h→_t + V_A' h←_t",
        "vi": "Đầu ra (output) y_t = V_A h→_t + V_A' h←_t",
    },
    # ----- notes -----
    "note.u_wide.slide": {
        "en": "{names} are printed {shape} on the slide, but U multiplies h_(t-1) and must be "
        "{H}x{H} (hidden x hidden). With h_0 = 0 they do not affect h_1 (U h_0 = 0 whatever U "
        "holds), so rnnkit uses their first {H} columns.",
        "vi": "{names} được in {shape} trên slide, nhưng U nhân với h_(t-1) nên phải có kích "
        "thước {H}x{H} (số chiều ẩn x số chiều ẩn). Vì h_0 = 0 nên chúng không ảnh hưởng đến h_1 "
        "(U h_0 = 0 với mọi U); do đó rnnkit chỉ dùng {H} cột đầu của chúng.",
    },
    "note.u_wide.file": {
        "en": "{names} are {shape} in the params file, but U multiplies h_(t-1) and must be "
        "{H}x{H} (hidden x hidden). With h_0 = 0 they do not affect h_1 (U h_0 = 0 whatever U "
        "holds), so rnnkit uses their first {H} columns.",
        "vi": "{names} có kích thước {shape} trong tệp tham số, nhưng U nhân với h_(t-1) nên "
        "phải có kích thước {H}x{H} (số chiều ẩn x số chiều ẩn). Vì h_0 = 0 nên chúng không ảnh "
        "hưởng đến h_1 (U h_0 = 0 với mọi U); do đó rnnkit chỉ dùng {H} cột đầu của chúng.",
    },
    "note.no_output_layer": {
        "en": "No output layer is given, so y^_t = h_t.",
        "vi": "Đề bài không cho lớp đầu ra (output layer), nên y^_t = h_t.",
    },
    "note.no_activation": {
        "en": "As the exercise asks, every activation function is ignored: each state is the "
        "plain sum of its two products, with no tanh.",
        "vi": "Theo đề bài, bỏ qua mọi hàm kích hoạt (activation function): mỗi trạng thái chỉ "
        "là tổng của hai tích, không qua tanh.",
    },
    "note.rnn.letters": {
        "en": "The vanilla RNN slide writes h_t = tanh(W s_(t-1) + U x_t + b_s), with W and U "
        "the other way round; rnnkit follows the lecture's later slides: W multiplies the input "
        "x_t and U the previous state h_(t-1).",
        "vi": "Slide vanilla RNN viết h_t = tanh(W s_(t-1) + U x_t + b_s), với W và U đổi chỗ "
        "cho nhau; rnnkit theo các slide sau của bài giảng: W nhân với đầu vào x_t, U nhân với "
        "trạng thái trước h_(t-1).",
    },
    "note.reading.lecture": {
        "en": "The letters are read as on the lecture's later slides: W multiplies the input x_t "
        "and U the previous state (h→_t = W_A x_t + U_A h→_(t-1)). Read with the vanilla "
        "slide's letters (U input, W recurrent; --reading vanilla) the answer is y = {other}.",
        "vi": "Ký hiệu được đọc theo các slide sau của bài giảng: W nhân với đầu vào x_t và U "
        "nhân với trạng thái trước (h→_t = W_A x_t + U_A h→_(t-1)). Nếu đọc theo ký hiệu của slide "
        "vanilla RNN (U cho đầu vào, W cho trạng thái; --reading vanilla) thì đáp án là "
        "y = {other}.",
    },
    "note.reading.vanilla": {
        "en": "The letters are read as on the vanilla RNN slide: U multiplies the input x_t and "
        "W the previous state (h→_t = U_A x_t + W_A h→_(t-1)). With the lecture's later convention "
        "(W input, U recurrent; --reading lecture) the answer is y = {other}.",
        "vi": "Ký hiệu được đọc theo slide vanilla RNN: U nhân với đầu vào x_t và W nhân "
        "với trạng thái trước (h→_t = U_A x_t + W_A h→_(t-1)). Theo quy ước các slide sau của "
        "bài giảng (W cho đầu vào, U cho trạng thái; --reading lecture) thì đáp án là "
        "y = {other}.",
    },
    "note.reading.lecture.unfit": {
        "en": "The letters are read as on the lecture's later slides (W input, U recurrent). The "
        "vanilla slide's reading (--reading vanilla) does not fit these shapes.",
        "vi": "Ký hiệu được đọc theo các slide sau của bài giảng (W cho đầu vào, U cho trạng "
        "thái). "
        "Cách đọc theo slide vanilla RNN (--reading vanilla) không khớp kích thước này.",
    },
    "note.reading.vanilla.unfit": {
        "en": "The letters are read as on the vanilla RNN slide (U input, W recurrent). The "
        "lecture's later reading (--reading lecture) does not fit these shapes.",
        "vi": "Ký hiệu được đọc theo slide vanilla RNN (U cho đầu vào, W cho trạng thái). "
        "Cách đọc theo các slide sau (--reading lecture) không khớp kích thước này.",
    },
    # ----- labels -----
    "label.given": {"en": "Given", "vi": "Cho"},
    "label.note": {"en": "Note", "vi": "Lưu ý"},
    "label.solution": {"en": "Solution", "vi": "Giải"},
    "label.step": {"en": "Step {n}: {name}", "vi": "Bước {n}: {name}"},
    "label.time": {"en": "Time step t = {t}", "vi": "Thời điểm t = {t}"},
    "label.answer": {"en": "Answer", "vi": "Đáp án"},
    # ----- the interactive page (page.py, page.js) -----
    "page.source": {
        "en": "Change any input, weight or bias below: as you type, the page recomputes every "
        "step in your browser with the lecture's equations (JavaScript numbers are float64) and "
        "shows it to 10 decimals, as `rnnkit explain` does. rnnkit's tests check that the page "
        "shows what {source} computes.",
        "vi": "Bạn có thể sửa mọi đầu vào, trọng số và bias bên dưới: khi bạn gõ, trang tính lại "
        "mọi bước ngay trong trình duyệt theo các phương trình của bài giảng (số trong "
        "JavaScript là float64) và hiển thị đến 10 chữ số thập phân như `rnnkit explain`. Các "
        "bài kiểm thử của rnnkit kiểm tra rằng trang cho đúng kết quả mà {source} tính.",
    },
    "page.invalid": {
        "en": "{name} holds “{text}”, which is not a number: type one such as -1.5 or 2e-3 "
        "(with a decimal point). The steps below are still those of the last valid numbers.",
        "vi": "{name} đang là “{text}”, không phải là số: hãy nhập một số như -1.5 hoặc 2e-3 "
        "(dùng dấu chấm thập phân). Các bước bên dưới vẫn là của các số hợp lệ gần nhất.",
    },
    "page.reset": {"en": "Back to the starting numbers", "vi": "Trở lại các số ban đầu"},
    "page.noscript": {
        "en": "This page computes the steps with JavaScript; turn it on, or run `rnnkit "
        "explain` in a terminal.",
        "vi": "Trang này tính các bước bằng JavaScript; hãy bật JavaScript, hoặc chạy `rnnkit "
        "explain` trong terminal.",
    },
}


def say(key: str, lang: str, **args: object) -> str:
    """The sentence `key` in `lang` ("en" or "vi"), with `args` put in."""
    return TEXT[key][lang].format(**args)


# What `rnnkit explain --out FILE` says once it has written FILE: [a page or not].
WROTE = {
    "en": ("wrote {out}", "wrote {out}; open it in a browser"),
    "vi": ("đã ghi {out}", "đã ghi {out}; hãy mở nó bằng trình duyệt"),
}
