"""Fixtures for the monitor tests: the engine tests' sample shot and real engine processes."""

from __future__ import annotations

from tests.engine.conftest import engine_config, sample_shot, start_engine

__all__ = ["engine_config", "sample_shot", "start_engine"]
