"""One Cancelled for every stage, in a leaf module any layer may import."""

from __future__ import annotations

import ast
from pathlib import Path

from void_engine import progress


def test_every_stage_package_raises_the_one_cancelled_class():
    import void_engine.backends
    import void_engine.masks
    import void_engine.masks.propagate
    import void_engine.pipeline

    homes = [void_engine.backends, void_engine.masks, void_engine.masks.propagate, void_engine.pipeline]
    assert all(home.Cancelled is progress.Cancelled for home in homes)


def test_the_progress_module_imports_nothing_from_the_engine():
    tree = ast.parse(Path(progress.__file__).read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += ["." * node.level + (node.module or "") for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert imported and not [name for name in imported if name.startswith((".", "void_engine"))]
