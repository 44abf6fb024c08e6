"""The fakes stay faithful: every Resolve API method they offer exists under that name in
fusionscript-stubs (the public typing of Resolve's scripting README)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import fake_resolve.resolve as fake
import pytest


def _stub_methods() -> dict[str, set[str]]:
    import importlib.util

    spec = importlib.util.find_spec("fusionscript-stubs")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    if not roots:
        pytest.skip("fusionscript-stubs is not installed (pip install -c constraints.txt fusionscript-stubs)")
    tree = ast.parse((roots[0] / "fusionscript.pyi").read_text())
    return {
        node.name: {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


@pytest.mark.parametrize(
    "cls",
    [
        fake.Resolve,
        fake.ProjectManager,
        fake.Project,
        fake.MediaStorage,
        fake.MediaPool,
        fake.Folder,
        fake.MediaPoolItem,
        fake.Timeline,
        fake.TimelineItem,
    ],
    ids=lambda c: c.__name__,
)
def test_fake_resolve_methods_exist_in_the_stubs(cls):
    stubs = _stub_methods()[cls.__name__]
    api = {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if name[:1].isupper()}
    assert api, f"{cls.__name__} offers no API methods"
    assert sorted(api - stubs) == []
