"""The language of a command line's errors (rnnkit.cli.language): Vietnamese where it asks."""

import pytest

from rnnkit import values
from rnnkit.cli.language import KINDS_VI, language_of
from rnnkit.cli.main import main


def test_every_kind_of_value_is_described_in_vietnamese():
    kinds = [v for v in vars(values).values() if isinstance(v, values.Kind)]
    assert len(kinds) >= 9 and {kind.description for kind in kinds} <= KINDS_VI.keys()


@pytest.mark.parametrize(
    "words, lang",
    [
        (["explain", "lstm", "--lang", "vi"], "vi"),
        (["explain", "lstm", "--lang=vn"], "vi"),
        (["explain", "lstm", "--lang", "VI"], "vi"),
        (["explain", "lstm", "--lang", "en"], "en"),
        (["explain", "lstm", "--lang"], "en"),
        (["explain", "lstm"], "en"),
    ],
)
def test_the_language_a_command_line_asks_for(words, lang):
    assert language_of(words) == lang


def test_a_value_out_of_range_is_said_in_vietnamese(tmp_path, capsys):
    words = ["visualize", str(tmp_path), str(tmp_path / "t.txt"), "--max-chars", "0"]
    assert main([*words, "--lang", "vi"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "lỗi: --max-chars phải là một số nguyên dương, nhận được 0 "
        "(xem `rnnkit visualize --help`)\n"
    )
    assert main(words) == 2
    assert "--max-chars must be a positive integer, got 0" in capsys.readouterr().err


def test_a_misspelt_choice_gets_a_guess_in_any_command(capsys):
    assert main(["train", "text", "--cell", "lstn"]) == 2
    assert "did you mean lstm?" in capsys.readouterr().err
