"""A time budget picks the recipe tuned for the nearest budget, on a log scale."""

import pytest

from rnnkit.models.language import LanguageModelConfig
from rnnkit.tasks.text import TextDataConfig
from rnnkit.train.config import TrainConfig
from rnnkit.train.recipes import RECIPES, recipe_for


@pytest.mark.parametrize(
    ("seconds", "name"),
    [
        (1, "char-1m"),
        (120, "char-1m"),
        (250, "char-10m"),
        (600, "char-10m"),
        (1000, "char-10m"),
        (1100, "char-30m"),
        (1800, "char-30m"),
        (36000, "char-30m"),
    ],
)
def test_the_nearest_budget_on_a_log_scale(seconds, name):
    # 1m and 10m meet at sqrt(60 * 600) = 190 s; 10m and 30m at sqrt(600 * 1800) = 1039 s.
    assert recipe_for("char", seconds).name == name


def test_word_level_has_a_recipe_for_every_budget():
    assert recipe_for("word", 10).name == recipe_for("word", 36000).name == "word-4m"


def test_every_recipe_names_only_real_settings():
    owners = {"data": TextDataConfig, "model": LanguageModelConfig, "train": TrainConfig}
    for recipe in (r for recipes in RECIPES.values() for r in recipes):
        for part, config in owners.items():
            unknown = set(getattr(recipe, part)) - set(config.__dataclass_fields__)
            assert not unknown, (recipe.name, part, unknown)
