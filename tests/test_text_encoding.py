"""Text at scale: the pieces of a file are its text; one streaming pass gives the ids of the
small-text path (Vocabulary.encode) in the smallest unsigned type; pruning maps rare tokens to
<unk>; a run caches its ids and a resumed run maps them from disk."""

import gc
import tempfile
import unicodedata

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.data.text import Vocabulary, encode, read_text, smallest_dtype, text_pieces
from rnnkit.errors import RnnkitError
from rnnkit.tasks.text import TextDataConfig
from rnnkit.tasks.text_data import TextSource, write_cache

TEXTS = {
    "crlf and bom": "\ufeffline one\r\nline two\rline three\n".encode(),
    "combining marks": unicodedata.normalize(
        "NFD", "Tiếng Việt có dấu.\nĐây là câu hai.\n"
    ).encode(),
    "no final newline": b"alpha beta\ngamma",
    "one long line": ("x" * 300 + "é" + "y" * 300).encode(),
}


@pytest.mark.parametrize("name", TEXTS)
def test_pieces_join_to_the_whole_text(tmp_path, name):
    path = tmp_path / "t.txt"
    path.write_bytes(TEXTS[name])
    for size in (5, 16, 1 << 20):  # pieces of a few bytes cut lines and long runs
        assert "".join(text_pieces(path, piece_bytes=size)) == read_text(path)


def test_a_folder_is_its_files_joined_by_line_ends(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"first file")
    (tmp_path / "b.txt").write_bytes(b"second\n")
    assert "".join(text_pieces(tmp_path, piece_bytes=4)) == read_text(tmp_path)
    assert read_text(tmp_path) == "first file\nsecond\n"


@pytest.mark.parametrize(("level", "tokenizer"), [("char", "words"), ("word", "words"),
                                                  ("word", "whitespace")])  # fmt: skip
def test_one_pass_gives_the_ids_of_the_small_text_path(level, tokenizer):
    text = "The cat sat. The dog sat!\nA cat, a hat.\n" * 7
    pieces = [text[:50], text[50:120], text[120:]]  # cut at arbitrary places: chars only
    pieces = pieces if level == "char" else [text]
    encoded = encode(pieces, level, False, tokenizer)
    vocab = Vocabulary.from_counts(encoded.count_of(), level, tokenizer=tokenizer)
    assert vocab == Vocabulary.build(text, level, tokenizer=tokenizer)
    assert encoded.ids_for(vocab).tolist() == vocab.encode(text)
    assert encoded.ids_for(vocab).dtype == smallest_dtype(len(vocab)) == np.uint8


def test_ids_grow_to_the_type_that_holds_them():
    wide = "".join(chr(0x4E00 + i) for i in range(300))  # 300 distinct characters
    encoded = encode(["ab", wide], "char", False, "words")
    vocab = Vocabulary.from_counts(encoded.count_of(), "char")
    ids = encoded.ids_for(vocab)
    assert ids.dtype == np.uint16 and ids.tolist() == vocab.encode("ab" + wide)


def test_rare_characters_become_unk_at_character_level():
    text = "aaaa bbb cc d\n"
    vocab = Vocabulary.build(text, "char", min_count=2)
    assert vocab.tokens == ("<unk>", " ", "a", "b", "c")  # "d" and "\n" once: <unk>
    assert vocab.encode("dab") == [0, 2, 3]
    capped = Vocabulary.build(text, "char", max_size=3)
    assert capped.tokens == ("<unk>", " ", "a")  # the two most frequent, sorted
    encoded = encode([text], "char", False, "words")
    assert encoded.ids_for(capped).tolist() == capped.encode(text)
    with pytest.raises(
        RnnkitError,
        match="--min-count 5 keeps no token: the most frequent one "
        "is seen 4 times; give --min-count 4 or less",
    ):
        Vocabulary.build(text, "char", min_count=5)


def test_a_run_caches_its_ids_and_a_resumed_run_maps_them(tmp_path):
    (tmp_path / "t.txt").write_text("To be, or not to be.\n" * 50, encoding="utf-8")
    tiny = ["--hidden", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "8"]
    args = ["train", "text", str(tmp_path / "t.txt"), *tiny, "--steps", "2", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    cache = tmp_path / "run" / "data"
    ids = np.load(cache / "ids.npy")
    vocab = Vocabulary.load(tmp_path / "run" / "vocab.json")
    assert ids.dtype == np.uint8 and ids.tolist() == vocab.encode(read_text(tmp_path / "t.txt"))
    data = TextDataConfig(source=str(tmp_path / "t.txt"))
    data.fingerprint = encode([read_text(tmp_path / "t.txt")], "char", False, "words").fingerprint
    source = TextSource(data, cache=cache)
    assert source.fingerprint() == data.fingerprint  # hashed, not encoded
    mapped = source.ids(vocab)["ids"]
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, ids)
    assert "ids" not in source._encoded
    assert main(["train", "--resume", str(tmp_path / "run"), "--more-steps", "2"]) == 0


def test_ids_are_mapped_from_a_file_that_lives_as_long_as_they_do(tmp_path):
    text = "ab" * 1000 + "\n"
    encoded = encode([text[:700], text[700:]], "char", False, "words")
    vocab = Vocabulary.from_counts(encoded.count_of(), "char")
    ids = encoded.ids_for(vocab)[10:]  # a view: it keeps its file alive too
    assert isinstance(ids, np.memmap) and len(encoded) == len(text)
    del encoded
    gc.collect()
    cache = tmp_path / "data"
    write_cache(cache, "fingerprint", vocab, {"ids": ids.base})  # copied from its file
    assert np.load(cache / "ids.npy").tolist() == vocab.encode(text)
    assert ids.tolist() == vocab.encode(text)[10:]


def no_space(*args, **kwargs):
    raise OSError(28, "No space left on device")


def test_a_full_temporary_folder_is_one_error_naming_tmpdir(monkeypatch):
    encoded = encode(["some text\n"], "char", False, "words")
    vocab = Vocabulary.from_counts(encoded.count_of(), "char")
    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", no_space)
    with pytest.raises(RnnkitError, match=r"No space left on device\); .* set TMPDIR"):
        encoded.ids_for(vocab)
    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_space)
    with pytest.raises(RnnkitError, match=r"cannot write the text's token ids to .*TMPDIR"):
        encode(["some text\n"], "char", False, "words")
