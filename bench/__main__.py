"""`python -m bench [suite] [options]`: run one benchmark suite (default: layers).

Every module in bench/ with a `main(argv)` is a suite; `python -m bench layers --help` shows
its options.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

DEFAULT = "layers"
SHARED = {"eager", "machine", "report", "settings"}  # helpers, not suites


def suites() -> list[str]:
    """The suite modules in this folder."""
    here = [str(Path(__file__).parent)]
    return sorted(
        module.name
        for module in pkgutil.iter_modules(here)
        if not module.name.startswith("_") and module.name not in SHARED
    )


def main(argv: list[str]) -> int:
    name = argv[0] if argv and not argv[0].startswith("-") else DEFAULT
    rest = argv[1:] if argv and name == argv[0] else argv
    if name not in suites():
        print(f"error: no benchmark suite {name!r}; choose one of {suites()}", file=sys.stderr)
        return 2
    return importlib.import_module(f"bench.{name}").main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
