"""Every flag of every command, walked from the parser itself (a flag added tomorrow is covered
the day it is added): each numeric flag declares a kind of value (rnnkit.values), and every value
of BAD_VALUES that its kind does not accept is refused with exit status 2 and exactly one
`error:` line that names the flag, with no traceback and nothing written. Every flag with choices
refuses a value outside them the same way.

The values each kind must refuse are written here by hand, not read from rnnkit.values.
"""

import argparse

import pytest

from conftest import snapshot
from rnnkit import values
from rnnkit.cli.main import build_parser, main
from rnnkit.errors import RnnkitError

BAD_VALUES = ["0", "-1", "nan", "inf", "-inf", "1e308", "", "abc", str(10**30), "1.5"]
# What each kind must accept of BAD_VALUES (everything else must be refused).
ACCEPTED = {
    values.POSITIVE_INT: set(),
    values.COUNT: {"0"},
    values.LAYERS: set(),
    values.PROBABILITY: {"0"},
    values.FRACTION: {"0"},
    values.SHARE: set(),
    values.MASS: set(),
    values.POSITIVE: {"1e308", str(10**30), "1.5"},
    values.NON_NEGATIVE: {"0", "1e308", str(10**30), "1.5"},
    values.DURATION: {str(10**30), "1.5"},  # seconds; a budget longer than a life is a budget
}
KINDS = {kind.parse: kind for kind in ACCEPTED}


def flags() -> list[tuple[list[str], argparse.Action]]:
    """(the words that reach a parser, its action) for every optional flag of every command."""
    found = []

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*words, name])
            elif action.option_strings and action.nargs != 0:
                found.append((words, action))

    walk(build_parser(), [])
    return found


FLAGS = flags()
ID = [f"{' '.join(words)} {action.option_strings[0]}" for words, action in FLAGS]


def test_every_numeric_flag_declares_its_kind():
    untyped = [
        f"{' '.join(words)} {action.option_strings[0]}"
        for words, action in FLAGS
        if action.type in (int, float)
    ]
    assert untyped == []  # an int/float flag would take nan, inf and negatives


@pytest.mark.parametrize(("words", "action"), FLAGS, ids=ID)
def test_bad_values_are_refused_with_one_line_naming_the_flag(
    words, action, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # a value wrongly accepted would write runs/ here
    kind = KINDS.get(action.type)
    if kind is not None:
        bad = [value for value in BAD_VALUES if value not in ACCEPTED[kind]]
    elif action.choices:
        bad = ["no-such-choice"]
    else:
        pytest.skip("a path or free text: see test_bad_inputs.py and test_paths.py")
    flag = action.option_strings[0]
    before = snapshot(tmp_path)
    for value in bad:
        assert main([*words, *positionals(words, tmp_path), f"{flag}={value}"]) == 2, value
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), (value, err)
        assert flag in err[0] and "Traceback" not in err[0], (value, err)
    assert snapshot(tmp_path) == before


def positionals(words: list[str], folder) -> list[str]:
    """What the command needs before its flags are read: a RUN (never reached)."""
    needs_run = {"sample", "evaluate", "predict", "generate", "visualize"}
    if words and words[0] in needs_run:
        extra = ["data.csv"] if words[0] == "predict" else []
        extra += ["text.txt"] if words[0] == "visualize" else []
        return [str(folder / "RUN"), *extra]
    if words == ["explain"]:
        return ["lstm"]
    return []


def test_a_stack_of_layers_ends_at_100():
    """--layers 100000 passed the memory check and then took hours to build."""
    assert values.LAYERS.parse("100") == 100
    with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 100, got 101"):
        values.LAYERS.parse("101")


def test_a_count_above_the_largest_says_the_largest():
    """It is a positive integer: "must be a positive integer, got 10^12" said nothing."""
    with pytest.raises(
        argparse.ArgumentTypeError, match="at most 2,147,483,647, got 1000000000000"
    ):
        values.POSITIVE_INT.parse(str(10**12))
    with pytest.raises(RnnkitError, match="steps must be at most 2,147,483,647"):
        values.POSITIVE_INT.check("steps", 10**12)


def test_the_walk_reaches_every_command():
    commands = {words[0] for words, _ in FLAGS if words}
    assert {"train", "sample", "evaluate", "predict", "generate", "compare", "explain"} <= commands
    assert {words[1] for words, _ in FLAGS if words[:1] == ["train"] and len(words) > 1} == {
        "text",
        "music",
        "melody",
        "classify",
    }


def test_a_model_that_cannot_fit_is_refused_before_it_is_built(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["train", "text", "--hidden", "300000", "--steps", "1", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "parameters: to train it takes" in err[0].replace(
        " (weights, gradients, AdamW's moments)", ""
    )
    assert "GiB" in err[0] and not (tmp_path / "runs").exists()


def test_a_classifier_that_cannot_fit_names_the_ensemble(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["train", "classify", "--hidden", "200000", "--steps", "1", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GiB" in err[0] and "--ensemble" in err[0]
    assert not (tmp_path / "runs").exists()


def test_every_command_that_loads_a_run_takes_device():
    """A command with a RUN argument loads a run folder's model: each says where (--device)."""
    loading = []

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*words, name])
            elif not action.option_strings and action.metavar == "RUN":
                loading.append((words, parser))

    walk(build_parser(), [])
    names = {" ".join(words) for words, _ in loading}
    assert {"sample", "evaluate", "predict", "generate", "visualize", "export"} <= names
    for words, parser in loading:
        assert "--device" in parser._option_string_actions, words


def help_of(*command: str) -> dict[str, str]:
    """flag -> its help text, as `rnnkit ... --help` shows it."""
    parser = build_parser()
    for word in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return {a.option_strings[0]: a.help for a in parser._actions if a.option_strings}


def test_the_help_shows_the_default_recipes_values():
    # char-1m, the recipe of the default budget: layer norm on, E = 64.
    text = help_of("train", "text")
    assert text["--layer-norm"].endswith("(default: on)")
    assert text["--embedding"].endswith("(default: 64)")
    # The piano-roll task has no recipe for them: the settings' own defaults.
    music = help_of("train", "music")
    assert music["--layer-norm"].endswith("(default: off)")
    melody = help_of("train", "melody")
    assert melody["--embedding"].endswith("(default: E = H, the --proj size with --proj)")


def test_an_unknown_flag_points_to_its_commands_help(capsys):
    for words, command in (
        (["sample", "RUN", "--lenght", "5"], "rnnkit sample"),
        (["train", "text", "--hiden", "3"], "rnnkit train text"),
        (["--bogus"], "rnnkit"),
    ):
        assert main(words) == 2
        assert capsys.readouterr().err.endswith(f"(see `{command} --help`)\n")
