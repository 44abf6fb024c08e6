"""Fixtures for the Nuke plugin tests: the fake ``nuke`` on sys.path, a real engine, EXR plates."""

from __future__ import annotations

import sys

import pytest

from .nuke_helpers import FAKES, PLUGIN, start_engine


@pytest.fixture
def fake_nuke(monkeypatch, tmp_path):
    """A fresh fake Nuke GUI session with the plugin folder on sys.path (as pluginAddPath does)."""
    for p in (str(FAKES), str(PLUGIN)):
        if p not in sys.path:
            monkeypatch.syspath_prepend(p)
    monkeypatch.setenv("VOID_BRIDGE_TOKEN", "nuke-tests-token")
    import nuke
    import nukescripts

    nuke.fake_reset(gui=True)
    nukescripts.fake_reset()
    yield nuke
    nukescripts.fake_reset()


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """A real ``void-engine serve`` (preview backend) on 127.0.0.1; yields (address, root folder)."""
    root = tmp_path_factory.mktemp("engine_root")
    eng = start_engine(root, tmp_path_factory.mktemp("engine_state"))
    try:
        yield eng.endpoint, root
    finally:
        eng.stop()
