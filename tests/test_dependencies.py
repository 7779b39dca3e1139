"""pyproject.toml declares what the product imports directly (and nothing the product never imports)."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OURS = {"trainer", "console"}
# Import name -> distribution name, where they differ.
DISTRIBUTION = {"textual_plotext": "textual-plotext", "sklearn": "scikit-learn", "imageio_ffmpeg": "imageio-ffmpeg"}
# Optional extras the product imports only inside the function that needs them, never at module level.
OPTIONAL = {"imageio_ffmpeg": ("encode", "trainer/bench/encode_media.py")}


def _requirement_name(spec: str) -> str:
    for stop in "<>=!~[; ":
        spec = spec.split(stop)[0]
    return spec.strip().lower()


def _product_imports() -> set[str]:
    found: set[str] = set()
    for package in OURS:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return {name for name in found - OURS - {"__future__"} if name not in sys.stdlib_module_names}


def test_runtime_dependencies_are_exactly_the_products_direct_imports():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_requirement_name(spec) for spec in project["dependencies"]}
    imported = {DISTRIBUTION.get(name, name) for name in _product_imports() - set(OPTIONAL)}
    assert imported == declared
    dev = {_requirement_name(spec) for spec in project["optional-dependencies"]["dev"]}
    assert "scikit-learn" in dev  # the tests compare the hand-written ridge baseline with it


def test_optional_extras_are_declared_and_imported_lazily_in_one_module():
    """The core install and CI never need an extra: its import sits inside a function of the one module that uses it."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for name, (extra, owner) in OPTIONAL.items():
        assert DISTRIBUTION[name] in {_requirement_name(spec) for spec in extras[extra]}
        for package in OURS:
            for path in (REPO / package).rglob("*.py"):
                tree = ast.parse(path.read_text(encoding="utf-8"))
                top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
                       for alias in node.names}
                assert name not in top, f"{path} imports {name} at module level"
                nested = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                          for alias in node.names}
                assert (name in nested) == (path.relative_to(REPO).as_posix() == owner), path
