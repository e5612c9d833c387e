"""rnnkit's version (pyproject.toml says the same), where every module may read it."""

__version__ = "0.1.0"
