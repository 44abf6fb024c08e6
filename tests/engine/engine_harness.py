"""Real engine processes for the engine tests: start on an ephemeral 127.0.0.1 port, always killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for name, body in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in body.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def env_for_engine(step_s: float = 0.0, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), env.get("PYTHONPATH", "")])
    env["VOID_TEST_STEP_S"] = str(step_s)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class EngineProcess:
    """`void-engine serve` in a child process; ``endpoint`` once it listens."""

    config: Path
    step_s: float = 0.0
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    endpoint: str = ""
    log_path: Path | None = None

    def start(self, timeout: float = 30.0) -> "EngineProcess":
        self.log_path = self.config.with_suffix(f".{int(time.time() * 1000)}.log")
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "void_engine.cli", "serve", "--config", str(self.config), *self.extra_args],
            cwd=str(REPO),
            env=env_for_engine(self.step_s),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                self.endpoint = line.strip().split()[-1]
                return self
        self.kill()
        raise RuntimeError(f"engine did not start; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
