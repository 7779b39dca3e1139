"""Docstrings where they pay (issue 41): wide signatures state their parameters, the console says what it does.

Read with ``ast`` only (nothing is imported). A public function or method (name not starting with
``_``, at module level or in a class; closures are not counted) with ``MIN_PARAMETERS`` or more
parameters (``self``/``cls`` aside, ``*args`` and ``**kwargs`` one each) needs a numpydoc
``Parameters`` section naming every one of them; and at least ``CONSOLE_DOCUMENTED_SHARE`` of the
console's public functions, Textual handlers included, carry a docstring.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("trainer", "console")
MIN_PARAMETERS = 6
CONSOLE_DOCUMENTED_SHARE = 0.60
SECTION = re.compile(r"^Parameters\n-{3,}\n(?P<body>.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", re.M | re.S)

Function = ast.FunctionDef | ast.AsyncFunctionDef


def public_functions(package: str) -> Iterator[tuple[Path, Function]]:
    """Every public function of the package's modules and every public method of their classes (nested too)."""
    for path in sorted((REPO / package).rglob("*.py")):
        scopes: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"), filename=str(path))]
        while scopes:
            for node in ast.iter_child_nodes(scopes.pop()):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    if not node.name.startswith("_"):
                        yield path, node
                elif isinstance(node, ast.ClassDef):
                    scopes.append(node)
                elif not isinstance(node, ast.Lambda | ast.expr):
                    scopes.append(node)  # an if/try at module or class level: its defs count too


def parameter_names(function: Function) -> list[str]:
    """The parameters a caller passes: positional, keyword-only, then ``*args`` and ``**kwargs``; no self/cls."""
    arguments = function.args
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    names = [name for name in names if name not in ("self", "cls")]
    return names + [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]


def documented_parameters(docstring: str) -> set[str] | None:
    """The names the docstring's ``Parameters`` section describes (``name : type`` or numpydoc's
    ``name, other : type`` lines); None without one."""
    match = SECTION.search(docstring)
    if match is None:
        return None
    heads = [line.split(":")[0] for line in match["body"].splitlines()
             if line and not line[0].isspace() and ":" in line]
    return {name.strip().lstrip("*") for head in heads for name in head.split(",")}


def _where(path: Path, function: Function) -> str:
    return f"{path.relative_to(REPO)}:{function.lineno} {function.name}"


def test_wide_signatures_have_a_parameters_section() -> None:
    wide = [(path, f) for package in PACKAGES for path, f in public_functions(package)
            if len(parameter_names(f)) >= MIN_PARAMETERS]
    assert len(wide) > 20, "the scan found too few wide functions: is it still reading the packages?"
    problems = []
    for path, function in wide:
        described = documented_parameters(ast.get_docstring(function) or "")
        if described is None:
            problems.append(f"{_where(path, function)}: no 'Parameters' section (numpydoc)")
        elif missing := [name for name in parameter_names(function) if name not in described]:
            problems.append(f"{_where(path, function)}: 'Parameters' does not describe {', '.join(missing)}")
    assert not problems, "\n".join(problems)


def test_console_is_mostly_documented() -> None:
    functions = list(public_functions("console"))
    documented = [f for _path, f in functions if (ast.get_docstring(f) or "").strip()]
    share = len(documented) / len(functions)
    undocumented = [_where(p, f) for p, f in functions if f not in documented]
    assert share >= CONSOLE_DOCUMENTED_SHARE, (
        f"{len(documented)}/{len(functions)} = {share:.1%} of the console's public functions have a docstring "
        f"(at least {CONSOLE_DOCUMENTED_SHARE:.0%} wanted); undocumented:\n" + "\n".join(undocumented))


def test_the_section_reader_sees_a_missing_section_and_a_missing_name() -> None:
    section = ('"""Summary.\n\n    Parameters\n    ----------\n    a : int\n        One.\n'
               '    b : str\n        Two.\n    """')
    tree = ast.parse(f"def f(a, b, *rest):\n    {section}\n")
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    assert parameter_names(function) == ["a", "b", "rest"]
    assert documented_parameters(ast.get_docstring(function) or "") == {"a", "b"}
    assert documented_parameters("Parameters\n----------\nx, y : float\n    A point.\n") == {"x", "y"}
    assert documented_parameters("Summary.\n\nReturns\n-------\nint\n    The answer.") is None
