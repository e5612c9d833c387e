"""The package layering: no module imports a package above its own (read with ast, not run).

Every package under src/rnnkit has a tier in TIERS, lowest first. A module may import its own
package and the packages of lower tiers; packages that share a tier know nothing of each other.
Every import counts, at module level, inside a function or under TYPE_CHECKING alike.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "rnnkit"

TIERS = (
    ("errors", "version"),  # RnnkitError, which everything may raise; __version__
    ("files", "values", "progress", "devices"),  # the one writer; kinds of value; bars; devices
    # The core: what a recurrent layer is, from the math up.
    ("cells",),  # the lecture's equations, one time step
    ("layout",),  # padded batches (lengths) and torch.nn's parameter layout
    ("backends",),  # how a stack of cells runs: native, fused, loop
    ("layers",),  # cells scanned over time, stacked, bidirectional; the backend choice
    # Above the core.
    ("data", "metrics"),
    ("models",),
    ("generate",),
    ("train", "studies", "export"),  # the task kit and the loop; the compare study; ONNX
    ("tasks",),  # text, music, melody, classify, and the Python classes
    ("explain", "visualize"),
    ("rnnkit",),  # the package itself (__init__.py): re-exports layers, and tasks' classes
    ("cli",),
    ("__main__",),
)


def package_of(module: str) -> str:
    """rnnkit.layers.network -> layers; rnnkit (the package's __init__) -> rnnkit."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def modules_under(source: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under `source` (a package named source.name)."""
    found = {}
    for path in sorted(source.rglob("*.py")):
        parts = [source.name, *path.relative_to(source).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """The modules of `known` that `module` imports, with the line of each import."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package, `level` steps up
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((submodule if submodule in known else base, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == module.split(".")[0]]


def upward_imports(source: Path, tiers: tuple[tuple[str, ...], ...]) -> list[str]:
    """Every import of a package of the same or a higher tier than the importer's own."""
    tier = {package: rank for rank, packages in enumerate(tiers) for package in packages}
    known = modules_under(source)
    problems = []
    for module, path in known.items():
        here = package_of(module)
        for target, line in imported(module, path, known):
            there = package_of(target)
            if there != here and tier[there] >= tier[here]:
                problems.append(f"{path}:{line}: {here} imports {target} ({there} is not lower)")
    return problems


def test_every_package_has_a_tier():
    packages = {package_of(module) for module in modules_under(SOURCE)}
    tiered = [package for packages in TIERS for package in packages]
    assert len(tiered) == len(set(tiered)), "a package is in two tiers"
    assert sorted(packages - set(tiered)) == [], "give each new package a tier in TIERS"


def test_no_package_imports_one_above_it():
    assert upward_imports(SOURCE, TIERS) == []


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("cells/lstm.py", "from rnnkit.layers import LSTM\n"),
        ("cells/lstm.py", "def f():\n    from rnnkit.layers import network\n"),
        ("cells/lstm.py", "import rnnkit.layers.network\n"),
        ("cells/lstm.py", "from rnnkit import layers\n"),
        ("cells/lstm.py", "from ..layers import network\n"),
        ("layers/net.py", "from rnnkit.cells import x\nfrom rnnkit.models import y\n"),
    ],
)
def test_an_upward_import_is_found(tmp_path, path, text):
    source = tmp_path / "rnnkit"
    for name in ("__init__.py", "cells/__init__.py", "layers/__init__.py", "layers/network.py"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("")
    (source / "models").mkdir()
    (source / "models/__init__.py").write_text("from rnnkit.layers import network\n")  # allowed
    (source / path).write_text(text)
    tiers = (("cells",), ("layers",), ("models",), ("rnnkit",))
    [problem] = upward_imports(source, tiers)
    assert f"{path}:" in problem
    assert "(layers is not lower)" in problem or "(models is not lower)" in problem


def test_siblings_may_not_import_each_other(tmp_path):
    source = tmp_path / "rnnkit"
    for package in ("data", "metrics"):
        (source / package).mkdir(parents=True)
    (source / "data/__init__.py").write_text("from rnnkit.metrics import scores\n")
    (source / "metrics/__init__.py").write_text("")
    [problem] = upward_imports(source, (("data", "metrics"),))
    assert "data imports rnnkit.metrics" in problem
