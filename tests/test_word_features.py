"""Word features (`--word-features`): a word's input vector sums those of the word, its core and
its shape, so that its forms share what they learn; checkpoints keep the maps they trained with."""

import json

import pytest
import torch

from conftest import error_line
from rnnkit import TextModel
from rnnkit.cli.main import main
from rnnkit.errors import RnnkitError
from rnnkit.models import word_features
from rnnkit.models.language import LanguageModel, LanguageModelConfig
from rnnkit.models.word_features import word_parts

WORDS = ["<unk>", "\n", "king", "King,", "king.", "queen", "Queen,", "HAMLET:", "'tis", "--"]


@pytest.mark.parametrize(
    ("token", "parts"),
    [
        ("king", ("king", "|lower|")),
        ("King,", ("king", "|Title|,")),
        ("HAMLET:", ("hamlet", "|UPPER|:")),
        ("'tis", ("tis", "'|lower|")),
        ("king's", ("king's", "|lower|")),  # an apostrophe inside stays in the core
        ("King's", ("king's", "|Title|")),  # Title although str.istitle() says no
        ("To-morrow", ("to-morrow", "|Title|")),
        ("I", ("i", "|Title|")),
        ("McBeth", ("mcbeth", "|other|")),
        ("1599", ("1599", "|other|")),  # no letters: no case
        ("--", ("--", "symbol")),
        ("\n", ("\n", "symbol")),
        ("<unk>", ("<unk>", "symbol")),
    ],
)
def test_a_token_splits_into_its_lower_case_core_and_its_shape(token, parts):
    assert word_parts(token) == parts


def model(**overrides) -> LanguageModel:
    torch.manual_seed(0)
    settings = {"vocab_size": len(WORDS), "hidden_size": 8, "num_layers": 1, "dropout": 0.0}
    config = LanguageModelConfig(**{**settings, "word_features": True, **overrides})
    return LanguageModel(config, WORDS)


def features(lm: LanguageModel) -> dict[str, torch.Tensor]:
    """Each token's input vector less its own embedding row: its core's plus its shape's."""
    return dict(zip(WORDS, lm.input_vectors() - lm.embedding.weight, strict=True))


def test_forms_of_a_word_share_its_core_and_words_of_a_form_share_its_shape():
    f = features(model())
    # King, - king = shape(Title ,) - shape(lower) = Queen, - queen
    torch.testing.assert_close(f["King,"] - f["king"], f["Queen,"] - f["queen"])
    assert not torch.allclose(f["King,"], f["Queen,"])  # different cores


def test_a_form_never_read_learns_from_the_forms_that_were():
    """One step of SGD on text of "King," alone moves the input vector of "king." too (the same
    core), and not that of "queen" (another core, another shape)."""
    lm = model()
    before = lm.input_vectors().detach().clone()
    king_comma = WORDS.index("King,")
    tokens = torch.full((2, 5), king_comma)
    loss, _ = lm.nll(tokens, tokens)
    loss.backward()
    with torch.no_grad():
        for p in lm.parameters():
            if p.grad is not None:
                p -= 0.5 * p.grad
    moved = (lm.input_vectors().detach() - before).abs().sum(1)
    assert moved[WORDS.index("king.")] > 0
    assert moved[WORDS.index("queen")] == 0


def test_the_input_table_and_the_forward_pass_agree():
    lm = model().eval()
    tokens = torch.tensor([[2, 3, 4, 7], [8, 9, 1, 0]])
    torch.testing.assert_close(lm.embed(tokens), lm.input_vectors()[tokens])


def test_word_features_need_the_word_vocabulary_and_an_embedding():
    with pytest.raises(RnnkitError, match="--level word"):
        LanguageModel(LanguageModelConfig(vocab_size=len(WORDS), word_features=True))
    with pytest.raises(RnnkitError, match="got 9 tokens for a vocabulary of 10"):
        LanguageModel(LanguageModelConfig(vocab_size=len(WORDS), word_features=True), WORDS[:9])
    with pytest.raises(RnnkitError, match="--embedding 0"):
        model(embedding_size=0)


TEXT = "King, to be or not to be. the king. Queen, the queen.\n" * 20
TINY = {"hidden_size": 16, "num_layers": 1, "batch_size": 2, "seq_len": 6}


def test_a_word_model_with_features_trains_saves_and_loads_the_same(tmp_path, monkeypatch):
    """Loading restores the maps the model trained with, even where this rnnkit would split the
    words differently into as many parts (here: cores spelled backwards, so sorted into another
    order)."""
    lm = TextModel(level="word", word_features=True, **TINY)
    lm.fit(text=TEXT, out=tmp_path / "run", steps=6, progress=False)
    text = tmp_path / "eval.txt"
    text.write_text("the King, the queen.\n", encoding="utf-8")
    split = word_features.word_parts
    monkeypatch.setattr(word_features, "word_parts", lambda t: (split(t)[0][::-1], split(t)[1]))
    loaded = TextModel.load(tmp_path / "run")
    assert loaded.settings.word_features
    assert loaded.evaluate(text) == lm.evaluate(text)
    assert loaded.generate("the", length=8, seed=2) == lm.generate("the", length=8, seed=2)
    # a split into another number of shapes cannot hold the trained table: one clear error
    monkeypatch.setattr(word_features, "word_parts", lambda t: (split(t)[0], "one shape"))
    with pytest.raises(RnnkitError, match="retrain"):
        TextModel.load(tmp_path / "run")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--word-features"], "--word-features splits words: use it with --level word"),
        # the word recipe turns the features on; one-hot input has no row to add them to
        (["--level", "word", "--embedding", "0"], "give --no-word-features for one-hot input"),
    ],
)
def test_word_features_without_words_or_embedding_are_one_error(tmp_path, capsys, flags, message):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    argv = ["train", "text", str(source), "--out", str(tmp_path / "run"), *flags]
    assert main([*argv, "--time", "5s", "--no-progress"]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_word_features_on_a_melody_are_one_error_before_any_music_is_read(tmp_path, capsys):
    argv = ["train", "melody", "--word-features", "--steps", "1", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    assert "melody events have no words" in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_run_folder_whose_settings_cannot_go_together_is_one_error(tmp_path, capsys):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    run = tmp_path / "run"
    small = ["--hidden", "8", "--batch-size", "2", "--seq-len", "8", "--steps", "1"]
    assert main(["train", "text", str(source), "--out", str(run), *small, "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    config["task_config"]["model"]["word_features"] = True  # at character level
    (run / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["sample", str(run), "--length", "5"]) == 2
    line = error_line(capsys)
    assert "config.json" in line and "--level word" in line
