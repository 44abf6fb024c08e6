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


_PY38_TYPING = {"Protocol", "Literal", "Final", "TypedDict", "runtime_checkable"}


def test_scripts_and_core_parse_and_import_on_python_3_7():
    # Resolve runs the machine's own Python 3, which can be 3.7: no walrus (a syntax check) and
    # no 3.8-only typing names imported unconditionally at module level.
    files = [COMP_SCRIPT, EDIT_SCRIPT, *sorted((PLUGIN / "void_resolve").glob("*.py"))]
    bad = []
    for f in files:
        try:
            tree = ast.parse(f.read_text(encoding="utf-8"), str(f), feature_version=(3, 7))
        except SyntaxError as exc:
            bad.append(f"{f.name}:{exc.lineno} {exc.msg}")
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "typing":
                names = {a.name for a in node.names} & _PY38_TYPING
                if names:
                    bad.append(f"{f.name}:{node.lineno} imports typing.{sorted(names)[0]}")
    assert bad == [], bad
