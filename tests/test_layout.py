"""The layout docs/architecture.md promises, checked on the code itself: packages in layers, small modules.

Read with ``ast`` only (nothing is imported), so a violation fails here whatever the import
order of the test session.
"""

from __future__ import annotations

import ast
from pathlib import Path

TRAINER = Path(__file__).resolve().parent.parent / "trainer"
LAYERS = ("core", "ingest", "learning", "executors", "shipping", "outputs", "run")
ENTRY_POINTS = {"__init__.py", "__main__.py", "stubs.py", "bench.py"}
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 150


def _modules() -> list[Path]:
    return sorted(TRAINER.rglob("*.py"))


def _package_of(path: Path) -> str | None:
    parts = path.relative_to(TRAINER).parts
    return parts[0] if len(parts) > 1 else None


def _trainer_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported trainer module) for every import, including those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("trainer"):
            if node.module == "trainer":
                found += [(node.lineno, f"trainer.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("trainer")]
    return found


def test_trainer_top_level_holds_only_entry_points_and_the_layer_packages():
    top_modules = {p.name for p in TRAINER.glob("*.py")}
    assert top_modules <= ENTRY_POINTS, sorted(top_modules - ENTRY_POINTS)
    packages = {p.name for p in TRAINER.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS)
    for layer in LAYERS:
        assert ast.get_docstring(ast.parse((TRAINER / layer / "__init__.py").read_text())), f"{layer} has no docstring"


def test_no_import_points_to_a_higher_layer_and_entry_points_are_above_everything():
    upward = []
    for path in _modules():
        package = _package_of(path)
        if package is None:
            continue  # entry points may import anything
        rank = LAYERS.index(package)
        for line, module in _trainer_imports(path):
            parts = module.split(".")
            if len(parts) < 2 or parts[1] not in LAYERS:
                upward.append(f"{path.relative_to(TRAINER)}:{line} imports the entry point {module}")
            elif LAYERS.index(parts[1]) > rank:
                upward.append(f"{path.relative_to(TRAINER)}:{line} imports {module}")
    assert upward == []


def test_the_import_graph_has_no_cycle():
    graph: dict[str, set[str]] = {}
    for path in _modules():
        name = ".".join(("trainer", *path.relative_to(TRAINER).with_suffix("").parts)).removesuffix(".__init__")
        graph[name] = {module for _line, module in _trainer_imports(path)}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt in graph and state.get(nxt) is None:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_modules_and_classes_stay_small():
    too_big = []
    for path in _modules():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > MAX_MODULE_LINES:
            too_big.append(f"{path.relative_to(TRAINER)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            length = node.end_lineno - node.lineno + 1 if isinstance(node, ast.ClassDef) else 0
            if length > MAX_CLASS_LINES:
                too_big.append(f"{path.relative_to(TRAINER)}: class {node.name} {length} lines")
    assert too_big == []
