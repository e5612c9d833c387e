"""rnnkit visualize: traced gates against the lecture's equations, features, saturation, and the
page as headless Chromium renders it."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import warnings
from html.parser import HTMLParser

import pytest
import torch
from torch import nn

import rnnkit
from devtools import CHROMIUM_FLAGS
from rnnkit.cli.main import main
from rnnkit.errors import RnnkitError
from rnnkit.visualize import build_page, trace_language_model, visualize_text
from rnnkit.visualize.features import correlations, text_features, top_units
from rnnkit.visualize.saturation import histogram, saturation

TEXT = 'He said "hi (there)" to me.\nShe said "bye".\n'


class CharVocab:
    """The smallest vocabulary visualize_text needs: tokens and encode."""

    level = "char"

    def __init__(self, text: str) -> None:
        self.tokens = sorted(set(text))

    def encode(self, text: str) -> list[int]:
        return [self.tokens.index(c) for c in text]


class TinyLanguageModel(nn.Module):
    """Embedding -> rnnkit network -> linear, called as model(tokens (B, T))."""

    def __init__(self, vocab_size: int, network: nn.Module, embedding: int = 4) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding)
        self.rnn = network
        self.output = nn.Linear(network.hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        h, state = self.rnn(self.embedding(tokens), state)
        return self.output(h), state


def tiny_model(network_class=rnnkit.LSTM, **options) -> tuple[TinyLanguageModel, CharVocab]:
    torch.manual_seed(0)
    vocab = CharVocab(TEXT)
    network = network_class(4, 5, num_layers=2, batch_first=True, **options)
    return TinyLanguageModel(len(vocab.tokens), network).eval(), vocab


def ids_of(vocab: CharVocab, text: str = TEXT) -> torch.Tensor:
    return torch.tensor(vocab.encode(text))


# ----- the trace ------------------------------------------------------------------------------
def test_lstm_trace_follows_the_lecture_equations():
    model, vocab = tiny_model()
    ids = ids_of(vocab)
    signals = {(s.layer, s.name): s.values for s in trace_language_model(model, ids)}
    # Layer 1 by the lecture's equations, written out here independently of the cell.
    p = model.rnn.params(0)
    x = model.embedding(ids).detach()
    h, c = torch.zeros(5), torch.zeros(5)
    for t in range(len(ids)):
        gate = {g: p[f"W_{g}"] @ x[t] + p[f"U_{g}"] @ h + p[f"b_{g}"] for g in "fioc"}
        f, i, o = (torch.sigmoid(gate[g]) for g in "fio")
        c_tilde = torch.tanh(gate["c"])
        c = f * c + i * c_tilde
        h = o * torch.tanh(c)
        expected = {"f": f, "i": i, "o": o, "c_tilde": c_tilde, "tanh_c": torch.tanh(c), "h": h}
        for name, value in expected.items():
            torch.testing.assert_close(signals[(1, name)][t], value.detach())
    # The top layer's h against torch.nn.LSTM with the same weights.
    reference, _ = model.rnn.to_torch()(x[None])
    torch.testing.assert_close(signals[(2, "h")], reference[0].detach(), rtol=1e-5, atol=1e-6)


def test_gru_and_rnn_traces_name_their_gates():
    model, vocab = tiny_model(rnnkit.GRU, reset="after")
    signals = trace_language_model(model, ids_of(vocab))
    assert [(s.layer, s.name, s.kind) for s in signals[:4]] == [
        (1, "h", "signed"),
        (1, "r", "gate"),
        (1, "z", "gate"),
        (1, "h_tilde", "signed"),
    ]
    x = model.embedding(ids_of(vocab))[None]
    reference, _ = model.rnn.to_torch()(x)  # torch.nn.GRU: an independent implementation
    torch.testing.assert_close(signals[4].values, reference[0].detach(), rtol=1e-5, atol=1e-6)
    model, vocab = tiny_model(rnnkit.RNN)
    assert [s.name for s in trace_language_model(model, ids_of(vocab))] == ["h", "h"]


def test_bidirectional_models_are_refused():
    model, vocab = tiny_model(bidirectional=True)
    with pytest.raises(RnnkitError, match="left-to-right"):
        trace_language_model(model, ids_of(vocab))


# ----- features and saturation ----------------------------------------------------------------
def test_text_features_by_hand():
    features = text_features(list('a "b" (c)\nde'))
    #                           a  _  "  b  "  _  (  c  )  \n d  e
    assert features["inside quotes"].tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert features["inside brackets"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert features["position in line"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_correlations_find_the_unit_that_follows_a_feature():
    feature = torch.tensor([0, 1, 1, 0, 1, 0], dtype=torch.float64)
    values = torch.stack([-feature, torch.tensor([3.0, 1, 4, 1, 5, 9]), 2 * feature + 1], dim=1)
    values = torch.cat([values, torch.ones(6, 1)], dim=1)  # a flat unit has r = 0
    r = correlations(values, feature)
    torch.testing.assert_close(r[[0, 2, 3]], torch.tensor([-1.0, 1.0, 0.0], dtype=torch.float64))
    assert {unit for unit, _ in top_units(values, feature, k=2)} == {0, 2}


def test_saturation_fractions_and_histogram():
    values = torch.tensor([[0.05, 0.5], [0.95, 0.5], [0.05, 0.99], [0.5, 0.0]])
    left, right = saturation(values)
    assert left.tolist() == [0.5, 0.25] and right.tolist() == [0.25, 0.25]
    assert histogram(torch.tensor([0.0, 0.05, 0.15, 1.0])) == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]


# ----- the page -------------------------------------------------------------------------------
def page_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    return json.loads(found[1])


def test_page_is_self_contained_and_carries_the_values():
    model, vocab = tiny_model()
    signals = trace_language_model(model, ids_of(vocab))
    page = build_page(list(TEXT), signals, "t")
    assert not re.search(r"https?://|<link|\bsrc=|@import", page)
    data = page_data(page)
    assert data["chars"] == list(TEXT)
    for signal, sent in zip(signals, data["signals"]):
        q = torch.tensor(list(base64.b64decode(sent["data"])), dtype=torch.float64) / 255
        back = q.view(signal.values.shape[1], len(TEXT)).T  # (T, H) from unit-major bytes
        value = back if sent["kind"] == "gate" else 2 * back - 1
        torch.testing.assert_close(value, signal.values.double(), rtol=0, atol=1 / 255)


def test_word_models_and_empty_text_are_refused():
    model, vocab = tiny_model()
    with pytest.raises(RnnkitError, match="empty"):
        visualize_text(model, vocab, "", "t")
    vocab.level = "word"
    with pytest.raises(RnnkitError, match="character-level"):
        visualize_text(model, vocab, TEXT, "t")


# ----- in a real browser ----------------------------------------------------------------------
def chromium(browser: str, tmp_path, url: str, *flags: str) -> str:
    """Run headless Chromium (the `browser` fixture, conftest.py) on `url` with a fresh profile;
    return what it prints."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


class Elements(HTMLParser):
    """The attributes of every element, and the text of the coloured characters."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.chars: list[str] = []
        self._in_char = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        self._in_char = attributes.get("class") == "ch"
        if self._in_char:
            self.chars.append("")

    def handle_endtag(self, tag):
        self._in_char = False

    def handle_data(self, data):
        if self._in_char:
            self.chars[-1] += data

    def find(self, tag: str | None = None, **wanted: str) -> list[dict]:
        """The attributes of the elements with this tag (any if None) and these attributes."""
        return [
            attributes
            for name, attributes in self.elements
            if tag in (None, name) and all(attributes.get(k) == v for k, v in wanted.items())
        ]


@pytest.fixture
def page_file(tmp_path):
    model, vocab = tiny_model()
    signals = trace_language_model(model, ids_of(vocab))
    path = tmp_path / "page.html"
    path.write_text(visualize_text(model, vocab, TEXT, "tiny"), encoding="utf-8")
    return path, signals


def test_chromium_renders_the_chosen_unit(browser, tmp_path, page_file):
    path, signals = page_file
    chosen, unit = 4, 3  # layer 1's candidate c~, unit 3
    dom = Elements()
    dom.feed(
        chromium(browser, tmp_path, f"{path.as_uri()}#signal={chosen}&unit={unit}", "--dump-dom")
    )
    assert dom.find("body", **{"data-ready": "true"})  # the script ran to its end
    status = dom.find(id="status")[0]
    assert (status["data-signal"], status["data-unit"]) == (str(chosen), str(unit))
    spans = dom.find("span", **{"class": "ch"})
    assert len(spans) == len(TEXT)
    assert "".join(dom.chars) == TEXT.replace("\n", "\u21b5\n")
    shown = torch.tensor([float(span["data-value"]) for span in spans])
    expected = signals[chosen].values[:, unit]
    torch.testing.assert_close(shown, expected, rtol=0, atol=1 / 255 + 1e-3)
    assert all(span["style"].startswith("background-color: rgb") for span in spans)
    assert len(dom.find("option")) == len(signals)  # every layer's h, cell state and gates
    gates = [s for s in signals if s.kind == "gate"]
    assert len(dom.find("figure")) == len(gates) == 6  # f, i, o in each of the two layers
    assert len(dom.find("circle")) == 6 * 5  # one dot per unit of each gate
    assert len(dom.find("a", **{"class": "unit-link"})) == len(signals) * 3 * 3


def test_chromium_takes_a_screenshot(browser, tmp_path, page_file):
    path, _ = page_file
    shot = tmp_path / "shot.png"
    chromium(browser, tmp_path, path.as_uri(), f"--screenshot={shot}", "--window-size=1000,800")
    import matplotlib.image

    image = matplotlib.image.imread(shot)
    assert image.shape[:2] == (800, 1000)
    assert image[..., :3].std() > 0.01  # not a blank page


# ----- the command, on a run folder of `rnnkit train text` ------------------------------------
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("visualize")
    (folder / "text.txt").write_text(TEXT * 5, encoding="utf-8")
    tiny = ["--hidden", "8", "--layers", "2", "--batch-size", "2", "--seq-len", "8"]
    args = ["train", "text", str(folder / "text.txt"), "--out", str(folder / "run"), *tiny]
    assert main([*args, "--steps", "2", "--eval-every", "2", "--no-progress"]) == 0
    return folder


def test_visualize_command_writes_the_page(run_folder, capsys):
    out = run_folder / "page.html"
    args = [str(run_folder / "run"), str(run_folder / "text.txt"), "--out", str(out)]
    assert main(["visualize", *args, "--max-chars", "30"]) == 0
    data = page_data(out.read_text(encoding="utf-8"))
    assert "".join(data["chars"]) == (TEXT * 5)[:30]
    # 2 layers of an LSTM: h, f, i, o, c~, tanh(c) each.
    assert [s["label"].split(" · ")[0] for s in data["signals"]] == ["layer 1"] * 6 + [
        "layer 2"
    ] * 6
    assert main(["visualize", str(run_folder / "run"), str(run_folder / "text.txt")]) == 0
    assert (run_folder / "run" / "visualize.html").is_file()
    vi = run_folder / "vi.html"
    assert main(["visualize", *args[:2], "--out", str(vi), "--lang", "vi"]) == 0
    assert "cell LSTM, 2 lớp, mỗi lớp" in vi.read_text(encoding="utf-8")


def test_a_text_of_one_character_gives_a_page_and_no_warning(run_folder, tmp_path, capsys):
    (tmp_path / "one.txt").write_text("H", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "std(): degrees of freedom is <= 0" before
        args = [str(run_folder / "run"), str(tmp_path / "one.txt")]
        assert main(["visualize", *args, "--out", str(tmp_path / "page.html")]) == 0
    assert page_data((tmp_path / "page.html").read_text(encoding="utf-8"))["chars"] == ["H"]


@pytest.mark.parametrize(
    "text, message",
    [("Zebra", "characters the model never saw"), (None, "does not exist")],
)
def test_visualize_command_errors(run_folder, capsys, text, message):
    capsys.readouterr()
    path = run_folder / "missing.txt"
    if text is not None:
        path = run_folder / "other.txt"
        path.write_text(text, encoding="utf-8")
    out = run_folder / "never.html"
    status = main(["visualize", str(run_folder / "run"), str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists()


VIETNAMESE_ERRORS = [  # (RUN, TEXT, what is said in English, in Vietnamese)
    ("nowhere", "text.txt", "nowhere does not exist; give the folder a training", "không tồn tại"),
    (".", "text.txt", "is not an rnnkit run folder (no config.json)", "không phải thư mục"),
    ("run", "missing.txt", "missing.txt does not exist", "missing.txt không tồn tại"),
    ("run", "zebra.txt", "characters the model never saw ('Z')", "ký tự mà mô hình chưa từng thấy"),
    ("run", "empty.txt", "holds only white space (spaces", "chỉ có khoảng trắng"),
    ("run", "utf16.txt", "is UTF-16 text; re-save it as UTF-8", "là văn bản UTF-16"),
    ("run", "binary.txt", "looks binary", "tệp nhị phân"),
    ("run", "latin1.txt", "is not valid UTF-8 (byte 0xe9", "không phải UTF-8 hợp lệ"),
    ("word-run", "text.txt", "is a word-level text run", "là mô hình mức từ"),
]


@pytest.mark.parametrize("run, text, english, vietnamese", VIETNAMESE_ERRORS)
def test_visualize_errors_say_what_is_wrong_in_either_language(
    run_folder, capsys, run, text, english, vietnamese
):
    files = {"zebra.txt": b"Zebra", "empty.txt": b" \n", "binary.txt": b"ab\0cd"}
    files |= {"utf16.txt": "hello".encode("utf-16"), "latin1.txt": "café".encode("latin-1")}
    if text in files:
        (run_folder / text).write_bytes(files[text])
    if run == "word-run" and not (run_folder / run).exists():
        args = ["train", "text", str(run_folder / "text.txt"), "--level", "word", "--hidden", "8"]
        tiny = ["--batch-size", "2", "--seq-len", "4", "--steps", "1", "--no-progress"]
        assert main([*args, *tiny, "--out", str(run_folder / run)]) == 0
    words = [str(run_folder / run), str(run_folder / text), "--out", str(run_folder / "no.html")]
    capsys.readouterr()
    for lang, prefix, message in (("en", "error: ", english), ("vi", "lỗi: ", vietnamese)):
        assert main(["visualize", *words, "--lang", lang]) == 2
        err = capsys.readouterr().err
        assert err.startswith(prefix) and message in err and err.count("\n") == 1, err
    assert not (run_folder / "no.html").exists()


def test_a_missing_text_is_named_before_an_existing_page(run_folder, capsys):
    page = run_folder / "kept.html"
    page.write_text("mine", encoding="utf-8")
    capsys.readouterr()
    args = [str(run_folder / "run"), str(run_folder / "missing.txt"), "--out", str(page)]
    assert main(["visualize", *args]) == 2
    err = capsys.readouterr().err
    assert "missing.txt does not exist" in err and "already exists" not in err
    assert page.read_text(encoding="utf-8") == "mine"


def test_the_page_speaks_vietnamese_with_the_lecture_names():
    model, vocab = tiny_model()
    page = visualize_text(model, vocab, TEXT, "__DATA__ t", lang="vi")
    assert '<html lang="vi">' in page and "<h1>__DATA__ t</h1>" in page  # one pass: kept as is
    for words in ("Độ bão hoà của các cổng", "tín hiệu", "trong dấu ngoặc kép", "&#9664; Trước"):
        assert words in page
    labels = [s["label"] for s in page_data(page)["signals"]]
    assert labels[:2] == [
        "lớp 1 · h (trạng thái ẩn, hidden state)",
        "lớp 1 · f (cổng quên, forget gate)",
    ]
    for english in ("Gate saturation", "Units that follow", "not in this text", "layer 1"):
        assert english not in page


def test_every_word_of_the_page_is_in_both_languages():
    from rnnkit.visualize.words import FEATURES, QUANTITIES, TEXT

    for table in (TEXT, QUANTITIES, FEATURES):
        assert set(table["en"]) == set(table["vi"])
    assert set(FEATURES["en"]) == set(text_features(list(TEXT_SAMPLE)))


TEXT_SAMPLE = 'a "b" (c)\n'


def test_a_bar_of_one_unit_says_unit():
    from rnnkit.visualize.page import histogram_svg

    svg = histogram_svg([1, 2] + [0] * 8, "x")
    assert "0.0-0.1: 1 unit<" in svg and "0.1-0.2: 2 units<" in svg


def test_chromium_shows_the_status_in_vietnamese(browser, tmp_path):
    model, vocab = tiny_model()
    path = tmp_path / "vi.html"
    path.write_text(visualize_text(model, vocab, TEXT, "tiny", lang="vi"), encoding="utf-8")
    dom = chromium(browser, tmp_path, f"{path.as_uri()}#signal=1&unit=3", "--dump-dom")
    assert "lớp 1 · f (cổng quên, forget gate), unit 3 (trong số 5)" in dom


def test_the_template_placeholders_are_the_words_given():
    from rnnkit.visualize.page import PLAIN_WORDS, TEMPLATE

    placeholders = set(re.findall(r"__[A-Z_]+__", TEMPLATE))
    given = {f"__{key.upper()}__" for key in PLAIN_WORDS}
    given |= {"__TITLE__", "__SUBTITLE__", "__LANG__", "__FEATURES__", "__SATURATION__"}
    assert placeholders == given | {"__DATA__", "__SATURATION_TEXT__"}
