"""The layout docs/architecture.md promises, checked on the code itself: packages in layers, small modules.

Read with ``ast`` only (nothing is imported), so a violation fails here whatever the import
order of the test session.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRAINER = REPO / "trainer"
LAYERS = ("core", "ingest", "learning", "executors", "engine", "shipping", "outputs", "run", "bench")
ENTRY_POINTS = {"__init__.py", "__main__.py"}
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 150


def _modules() -> list[Path]:
    return sorted(TRAINER.rglob("*.py"))


def _package_of(path: Path) -> str | None:
    parts = path.relative_to(TRAINER).parts
    return parts[0] if len(parts) > 1 else None


def _is_module(root: Path, dotted: str) -> bool:
    """Whether ``dotted`` names a module or package file under ``root`` (the directory holding the packages)."""
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path, root: Path = REPO, prefixes: tuple[str, ...] = ("trainer",)) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a module under ``prefixes``, inside functions too.

    ``from pkg import name`` records ``pkg.name`` when that is a module (``from trainer.run import
    options`` is an import of ``trainer.run.options``), else ``pkg``: a cycle written either way is seen.
    """
    def ours(module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in prefixes)

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and ours(node.module):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.append((node.lineno, candidate if _is_module(root, candidate) else node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if ours(a.name)]
    return found


def _trainer_imports(path: Path) -> list[tuple[int, str]]:
    return imports_of(path)


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module name -> the modules of ``packages`` it imports, for every module of those packages."""
    graph: dict[str, set[str]] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
            graph[name] = {module for _line, module in imports_of(path, root, packages)}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a trail of module names, or None."""
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                start = trail.index(nxt) if nxt in trail else len(trail)
                return [*trail[start:], node, nxt]
            if nxt in graph and state.get(nxt) is None:
                found = visit(nxt, [*trail, node])
                if found:
                    return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


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
    cycle = find_cycle(import_graph(REPO, ("trainer",)))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_import_graph_of_trainer_and_console_together_has_no_cycle():
    graph = import_graph(REPO, ("trainer", "console"))
    assert "trainer.run.options" in graph["trainer.run.cli"]  # ``from trainer.run import options``, resolved
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_a_planted_from_package_import_module_cycle_is_caught(tmp_path):
    """``from pkg.run import b`` in a and ``from pkg.run import a`` in b: a cycle, whichever form it takes."""
    run = tmp_path / "pkg" / "run"
    run.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (run / "__init__.py").write_text("")
    (run / "a.py").write_text("from pkg.run import b\n")
    (run / "b.py").write_text("def f():\n    from pkg.run import a  # inside a function: still an import\n")
    (run / "c.py").write_text("from pkg.run import a\nfrom pkg import run\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.run.c"] == {"pkg.run.a", "pkg.run"}
    assert find_cycle(graph) == ["pkg.run.a", "pkg.run.b", "pkg.run.a"]
    (run / "b.py").write_text("from pkg.run import c as _not_a\n")  # c imports a: still a cycle, one step longer
    assert find_cycle(import_graph(tmp_path, ("pkg",))) == ["pkg.run.a", "pkg.run.b", "pkg.run.c", "pkg.run.a"]
    (run / "c.py").write_text("")
    assert find_cycle(import_graph(tmp_path, ("pkg",))) is None


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


def test_the_console_imports_nothing_from_shipping_or_executors():
    """The console is a face over the run service: promotion and executors are the service's business."""
    graph = import_graph(REPO, ("trainer", "console"))
    reaching = {module: sorted(i for i in imported if i.startswith(("trainer.shipping", "trainer.executors")))
                for module, imported in graph.items() if module.startswith("console")}
    assert {module: found for module, found in reaching.items() if found} == {}


ENGINE_ROOM = {"engine.py", "job_book.py", "dispatcher.py", "final_trainer.py"}


def test_the_engine_has_its_own_room_and_run_holds_orchestration_only():
    """The engine's parts live in trainer/engine/; run/ keeps none of them (nor the drivers the engine folded in)."""
    engine_room = {p.name for p in (TRAINER / "engine").glob("*.py")}
    assert engine_room >= ENGINE_ROOM
    run_room = {p.name for p in (TRAINER / "run").glob("*.py")}
    assert run_room & (ENGINE_ROOM | {"drivers.py"}) == set()
    classes = {node.name for path in (TRAINER / "run").glob("*.py")
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.ClassDef)}
    assert classes & {"TrainingEngine", "JobBook", "Dispatcher", "FinalTrainer"} == set()


def test_the_console_imports_the_trainer_through_trainer_run_alone():
    """One face: every trainer name the console uses comes from ``trainer.run`` itself, none from a submodule."""
    elsewhere = [f"{path.relative_to(REPO)}:{line} imports {module}"
                 for path in sorted((REPO / "console").rglob("*.py"))
                 for line, module in imports_of(path) if module != "trainer.run"]
    assert elsewhere == []
    run_init = ast.parse((TRAINER / "run" / "__init__.py").read_text(encoding="utf-8"))
    [names] = [set(ast.literal_eval(node.value)) for node in run_init.body if isinstance(node, ast.Assign)
               and [getattr(t, "id", None) for t in node.targets] == ["__all__"]]
    used = {alias.name for path in (REPO / "console").rglob("*.py")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.module == "trainer.run" for alias in node.names}
    assert used <= names, sorted(used - names)
