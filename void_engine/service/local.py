"""A local engine: ``void-engine serve --config ...`` as a child process on this machine.

The one way the product, its tests and its benchmarks start an engine of their own: ``void-engine
demo`` runs its shot through one, the tests start them on ephemeral 127.0.0.1 ports, the protocol
benchmark measures one. The child is always stopped on the way out, and it dies with its parent
when the parent dies without cleaning up (SIGKILL, out of memory), so no engine outlives the
process that started it.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

#: ``[server] bind`` for an engine of one's own: 127.0.0.1, on any free port the system picks.
LOOPBACK_ANY_PORT = "tcp://127.0.0.1:*"

_READY = "listening on"  # `void-engine serve` prints "void-engine listening on <endpoint>" once bound


class EngineStartError(RuntimeError):
    """The engine exited or stayed silent instead of listening; ``reason`` says which."""

    def __init__(self, reason: str, log_path: Path, log_tail: str = "") -> None:
        self.reason = reason
        self.log_path = log_path
        super().__init__(f"{reason}; see {log_path}" + (f"\n{log_tail}" if log_tail else ""))


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when its parent dies (None elsewhere).

    Linux ties this to the thread that started the child: start engines from a thread that
    lives as long as they should (the main thread, a fixture).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)

    return preexec


def engine_env(extra: Mapping[str, str] | None = None, pythonpath: Sequence[Path] = ()) -> dict[str, str]:
    """This process's environment for an engine child: ``extra`` added, ``pythonpath`` first on
    PYTHONPATH, output unbuffered (its lines arrive as it prints them)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}
    path = [str(p) for p in pythonpath] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if path:
        env["PYTHONPATH"] = os.pathsep.join(path)
    return env


class LocalEngine:
    """``python -m void_engine.cli serve --config CONFIG [ARGS]`` as a child process.

    ``start()`` (or entering a ``with`` block) returns once the engine has bound its socket and
    printed its endpoint (``endpoint``, e.g. ``tcp://127.0.0.1:40123``); ``stop()`` (or leaving the
    block) ends it. Give the config a loopback ``bind`` (:data:`LOOPBACK_ANY_PORT` lets the system
    pick a free port). The engine's stderr and stdout go to ``log_path`` (appended).

    ``env`` adds to this process's environment; ``pythonpath`` folders go first on the child's
    PYTHONPATH (where ``[server] plugins`` modules live).
    """

    def __init__(
        self,
        config: Path,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        pythonpath: Sequence[Path] = (),
        cwd: Path | None = None,
        log_path: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.config = Path(config)
        self.args = list(args)
        self.env = dict(env or {})
        self.pythonpath = [Path(p) for p in pythonpath]
        self.cwd = cwd
        self.log_path = log_path if log_path is not None else self.config.with_suffix(".log")
        self.start_timeout = start_timeout
        self.endpoint = ""
        self.proc: subprocess.Popen[str] | None = None
        self._pump: threading.Thread | None = None
        self._stdout: list[str] = []

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "void_engine.cli", "serve", "--config", str(self.config), *self.args]

    def child_env(self) -> dict[str, str]:
        return engine_env(self.env, self.pythonpath)

    def start(self, timeout: float | None = None) -> LocalEngine:
        """Start the engine and wait (``timeout`` s, default ``start_timeout``) until it listens.

        Raises EngineStartError (the engine stopped) when it exits or says nothing in time.
        """
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"engine already running (pid {self.proc.pid})")
        timeout = self.start_timeout if timeout is None else timeout
        self.endpoint = ""
        self._stdout = []
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as log:
            # Its own session: a Ctrl-C in the terminal reaches only the parent, which stops the
            # engine in order; and the kernel ends it should the parent die without doing so.
            self.proc = subprocess.Popen(
                self.command(),
                cwd=str(self.cwd) if self.cwd is not None else None,
                env=self.child_env(),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        lines: queue.Queue[str | None] = queue.Queue()
        self._pump = threading.Thread(target=self._drain_stdout, args=(self.proc, lines), daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        try:
            while not self.endpoint:
                try:
                    line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                except queue.Empty:
                    raise EngineStartError(
                        f"the engine did not start within {timeout:.0f} s", self.log_path, self._log_tail()
                    ) from None
                if line is None:
                    code = self.proc.wait()
                    raise EngineStartError(f"the engine exited (code {code})", self.log_path, self._log_tail())
                if _READY in line:
                    self.endpoint = line.strip().split()[-1]
        except BaseException:
            self.kill()
            raise
        return self

    def _drain_stdout(self, proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        # stdout must keep draining, or a chatty engine would block on a full pipe.
        assert proc.stdout is not None
        with open(self.log_path, "a") as log:
            for line in proc.stdout:
                self._stdout.append(line)
                lines.put(line)
                log.write(line)
                log.flush()
        lines.put(None)

    def log(self) -> str:
        """What the engine has written so far (stderr and stdout)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output(self) -> str:
        """What the engine has printed on stdout ("void-engine listening on ...", "void-engine
        stopped"); all of it once the engine has exited."""
        if self.proc is not None and self.proc.poll() is not None and self._pump is not None:
            self._pump.join(timeout=2.0)
        return "".join(self._stdout)

    def _log_tail(self, chars: int = 4000) -> str:
        return self.log()[-chars:]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the engine finishes its current request and exits), then SIGKILL if it lingers."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: the engine gets no chance to clean up (what a crash looks like)."""
        self._end(signal.SIGKILL, 15.0)

    def _end(self, sig: int, timeout: float) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._pump is not None:
            # Processes the engine started (a local Ray) may hold its stdout open: do not wait on them.
            self._pump.join(timeout=2.0)

    def __enter__(self) -> LocalEngine:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
