"""Talking to a monitor page from the tests: plain HTTP (urllib), and an engine started with one."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bridge.client import EngineClient
from bridge.protocol import JobSpec
from tests.engine.engine_harness import EngineProcess, free_port

# The engine_config fixture's [security] admin_token.
ADMIN = "admin-secret-1234-for-tests-only-0123456789abcdef"


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def http(url: str, method: str = "GET", token: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    """One request; an HTTP error status is returned, not raised."""
    req = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return Reply(r.status, r.read(), dict(r.headers))
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read(), dict(err.headers))


@dataclass
class MonitoredEngine:
    engine: EngineProcess
    url: str  # http://127.0.0.1:PORT (no trailing slash)

    def client(self, token: str | None = None, admin: bool = False) -> EngineClient:
        return EngineClient(self.engine.endpoint, token=token, admin_token=ADMIN if admin else None)

    def job(self, jid: str) -> dict[str, Any]:
        return http(f"{self.url}/api/jobs/{jid}").json()

    def jobs(self) -> dict[str, Any]:
        return http(f"{self.url}/api/jobs").json()


def monitor_keys(**settings: Any) -> dict[str, Any]:
    """``enabled=True`` -> the engine_config fixture's ``monitor__monitor_enabled=True``."""
    return {f"monitor__monitor_{name}": value for name, value in settings.items()}


def start_monitored(
    engine_config, start_engine, *, step_s: float = 0.0, monitor: dict[str, Any] | None = None, **over: Any
) -> MonitoredEngine:
    """An engine (echo backend) with its monitor on a free loopback port; ``monitor`` adds [monitor] settings."""
    port = free_port()
    keys = monitor_keys(enabled=True, port=port, refresh_s=0.25, **(monitor or {}))
    cfg = engine_config(**keys, **over)
    return MonitoredEngine(start_engine(cfg, step_s=step_s), f"http://127.0.0.1:{port}")


def shot_spec(shot, out, **kw: Any) -> JobSpec:
    """A by-path job on the sample shot (remove + affected mattes)."""
    return JobSpec(
        plate=shot.plate,
        frames=tuple(shot.frames),
        prompt="the wall",
        out=str(out) if out is not None else None,
        remove=shot.remove_matte,
        affected=shot.affected_matte,
        **kw,
    )
