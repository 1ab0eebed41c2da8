"""No vrkit module imports a module that imports it back, directly or around a longer loop.

The import graph is read from the source with ``ast``: every ``import`` / ``from … import`` statement (at module
level or inside a function: a deferred import still ties the two modules together) and every
``importlib.import_module("literal")``. Imports under ``if TYPE_CHECKING:`` are left out: they name types for
annotations and never run. Only the named module counts (importing ``a.b.c`` also runs the package
``__init__`` files of ``a`` and ``a.b``; that is how packages work, not a circle).

The world table ``vrkit.engine.recipe.WORLDS`` names each world's datamodule as a string and loads it with
``importlib.import_module(name)``; the last test adds those edges to the graph, so a datamodule that imports
the table's module back (or anything that imports it) is a circle too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vrkit"

# Circles that remain, each with the reason it cannot go yet (empty: none).
KNOWN_CYCLES: list[set[str]] = []


def _module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` (file ``path``) imports at run time."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)):
            found.add(node.args[0].value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return {m for m in found if m in known and m != name}


def import_graph(root: Path) -> dict[str, set[str]]:
    names = _module_names(root)
    return {name: _imported(name, path, set(names)) for name, path in names.items()}


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan), each a set of module names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / "pkg" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "pkg"


def test_the_checker_finds_direct_deferred_relative_and_longer_circles(tmp_path: Path) -> None:
    pkg = _write(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg.b import x\n",
        "b.py": "def f():\n    from pkg import a\n",  # deferred, `from package import module`
        "c.py": "from .d import y\n",
        "d.py": "import importlib\nimportlib.import_module('pkg.e')\n",
        "e.py": "import pkg.c\n",
        "f.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.g import T\n",
        "g.py": "from pkg.f import U\n",
        "sub/__init__.py": "from . import h\n",
        "sub/h.py": "from ..a import z\n",
    })
    graph = import_graph(pkg)
    assert graph["pkg.sub"] == {"pkg.sub.h"} and graph["pkg.sub.h"] == {"pkg.a"}
    assert graph["pkg.f"] == set() and graph["pkg.g"] == {"pkg.f"}
    assert sorted(map(sorted, cycles(graph))) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d", "pkg.e"]]


def test_no_vrkit_module_imports_a_module_that_imports_it_back() -> None:
    graph = import_graph(PACKAGE)
    assert len(graph) > 100 and "vrkit.engine.config" in graph["vrkit.engine.module"]
    found = cycles(graph)
    unexpected = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not unexpected, f"import circles: {unexpected}"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    if gone:
        pytest.fail(f"these circles are gone, take them off KNOWN_CYCLES: {gone}")


def world_table(recipe: Path) -> dict[str, str]:
    """The ``WORLDS`` literal of ``recipe`` (world name -> "module:DataModule class"), read with ``ast``."""
    for node in ast.parse(recipe.read_text(encoding="utf-8")).body:
        target = node.target if isinstance(node, ast.AnnAssign) else \
            node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id == "WORLDS" and node.value is not None:
            return ast.literal_eval(node.value)
    raise AssertionError(f"no WORLDS table in {recipe}")


def test_the_world_table_closes_no_circle() -> None:
    graph = import_graph(PACKAGE)
    worlds = world_table(PACKAGE / "engine" / "recipe.py")
    loaded = {spec.split(":")[0] for spec in worlds.values()}
    assert {"cog", "clevr"} <= set(worlds) and loaded <= set(graph)
    graph["vrkit.engine.recipe"] |= loaded
    assert "vrkit.engine.recipe" not in graph["vrkit.engine.config"], "config.py checks structure only"
    found = [sorted(c) for c in cycles(graph) if c not in KNOWN_CYCLES]
    assert not found, f"import circles through the world table: {found}"
