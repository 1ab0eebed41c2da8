"""The package root lists the public API; other packages import public names, not another package's
``_private`` modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import vrkit

PACKAGE = Path(vrkit.__file__).resolve().parent


@pytest.mark.parametrize("name", [n for n in vrkit.__all__ if n != "__version__"])
def test_every_listed_name_resolves_from_the_root(name):
    value = getattr(vrkit, name)
    assert value is not None and name in dir(vrkit)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vrkit.nope  # noqa: B018


def test_importing_the_root_loads_no_torch():
    code = "import sys, vrkit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _private_imports_across_packages() -> list[str]:
    """``from vrkit.<other>... ._x import`` in a module of package <p> != <other> (tests may import anything)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vrkit."):
                parts = node.module.split(".")
                if parts[1] != own and any(p.startswith("_") for p in parts[2:]):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.module}")
    return found


def test_no_package_imports_another_packages_private_module():
    assert _private_imports_across_packages() == []
