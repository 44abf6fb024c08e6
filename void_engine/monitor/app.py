"""The monitor's HTTP routes (Starlette): the pages, their JSON, thumbnails, admin actions, /metrics.

Every endpoint that touches the journal or a file is a plain function, which Starlette runs on
its worker threads, so neither the server's event loop nor the engine's socket loop ever waits
on SQLite or an EXR. Reading is open to anyone who can reach the page (loopback by default);
cancel and retry need ``Authorization: Bearer <the engine's admin token>`` ([security]).
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .control import ActionRefused, JobControl
from .metrics import EngineMetrics, GpuMemory
from .thumbnails import ThumbnailMissing, Thumbnails
from .tracker import JobTracker

STATIC = Path(__file__).resolve().parent / "static"
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EVENTS_SHOWN = 300


@dataclass
class MonitorContext:
    """Everything the routes use; built by :class:`~.service.Monitor`."""

    tracker: JobTracker
    metrics: EngineMetrics
    thumbnails: Thumbnails
    control: JobControl
    journal: Any  # JournalView plus count_by_state
    admin_token: str
    started: float  # time.monotonic() when the engine started
    refresh_s: float
    engine: dict[str, Any]  # version, backend, endpoint: shown in the header
    gpu_memory: Callable[[], list[GpuMemory]]
    allowed_hosts: list[str]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def build_app(ctx: MonitorContext) -> Starlette:
    """The Starlette application serving one engine's monitor."""

    def admin_refusal(request: Request) -> JSONResponse | None:
        if not ctx.admin_token:
            return _error(403, "this engine has no [security] admin token, so nobody can change jobs from the page")
        header = request.headers.get("authorization", "")
        given = header[7:] if header[:7].lower() == "bearer " else ""
        if not given or not hmac.compare_digest(given.encode(), ctx.admin_token.encode()):
            return _error(401, "the admin token is missing or wrong")
        return None

    def job_id(request: Request) -> str | None:
        jid = request.path_params["job"]
        return jid if _JOB_ID.match(jid) else None

    def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    def job_page(request: Request) -> Response:
        return FileResponse(STATIC / "job.html")

    def engine_json() -> dict[str, Any]:
        return {
            **ctx.engine,
            "uptime_s": time.monotonic() - ctx.started,
            "counts": ctx.journal.count_by_state(),
            "admin_configured": bool(ctx.admin_token),
            "refresh_s": ctx.refresh_s,
            "gpus": [vars(g) for g in ctx.gpu_memory()],
        }

    def api_jobs(request: Request) -> Response:
        now = time.time()
        return JSONResponse({"engine": engine_json(), "jobs": [row.to_json(now) for row in ctx.tracker.rows()]})

    def api_job(request: Request) -> Response:
        jid = job_id(request)
        row = ctx.tracker.job(jid) if jid else None
        if row is None:
            return _error(404, f"no job {request.path_params['job']!r:.80}")
        last = ctx.journal.last_seq(row.id)
        events = ctx.journal.events(row.id, max(0, last - _EVENTS_SHOWN), _EVENTS_SHOWN)
        strip = ctx.thumbnails.strip(row)
        return JSONResponse(
            {
                "job": row.to_json(time.time()),
                "events": [e.to_wire() for e in events],
                "strip": {"frames": list(strip.frames), "available": strip.available},
                "engine": engine_json(),
            }
        )

    def thumbnail(request: Request) -> Response:
        jid = job_id(request)
        row = ctx.tracker.job(jid) if jid else None
        if row is None:
            return _error(404, "no such job")
        try:
            data = ctx.thumbnails.get(row, request.path_params["kind"], request.path_params["frame"])
        except ThumbnailMissing as exc:
            return _error(404, str(exc))
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=30"})

    def action(verb: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            refused = admin_refusal(request)
            if refused is not None:
                return refused
            jid = job_id(request)
            if jid is None:
                return _error(404, "no such job")
            try:
                result = getattr(ctx.control, verb)(jid)
            except ActionRefused as exc:
                return _error(exc.status, exc.message)
            return JSONResponse(vars(result))

        return endpoint

    def check_admin(request: Request) -> Response:
        refused = admin_refusal(request)
        return refused if refused is not None else JSONResponse({"admin": True})

    def metrics(request: Request) -> Response:
        return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/", index),
        Route("/jobs/{job}", job_page),
        Route("/api/jobs", api_jobs),
        Route("/api/jobs/{job}", api_job),
        Route("/api/jobs/{job}/cancel", action("cancel"), methods=["POST"]),
        Route("/api/jobs/{job}/retry", action("retry"), methods=["POST"]),
        Route("/api/admin", check_admin, methods=["POST"]),
        Route("/thumbs/{job}/{kind}/{frame:int}.jpg", thumbnail),
        Route("/metrics", metrics),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    # A loopback page only answers to loopback names, so a web page elsewhere cannot reach it
    # through DNS rebinding.
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=ctx.allowed_hosts)]
    return Starlette(routes=routes, middleware=middleware)
