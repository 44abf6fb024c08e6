"""Fixtures for the engine tests: a small sample shot and real engine processes on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from .engine_harness import EngineProcess, write_config


@pytest.fixture(scope="session")
def sample_shot(tmp_path_factory):
    """A 3-frame 160x96 half RGBA sample shot (plate + remove/affected mattes), made once."""
    from void_engine.demo.samples import make_sample_shot

    return make_sample_shot(tmp_path_factory.mktemp("engine_shot") / "shot", seed=11, width=160, height=96, frames=3)


@pytest.fixture
def engine_config(tmp_path, sample_shot):
    """Write an engine config (echo backend, roots = the shot + tmp/out) and return (path, out dir)."""

    def make(**over) -> Path:
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        sections = {
            "server": {
                "bind": "tcp://127.0.0.1:*",
                "state_dir": str(tmp_path / "state"),
                "roots": [str(Path(sample_shot.root)), str(out)],
                "plugins": ["engine_test_backends"],
                "heartbeat_s": 1.0,
            },
            "worker": {"backend": "echo", "steps": 3, "max_attempts": 3},
            "limits": {},
            "security": {"admin_token": "admin-secret-1234-for-tests-only-0123456789abcdef"},
        }
        for key, value in over.items():
            section, name = key.split("__")
            sections.setdefault(section, {})[name] = value
        return write_config(tmp_path / "engine.toml", sections)

    return make


@pytest.fixture
def start_engine():
    """Start engines with ``start_engine(config, step_s=...)``; every one is killed at teardown."""
    started: list[EngineProcess] = []

    def start(config: Path, step_s: float = 0.0, **kw) -> EngineProcess:
        eng = EngineProcess(config, step_s=step_s, **kw).start()
        started.append(eng)
        return eng

    try:
        yield start
    finally:
        for eng in started:
            eng.kill()
