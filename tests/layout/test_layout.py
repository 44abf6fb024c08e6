"""The engine's layout rules (docs/architecture.md), held by reading the source tree.

Each rule is checked with the same AST walk, and each check is shown to catch a violation, so a
rule cannot quietly stop holding as the code grows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "void_engine"

# The top of void_engine/ holds only what every package shares.
TOP_LEVEL_LIMIT = 5


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved from ``package``)."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def forbidden_imports(root: Path, folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    """``"<file> imports <module>"`` for every import under ``folder`` of a module in ``forbidden``."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        # The package relative imports start from: the file's folder (for __init__.py as well).
        package = ".".join(path.relative_to(root).parent.parts)
        for name in sorted(imported_modules(path, package)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(root)} imports {name}")
    return found


def test_top_of_void_engine_holds_at_most_five_modules():
    modules = sorted(p.name for p in ENGINE.glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= TOP_LEVEL_LIMIT, modules


def test_every_engine_folder_is_a_regular_package():
    # A folder without __init__.py is a namespace package that a built wheel leaves out.
    missing = [
        str(d.relative_to(ROOT))
        for d in ENGINE.rglob("*")
        if d.is_dir() and "__pycache__" not in d.parts and any(d.glob("*.py")) and not (d / "__init__.py").is_file()
    ]
    assert missing == []


def test_masks_never_import_the_wire_protocol():
    assert forbidden_imports(ROOT, ENGINE / "masks", ("bridge", "void_engine.service", "zmq")) == []


def test_the_import_check_catches_a_forbidden_import(tmp_path):
    pkg = tmp_path / "void_engine" / "masks"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "bad.py").write_text("from ..service import server\nfrom bridge.protocol import JobSpec\n")
    assert forbidden_imports(tmp_path, pkg, ("bridge", "void_engine.service")) == [
        "void_engine/masks/bad.py imports bridge.protocol",
        "void_engine/masks/bad.py imports bridge.protocol.JobSpec",
        "void_engine/masks/bad.py imports void_engine.service",
        "void_engine/masks/bad.py imports void_engine.service.server",
    ]


@pytest.mark.parametrize("folder", ["bridge", "host_plugins"])
def test_hosts_side_never_imports_the_engine(folder):
    assert forbidden_imports(ROOT, ROOT / folder, ("void_engine",)) == []
