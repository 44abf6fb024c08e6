"""The monitor beside an engine: an HTTP server (uvicorn) and a journal poller, each in its own thread.

:class:`Monitor` is built by the engine when ``[monitor] monitor_enabled`` (it binds its port then, so a
busy port or a refused address stops the engine before it serves) and started and stopped with
the engine's loop. The loop itself never serves a page nor reads a frame: the page reads the
journal (thread-safe) and tells the loop about admin actions through ``notify``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Callable

import uvicorn

from ..config import EngineConfig
from ..service.security import is_loopback
from .app import MonitorContext, build_app
from .control import JobControl
from .metrics import EngineMetrics, torch_gpu_memory
from .thumbnails import Thumbnails
from .tracker import JobTracker

log = logging.getLogger("void_engine.monitor")

_LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1", "[::1]"]
_FORGET_EVERY_S = 60.0


def _is_loopback_host(host: str) -> bool:
    return is_loopback(f"tcp://{host}:0" if ":" not in host else f"tcp://[{host.strip('[]')}]:0")


class Monitor:
    """The engine's web page and ``/metrics``; :meth:`start` / :meth:`stop` from the engine's loop."""

    def __init__(
        self,
        cfg: EngineConfig,
        journal: Any,
        *,
        notify: Callable[[str], None],
        wake: Callable[[], None],
        engine_info: dict[str, Any] | None = None,
    ):
        settings = cfg.monitor_settings()
        loopback = _is_loopback_host(settings.bind)
        if not loopback and not settings.allow_remote:
            raise ValueError(
                f"refusing to serve the monitor page on {settings.bind}, which is not a loopback address; "
                "set [monitor] monitor_allow_remote = true to let other machines see it"
            )
        self.started = time.monotonic()
        since = time.time()
        self.tracker = JobTracker(journal, limit=settings.jobs_shown, since=since)
        self.metrics = EngineMetrics(journal.count_by_state, started=self.started)
        self.tracker.observe = self.metrics.observe
        self.thumbnails = Thumbnails(
            state_dir=cfg.state_dir,
            roots=cfg.roots,
            max_side=settings.thumbnail_px,
            strip_count=settings.strip_frames,
            display=settings.display,
            view=settings.view,
        )
        control = JobControl(journal, state_dir=cfg.state_dir, max_queued=cfg.max_queued, notify=notify, wake=wake)
        ctx = MonitorContext(
            tracker=self.tracker,
            metrics=self.metrics,
            thumbnails=self.thumbnails,
            control=control,
            journal=journal,
            admin_token=cfg.admin_token,
            started=self.started,
            refresh_s=settings.refresh_s,
            engine=dict(engine_info or {}),
            gpu_memory=torch_gpu_memory,
            allowed_hosts=_LOOPBACK_HOSTS if loopback else ["*"],
        )
        self.sock = _listen(settings.bind, settings.port)
        host, port = self.sock.getsockname()[:2]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        self.server = uvicorn.Server(
            uvicorn.Config(
                build_app(ctx),
                log_level="warning",
                access_log=False,
                lifespan="off",
                # An open page's requests must not hold the engine's shutdown for long.
                timeout_graceful_shutdown=2,
            )
        )
        self._poll_s = min(0.5, settings.refresh_s / 2)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._serve, name="void-monitor-http", daemon=True),
            threading.Thread(target=self._poll_forever, name="void-monitor-poll", daemon=True),
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()
        log.info("monitor page on %s (metrics on %smetrics)", self.url, self.url)

    def stop(self) -> None:
        """Stop serving and polling (open requests get two seconds); safe to call twice."""
        self._stop.set()
        self.server.should_exit = True
        for t in self._threads:
            if t.is_alive():
                t.join(timeout=10)
        self.thumbnails.close()
        self.sock.close()

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except Exception:
            log.exception("the monitor's HTTP server stopped")

    def _poll_forever(self) -> None:
        last_forget = time.monotonic()
        first = True
        while first or not self._stop.wait(self._poll_s):
            first = False
            try:
                self.tracker.poll()
                rows = self.tracker.rows()
                for row in rows:
                    self.thumbnails.prefetch_plate(row)
                if time.monotonic() - last_forget > _FORGET_EVERY_S:
                    last_forget = time.monotonic()
                    self.thumbnails.forget({r.id for r in rows})
            except Exception:  # the journal closing under it at shutdown, or a bug: keep the engine up
                if self._stop.is_set():
                    return
                log.exception("monitor poll failed")


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0 = a free port); OSError names the address."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise OSError(f"[monitor] bind {host!r}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OSError(f"[monitor] cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
