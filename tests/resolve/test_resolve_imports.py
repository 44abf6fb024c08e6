"""The scripts import only the standard library, ``bridge``, their own core and Resolve's modules."""

from __future__ import annotations

import ast
import sys

from .conftest import COMP_SCRIPT, EDIT_SCRIPT, PLUGIN

HOST_MODULES = {"fusionscript", "DaVinciResolveScript", "BlackmagicFusion"}
OURS = {"bridge", "void_resolve"}


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.lineno, (node.module or "").split(".")[0]


def test_scripts_and_core_import_only_bridge_stdlib_and_host_modules():
    files = [COMP_SCRIPT, EDIT_SCRIPT, *sorted((PLUGIN / "void_resolve").glob("*.py"))]
    allowed = set(sys.stdlib_module_names) | HOST_MODULES | OURS
    bad = [f"{f.name}:{line} imports {mod}" for f in files for line, mod in _imports(f) if mod not in allowed]
    assert bad == [], bad


def test_the_check_catches_a_forbidden_import(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("import os\nif True:\n    from numpy import zeros\n")
    assert [m for _, m in _imports(sneaky)] == ["os", "numpy"]
