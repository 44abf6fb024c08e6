"""Fixtures for the Resolve plugin tests: a sample shot, real engines (the plugin and its fakes
are on sys.path through pyproject's pytest ``pythonpath``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.engine_harness import EngineProcess, free_port, write_config

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "host_plugins" / "resolve"
FAKES = REPO / "tests" / "fakes" / "resolve"
COMP_SCRIPT = PLUGIN / "Comp" / "VOID Remove Object.py"
EDIT_SCRIPT = PLUGIN / "Edit" / "VOID Remove Object.py"


@pytest.fixture(autouse=True)
def _client_env(monkeypatch, tmp_path):
    # A fixed token: the client must not write ~/.void-bridge during tests.
    monkeypatch.setenv("VOID_BRIDGE_TOKEN", "resolve-tests-token")
    monkeypatch.setenv("VOID_FAKE_MAX_LOOP_S", "40")
    monkeypatch.delenv("VOID_HEADLESS", raising=False)
    monkeypatch.delenv("VOID_ENGINE", raising=False)


@pytest.fixture(scope="session")
def shot(tmp_path_factory):
    """An 8-frame 96x64 sample shot (plate + remove/affected mattes, frames 1001-1008)."""
    from void_engine.demo.samples import make_sample_shot

    return make_sample_shot(tmp_path_factory.mktemp("resolve_shot") / "shot", seed=5, width=96, height=64, frames=8)


@pytest.fixture
def work(tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
def engine(tmp_path, shot, work):
    """Start a real ``void-engine serve`` on 127.0.0.1 whose roots hold the shot and the work dir.

    ``engine(backend="preview")`` or ``engine(backend="echo", step_s=0.3)`` (the engine tests'
    slow test backend, for cancel).
    """
    started: list[EngineProcess] = []

    def start(backend: str = "preview", step_s: float = 0.0, steps: int = 2) -> EngineProcess:
        config = write_config(
            tmp_path / f"engine_{len(started)}.toml",
            {
                "server": {
                    "bind": f"tcp://127.0.0.1:{free_port()}",
                    "state_dir": str(tmp_path / f"state{len(started)}"),
                    "roots": [str(Path(shot.root)), str(work)],
                    "plugins": ["engine_test_backends"],
                    "heartbeat_s": 1.0,
                },
                "worker": {"backend": backend, "steps": steps, "max_attempts": 1},
                "security": {"admin_token": "resolve-admin-for-tests-only-0123456789abcdef0123"},
            },
        )
        eng = EngineProcess(config, step_s=step_s).start()
        started.append(eng)
        return eng

    try:
        yield start
    finally:
        for eng in started:
            eng.kill()


@pytest.fixture
def plugin_env(monkeypatch, work):
    """Point the scripts at an engine and the work dir: ``plugin_env(endpoint, **extra)``."""

    def set_env(endpoint: str, **extra: str) -> None:
        monkeypatch.setenv("VOID_ENGINE", endpoint)
        monkeypatch.setenv("VOID_WORK_DIR", str(work))
        monkeypatch.setenv("VOID_TIMEOUT", "3")
        monkeypatch.setenv("VOID_PROMPT", "a wall and a floor")
        for k, v in extra.items():
            monkeypatch.setenv(k, v)

    return set_env
