"""Text data: reading, NFC, tokenisers, vocabularies, splits and TBPTT batches."""

import unicodedata

import pytest
import torch

from rnnkit.data.text import (
    UNK,
    TokenBatches,
    Vocabulary,
    builtin_corpus,
    read_text,
    split_ids,
    tokenize,
)
from rnnkit.errors import RnnkitError

VIETNAMESE = "Tiếng Việt có dấu: người, được, những.\n"
MIXED = "Hello, world! 😀 don't stop.\n\n\nTiếng Việt — ok?\n"


def test_reading_normalises_to_nfc_and_unifies_line_ends(tmp_path):
    decomposed = unicodedata.normalize("NFD", VIETNAMESE)
    assert decomposed != VIETNAMESE  # the test text really has combining marks
    path = tmp_path / "vi.txt"
    path.write_bytes(("\ufeff" + decomposed.replace("\n", "\r\n")).encode("utf-8"))
    text = read_text(path)
    assert text == VIETNAMESE
    vocab = Vocabulary.build(text, "char")
    assert "ế" in vocab.tokens and "\u0301" not in vocab.tokens  # one symbol per letter


def test_folder_reads_every_txt_file_in_sorted_order(tmp_path):
    (tmp_path / "b.txt").write_text("second", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first\n", encoding="utf-8")
    (tmp_path / "skip.md").write_text("not text", encoding="utf-8")
    assert read_text(tmp_path) == "first\nsecond\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"  \n\n", "holds only white space"),
        (b"GIF89a\x00\x01\x02", "looks binary (NUL byte at offset 6)"),
        (b"abc\xffdef", "not valid UTF-8 (byte 0xff at offset 3)"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(RnnkitError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        read_text(path)
    assert "\n" not in str(error.value)


def test_missing_path_and_folder_without_text(tmp_path):
    with pytest.raises(RnnkitError, match="does not exist"):
        read_text(tmp_path / "nope.txt")
    with pytest.raises(RnnkitError, match=r"no \.txt files"):
        read_text(tmp_path)


def test_char_vocabulary_is_sorted_and_round_trips():
    vocab = Vocabulary.build(MIXED, "char")
    assert list(vocab.tokens) == sorted(set(MIXED))
    assert vocab.decode(vocab.encode(MIXED)) == MIXED
    assert vocab.encode("\n\n") == [vocab.tokens.index("\n")] * 2


def test_char_vocabulary_refuses_unknown_characters():
    vocab = Vocabulary.build("abc", "char")
    with pytest.raises(RnnkitError, match="never saw \\('z'\\)"):
        vocab.encode("abz")


def test_word_tokeniser_splits_words_punctuation_and_line_ends():
    assert tokenize(MIXED, "word") == [
        "Hello", ",", "world", "!", "😀", "don't", "stop", ".", "\n", "\n", "\n",
        "Tiếng", "Việt", "—", "ok", "?", "\n",
    ]  # fmt: skip
    assert tokenize("A b\n\nc", "word", tokenizer="whitespace") == ["A", "b", "\n", "\n", "c", "\n"]
    assert tokenize("The Cat", "word", lowercase=True) == ["the", "cat"]


def test_word_vocabulary_round_trips_tokens_and_text():
    vocab = Vocabulary.build(MIXED, "word")
    ids = vocab.encode(MIXED)
    assert vocab.tokenize(vocab.decode(ids)) == vocab.tokenize(MIXED)
    assert vocab.decode(vocab.encode("Hello, world!\n\nok?")) == "Hello, world!\n\nok?"


def test_word_vocabulary_caps_by_frequency_with_unk():
    vocab = Vocabulary.build("b a b c b a d", "word", max_size=3)
    assert vocab.tokens == (UNK, "b", "a")  # b x3, a x2; c and d (once each) become <unk>
    assert vocab.encode("a c b") == [2, 0, 1]
    assert vocab.unknown("a c e c") == ["c", "e"]


def test_vocabulary_json_round_trip():
    for vocab in (Vocabulary.build(MIXED, "char"), Vocabulary.build(MIXED, "word", lowercase=True)):
        assert Vocabulary.from_json(vocab.to_json()) == vocab


def test_corrupt_vocabulary_json_is_a_clear_error():
    with pytest.raises(RnnkitError, match=r"vocab\.json is corrupt"):
        Vocabulary.from_json('{"tokens": ')


def test_split_is_contiguous_and_in_order():
    ids = list(range(100))
    train, valid, test = split_ids(ids, (0.9, 0.05, 0.05))
    assert (train, valid, test) == (ids[:90], ids[90:95], ids[95:])
    with pytest.raises(RnnkitError, match="sum to 1"):
        split_ids(ids, (0.5, 0.2, 0.2))


def test_batches_cover_every_token_once_per_epoch():
    ids = list(range(103))  # B = 4 rows of L = 25 tokens; ids[101:] are left over
    batches = TokenBatches(ids, batch_size=4, seq_len=7)
    assert batches.batches_per_epoch == 4  # 7 + 7 + 7 + 4 steps
    chunks = [batches.next_batch() for _ in range(batches.batches_per_epoch)]
    assert [c.reset for c in chunks] == [True, False, False, False]
    targets = torch.cat([c.targets for c in chunks], dim=1)  # (4, 25)
    inputs = torch.cat([c.inputs for c in chunks], dim=1)
    assert targets.flatten().tolist() == list(range(1, 101))  # each token exactly once, in order
    assert inputs.flatten().tolist() == list(range(100))  # each input precedes its target
    assert (batches.epoch, batches.index) == (1, 0)
    assert batches.next_batch().inputs.tolist() == chunks[0].inputs.tolist()


def test_batch_position_resumes_exactly():
    ids = list(range(200))
    first = TokenBatches(ids, batch_size=3, seq_len=5)
    for _ in range(17):
        first.next_batch()
    second = TokenBatches(ids, batch_size=3, seq_len=5)
    second.load_state_dict(first.state_dict())
    for _ in range(20):
        assert torch.equal(first.next_batch().targets, second.next_batch().targets)


def test_ranks_read_disjoint_rows_that_together_make_the_batch():
    ids = list(range(400))
    whole = TokenBatches(ids, batch_size=4, seq_len=10).next_batch()
    shards = [TokenBatches(ids, 4, 10, rank=r, world_size=2).next_batch() for r in (0, 1)]
    assert torch.equal(torch.cat([s.inputs for s in shards]), whole.inputs)


def test_text_shorter_than_one_batch_is_refused():
    with pytest.raises(RnnkitError, match="fewer than one batch"):
        TokenBatches(list(range(50)), batch_size=4, seq_len=16)


def test_builtin_corpus_is_pythons_documentation():
    text = builtin_corpus()
    assert len(text) > 400_000
    assert 'The "if" statement' in text
    assert text == unicodedata.normalize("NFC", text)
