"""The tests' engines: the product's LocalEngine with the test backends, on ephemeral 127.0.0.1 ports."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import zmq

from tests.parallel import free_port  # one of this xdist worker's own ports
from void_engine.config import write_config
from void_engine.service.local import LocalEngine, engine_env

__all__ = ["REPO", "EngineProcess", "env_for_engine", "free_port", "raw_dealer", "wait_until", "write_config"]

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def env_for_engine(step_s: float = 0.0, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment plus the test backends' folder on PYTHONPATH and their step time."""
    return engine_env({"VOID_TEST_STEP_S": str(step_s), **(extra or {})}, [HERE, REPO])


class EngineProcess(LocalEngine):
    """A LocalEngine that can load the test backends (``plugins = ["engine_test_backends"]``):
    the "echo" backend sleeps ``step_s`` seconds per step. Each start logs to a file of its own."""

    def __init__(self, config: Path, step_s: float = 0.0, extra_args: Sequence[str] = ()) -> None:
        super().__init__(
            config,
            args=extra_args,
            env={"VOID_TEST_STEP_S": str(step_s)},
            pythonpath=[HERE, REPO],  # the test backends, and this checkout before any installed copy
            cwd=REPO,
            start_timeout=30.0,
        )

    def start(self, timeout: float | None = None) -> EngineProcess:
        self.log_path = self.config.with_suffix(f".{int(time.time() * 1000)}.log")
        super().start(timeout)
        return self


def raw_dealer(endpoint: str, ctx: zmq.Context | None = None) -> zmq.Socket:
    s = (ctx or zmq.Context.instance()).socket(zmq.DEALER)
    s.linger = 0
    s.connect(endpoint)
    return s


def wait_until(pred, timeout: float = 20.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()
