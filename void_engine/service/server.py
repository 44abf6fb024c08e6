"""The engine's socket loop (zguide style): one ROUTER, one worker thread, nothing that blocks.

The loop only moves messages. Jobs are stored in the journal and run by the worker thread,
which tells the loop about new events through an inproc PUSH/PULL pair; the loop then answers
the ``events`` requests that were waiting for them (long polling, so a client resumes from the
last ``seq`` it saw, even across an engine restart). ``hello``, ``status``, ``list`` and ``ping``
are answered from the journal at once, whatever the worker is doing. Nothing slow runs on the
loop thread: a submit's per-frame file checks run on a small pool and the reply is sent when
they end, so a 10,000-frame submit on a slow file server holds up no other request.

Every request gets exactly one reply: a result or an error with a stable code. Exceptions never
cross the socket. Malformed messages get an error reply, or are dropped by libzmq when larger
than MAXMSGSIZE (before the engine allocates them).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import os
import queue
import shutil
import stat
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import zmq

from bridge.protocol import (
    ADMIN_ONLY,
    BAD_FRAME,
    BAD_REQUEST,
    BUSY,
    DONE,
    INTERNAL,
    NOT_FOUND,
    PROTOCOL_VERSION,
    REQUEST_TYPES,
    TERMINAL_STATES,
    UNAUTHORISED,
    JobSpec,
    Message,
    ProtocolError,
    check_safe_name,
    decode,
    error_reply,
    get_field,
    reply,
    request_id_of,
)

from .. import __version__
from ..backends import BackendSettings, backend_names, make_backend
from ..config import EngineConfig
from .admission import check_capabilities, engine_capabilities, resolve_job
from .job_runner import JobRunner, Notify, RunnerFactory
from .journal import DuplicateKeyError, Journal, QueueFullError
from .runner import discard_staging
from .security import CurveSetup, check_path, is_loopback, start_curve
from .spool import Retention, SpoolKeeper
from .uploads import UploadStore
from .worker import WorkerThread

log = logging.getLogger("void_engine.service.server")

_NOTIFY_ADDR = "inproc://void-engine-notify-{}"
# Sent on the notify pair instead of a job id: a submit's file checks have finished (job ids are
# hex, so this never is one).
_ADMITTED = "-admitted-"
# Threads checking submitted jobs' frame files; more would only queue more stat calls on the
# same file server.
_ADMISSION_THREADS = 2

# Parked `events` requests (long polls) cost an envelope each until answered. A progress bar needs
# one or two per job; beyond these caps a request is answered at once (with whatever news there is),
# so a flood of them costs the engine nothing it keeps.
MAX_PARKED_EVENTS_PER_CLIENT = 32
MAX_PARKED_EVENTS = 2048

# How long `hello` reuses its capability look-ups (a checkpoint downloaded meanwhile shows up after).
_CAPABILITIES_TTL_S = 1.0


@dataclass
class _Waiter:
    """An ``events`` request parked until its job has news or its wait runs out."""

    envelope: list[bytes]
    rid: Any
    job: str
    after: int
    deadline: float
    owner: str  # who asked: the per-client cap counts parked requests by it


@dataclass(frozen=True)
class _Caller:
    owner: str
    admin: bool


@dataclass
class _Admission:
    """A submit whose frame files are being checked off the loop thread; its reply waits."""

    envelope: list[bytes]
    msg: Message
    caller: _Caller
    spec: JobSpec
    checked: "Future[Any]"


class Engine:
    """One engine: journal + job runner + ROUTER loop. ``serve_forever`` runs the loop in this thread.

    ``make_runner(journal, notify)`` builds what runs the queued jobs (a :class:`JobRunner`); by
    default one local :class:`WorkerThread`, whose backends ``make_backend_fn(name)`` makes.
    """

    def __init__(
        self,
        cfg: EngineConfig,
        *,
        make_backend_fn: Callable[[str], Any] | None = None,
        make_runner: RunnerFactory | None = None,
    ):
        self.cfg = cfg
        for mod in cfg.plugins:
            importlib.import_module(mod)
        if not cfg.curve and not cfg.allow_insecure and not is_loopback(cfg.bind):
            raise ValueError(
                f"refusing to listen on {cfg.bind} without CURVE; set [security] curve = true "
                "(or allow_insecure = true)"
            )
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(cfg.journal_path())
        self.spool = SpoolKeeper(
            cfg.state_dir,
            self.journal,
            Retention(max_age_s=cfg.result_retention_s, max_bytes=cfg.result_retention_bytes),
        )
        self.uploads = UploadStore(
            cfg.state_dir / "spool",
            chunk_bytes=cfg.chunk_bytes,
            max_file_bytes=cfg.max_file_bytes,
            max_job_bytes=cfg.max_job_bytes,
            timeout_s=cfg.upload_timeout_s,
            keeper=self.spool,
            max_spool_bytes=cfg.max_spool_bytes,
        )
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        self.router.setsockopt(zmq.MAXMSGSIZE, cfg.max_message_bytes)
        hb_ms = max(100, int(cfg.heartbeat_s * 1000))
        self.router.setsockopt(zmq.HEARTBEAT_IVL, hb_ms)
        self.router.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * hb_ms)
        self.router.setsockopt(zmq.HEARTBEAT_TTL, 3 * hb_ms)
        self.curve: CurveSetup | None = None
        if cfg.curve:
            assert cfg.server_secret_key is not None
            self.curve = start_curve(self.ctx, self.router, cfg.server_secret_key, cfg.clients_dir, cfg.admin_keys)
        self.router.bind(cfg.bind)
        self.endpoint: str = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        self._notify_addr = _NOTIFY_ADDR.format(id(self))
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.bind(self._notify_addr)
        self._push_local = threading.local()
        self._waiters: dict[str, list[_Waiter]] = {}
        self._parked: Counter[str] = Counter()  # parked waiters per client (owner)
        self._stop = threading.Event()
        # resolve_job stats every frame file (10,000 on NFS for a long shot): never on the loop.
        self._admission_pool = ThreadPoolExecutor(_ADMISSION_THREADS, thread_name_prefix="void-admission")
        self._admitted: queue.SimpleQueue[_Admission] = queue.SimpleQueue()

        # Every interrupted job, including those recovery cancels (a cancel asked just before the
        # crash), which are in neither list it returns.
        interrupted = self.journal.running_ids()
        requeued, failed = self.journal.recover(cfg.max_attempts)
        for jid in interrupted:
            self._discard_partial(jid)
        if requeued or failed:
            log.warning("recovered after a crash: %d job(s) re-queued, %d failed", len(requeued), len(failed))
        for jid in self.spool.sweep():  # retention at start; then on the keeper's own thread
            log.info("result of job %s deleted at start (retention)", jid)
        settings = BackendSettings.from_config(cfg)
        self.backend_settings = settings

        def local_worker(journal: Journal, notify: Notify) -> JobRunner:
            return WorkerThread(
                journal,
                make_backend_fn or (lambda name: make_backend(name, settings)),
                default_backend=cfg.backend,
                default_steps=cfg.steps,
                roots=list(cfg.roots),
                state_dir=cfg.state_dir,
                notify=notify,
                settings=cfg.shot_settings(),
                masks=cfg.mask_settings(),
                pipeline=cfg.pipeline_settings(),
            )

        # Built now (cheap: no backend is loaded until it starts), started by serve_forever.
        self.worker: JobRunner = (make_runner or local_worker)(self.journal, self._notify)
        # The first look-up imports the mask modules' checks (a few hundred ms): done here, before
        # the loop serves anyone, so no client's first `hello` waits for it.
        self._caps: tuple[float, dict[str, Any]] | None = None
        self._capabilities()
        # [monitor]: the web page and /metrics, served from their own threads (void_engine.monitor).
        self.monitor = None
        if cfg.monitor_enabled:
            from ..monitor import Monitor

            info = {"version": __version__, "backend": cfg.backend, "endpoint": self.endpoint}
            self.monitor = Monitor(cfg, self.journal, notify=self._notify, wake=self.worker.wake.set, engine_info=info)

    # -- worker -> loop --------------------------------------------------------------------

    def _notify(self, job_id: str) -> None:
        """Called from the worker thread: tell the loop that ``job_id`` has news."""
        sock = getattr(self._push_local, "sock", None)
        if sock is None:
            sock = self.ctx.socket(zmq.PUSH)
            sock.linger = 0
            sock.connect(self._notify_addr)
            self._push_local.sock = sock
        sock.send_string(job_id)

    def _discard_partial(self, jid: str) -> None:
        rec = self.journal.get(jid)
        if rec is None:
            return
        if rec.spec.upload is not None:
            discard_staging(self.cfg.state_dir / "jobs" / jid / "out", jid)
            if rec.state in TERMINAL_STATES:  # it will not run again: its uploaded inputs can go
                shutil.rmtree(self.cfg.state_dir / "jobs" / jid / "inputs", ignore_errors=True)
        elif rec.spec.out:
            try:
                discard_staging(resolve_out(rec.spec.out, self.cfg.roots), jid)
            except Exception:
                pass

    # -- loop --------------------------------------------------------------------------------

    def serve_forever(self, ready: Callable[[str], None] | None = None) -> None:
        """Run until ``shutdown`` or :meth:`stop`; ``ready(endpoint)`` once listening."""
        self.worker.start()
        self.spool.start()
        if self.monitor is not None:
            self.monitor.start()
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.pull, zmq.POLLIN)
        if ready:
            ready(self.endpoint)
        try:
            while not self._stop.is_set():
                events = dict(poller.poll(self._poll_timeout_ms()))
                if self.pull in events:
                    news: set[str] = set()
                    while True:
                        try:
                            news.add(self.pull.recv_string(zmq.NOBLOCK))
                        except zmq.Again:
                            break
                    if _ADMITTED in news:
                        news.discard(_ADMITTED)
                        self._finish_admissions()
                    for jid in news:
                        self._answer_waiters(jid)
                if self.router in events:
                    for _ in range(256):  # bounded, so timers still run under a flood
                        try:
                            frames = self.router.recv_multipart(zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._handle(frames)
                self._housekeeping()
        finally:
            self._close()

    def stop(self) -> None:
        """Ask the loop to end (thread-safe)."""
        self._stop.set()

    def _close(self) -> None:
        self.spool.stop()
        # A check still statting a slow file server is not waited for; its reply is not sent.
        self._admission_pool.shutdown(wait=False, cancel_futures=True)
        if self.monitor is not None:
            self.monitor.stop()
        self.worker.stop()
        self.worker.join(timeout=10)
        if self.curve is not None:
            self.curve.stop()
        self.router.close(0)
        self.pull.close(0)
        sock = getattr(self._push_local, "sock", None)
        if sock is not None:
            sock.close(0)
        self.journal.close()
        if not self.worker.is_alive():
            self.ctx.destroy(linger=0)

    def _poll_timeout_ms(self) -> int:
        return 100

    def _housekeeping(self) -> None:
        now = time.monotonic()
        for jid in list(self._waiters):
            due = [w for w in self._waiters[jid] if w.deadline <= now]
            if due:
                self._waiters[jid] = [w for w in self._waiters[jid] if w.deadline > now]
                for w in due:
                    self._answer_parked(w)
                if not self._waiters[jid]:
                    del self._waiters[jid]
        for uid in self.uploads.expire():
            log.info("upload %s expired; its files are deleted", uid)

    def _send(self, envelope: list[bytes], frames: list[bytes]) -> None:
        try:
            self.router.send_multipart([*envelope, *frames], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # peer gone or its queue full: it will ask again

    def _handle(self, raw: list[zmq.Frame]) -> None:
        # ROUTER prepends the peer identity; REQ clients add an empty delimiter frame.
        identity = raw[0].bytes
        rest = raw[1:]
        envelope = [identity]
        if rest and len(rest) > 1 and len(rest[0].bytes) == 0:
            envelope.append(b"")
            rest = rest[1:]
        frames = [f.bytes for f in rest]
        rid = None
        try:
            msg = decode(frames)
            rid = msg.id
            caller = self._caller(identity, raw[-1], msg)
            self._dispatch(envelope, msg, caller)
        except ProtocolError as err:
            self._send(
                envelope, error_reply(rid if rid is not None else request_id_of(frames) if frames else None, err)
            )
        except Exception as exc:  # a bug: report it as a value, keep serving
            log.error("internal error handling a request:\n%s", traceback.format_exc())
            self._send(
                envelope, error_reply(rid, ProtocolError(INTERNAL, f"engine error: {type(exc).__name__}: {exc}"))
            )

    def _caller(self, identity: bytes, frame: zmq.Frame, msg: Message) -> _Caller:
        if self.curve is not None:
            try:
                user = frame.get("User-Id")
            except zmq.ZMQError:
                user = ""
            return _Caller(f"key:{user}", user in self.curve.admin_keys)
        token = msg.header.get("token")
        if token is not None and not (isinstance(token, str) and 8 <= len(token) <= 256):
            raise ProtocolError(BAD_REQUEST, "field 'token' must be a string of 8..256 characters", "token")
        owner = ("token:" + hashlib.sha256(token.encode()).hexdigest()[:32]) if token else f"peer:{identity.hex()}"
        admin_token = msg.header.get("admin_token")
        admin = (
            bool(self.cfg.admin_token)
            and isinstance(admin_token, str)
            and hmac.compare_digest(admin_token.encode(), self.cfg.admin_token.encode())
        )
        return _Caller(owner, admin)

    def _dispatch(self, envelope: list[bytes], msg: Message, caller: _Caller) -> None:
        mtype = msg.type
        if mtype not in REQUEST_TYPES:
            raise ProtocolError(BAD_REQUEST, f"field 'type': unknown request type {mtype!r:.40}", "type")
        if mtype in ADMIN_ONLY and not caller.admin:
            raise ProtocolError(UNAUTHORISED, f"'{mtype}' is for admins only", "type")
        if mtype not in ("chunk",) and msg.blobs:
            raise ProtocolError(BAD_FRAME, f"'{mtype}' takes no blob frames, got {len(msg.blobs)}", "blobs")
        handler = getattr(self, f"_on_{mtype}")
        result = handler(envelope, msg, caller)
        if result is not None:
            fields, blobs = result
            self._send(envelope, reply(msg.id, mtype, blobs, **fields))

    # -- job ownership -----------------------------------------------------------------------

    def _own_job(self, msg: Message, caller: _Caller, verb: str):
        jid = get_field(msg.header, "job", str, max_len=64)
        rec = self.journal.get(jid)
        if rec is None:
            raise ProtocolError(NOT_FOUND, f"field 'job': no job {jid!r}", "job")
        if rec.owner != caller.owner and not caller.admin:
            raise ProtocolError(
                UNAUTHORISED, f"job {jid} belongs to another client; only its owner or an admin may {verb} it", "job"
            )
        return rec

    # -- handlers: each returns (fields, blobs) or None when the reply is deferred -----------

    def _on_ping(self, envelope, msg, caller):
        return {"time": time.time()}, ()

    def _on_hello(self, envelope, msg, caller):
        cfg = self.cfg
        default = cfg.backend
        state, error = self.worker.backend_state(default)
        return {
            "protocol": PROTOCOL_VERSION,
            "engine": __version__,
            "backends": backend_names(),
            "backend": default,
            "backend_state": state,
            "backend_error": error,
            "model": str(cfg.model) if cfg.model else None,
            "memory_mode": cfg.memory_mode,
            "limits": {
                "chunk_bytes": cfg.chunk_bytes,
                "credit": cfg.credit,
                "max_file_bytes": cfg.max_file_bytes,
                "max_job_bytes": cfg.max_job_bytes,
                "max_frames": cfg.max_frames,
                "max_spool_bytes": cfg.max_spool_bytes,
                "max_message_bytes": cfg.max_message_bytes,
            },
            "presets": {"steps": cfg.steps, "model_size": list(cfg.model_size)},
            "by_path": bool(cfg.roots),
            "roots": [str(r) for r in cfg.roots],
            "curve": self.curve is not None,
            "owner": caller.owner,
            "admin": caller.admin,
            **self._capabilities(),
        }, ()

    def _capabilities(self) -> dict[str, Any]:
        """What ``hello`` says about masks and passes, looked up at most once a second.

        The look-ups are file checks (SAM2/SAM3 checkpoints, pass-2 weights, installed packages):
        cheap, but a client polling ``hello`` while the loop is busy should not repeat them.
        """
        now = time.monotonic()
        if self._caps is None or now - self._caps[0] > _CAPABILITIES_TTL_S:
            caps = engine_capabilities(
                backend=self.cfg.backend, backend_settings=self.backend_settings, mask_stage=self.worker.mask_stage
            )
            self._caps = (now, caps)
        return self._caps[1]

    def _on_submit(self, envelope, msg, caller):
        spec = JobSpec.from_wire(msg.header.get("job"), max_frames=self.cfg.max_frames)
        if spec.backend is not None and spec.backend not in backend_names():
            raise ProtocolError(
                BAD_REQUEST,
                f"field 'job.backend': unknown backend {spec.backend!r} (available: {', '.join(backend_names())})",
                "job.backend",
            )
        check_capabilities(
            spec, backend=self.cfg.backend, backend_settings=self.backend_settings, mask_stage=self.worker.mask_stage
        )
        if spec.upload is not None:
            # A resent submit (its first reply was lost) finds its job: the first submit has
            # already moved the upload into the job, so the upload id alone is unknown now.
            try:
                existing = self.journal.find_by_key(caller.owner, spec)
            except DuplicateKeyError as exc:
                raise ProtocolError(BAD_REQUEST, f"field 'job.job_key': {exc}", "job.job_key") from None
            if existing is not None:
                self.uploads.drop_owned(caller.owner, spec.upload)  # a fresh copy of inputs it already has
                return {"job": existing.id, "state": existing.state, "created": False}, ()
            up = self.uploads.require_complete(caller.owner, spec.upload)
            checked = self._admission_pool.submit(
                resolve_job, spec, [], inputs_dir=up.folder, results_dir=self.cfg.state_dir / "jobs"
            )
        else:
            checked = self._admission_pool.submit(resolve_job, spec, list(self.cfg.roots))
        admission = _Admission(envelope, msg, caller, spec, checked)

        def checked_done(_: Future[Any]) -> None:
            # The loop hears of it on the notify pair, and replies then (sockets are the loop's).
            self._admitted.put(admission)
            if not self._stop.is_set():
                self._notify(_ADMITTED)

        checked.add_done_callback(checked_done)
        return None

    def _finish_admissions(self) -> None:
        """Reply to every submit whose file checks have ended (on the loop thread)."""
        while True:
            try:
                a = self._admitted.get_nowait()
            except queue.Empty:
                return
            rid = a.msg.id
            try:
                a.checked.result()  # raises what resolve_job raised
                fields = self._store_submit(a.spec, a.caller)
                self._send(a.envelope, reply(rid, "submit", (), **fields))
            except ProtocolError as err:
                self._send(a.envelope, error_reply(rid, err))
            except Exception as exc:  # a bug: report it as a value, keep serving
                log.error("internal error admitting a job:\n%s", traceback.format_exc())
                self._send(
                    a.envelope, error_reply(rid, ProtocolError(INTERNAL, f"engine error: {type(exc).__name__}: {exc}"))
                )

    def _store_submit(self, spec: JobSpec, caller: _Caller) -> dict[str, Any]:
        """Queue a job whose files were checked; the fields of the submit's reply."""

        def take_upload(jid: str) -> None:
            # Inside the journal's transaction: the worker cannot claim the job before its inputs
            # are where it will look for them.
            self.uploads.take(caller.owner, str(spec.upload), self.cfg.state_dir / "jobs" / jid / "inputs")

        try:
            rec, created = self.journal.submit(
                caller.owner,
                spec,
                max_queued=self.cfg.max_queued,
                on_create=take_upload if spec.upload is not None else None,
            )
        except DuplicateKeyError as exc:
            raise ProtocolError(BAD_REQUEST, f"field 'job.job_key': {exc}", "job.job_key") from None
        except QueueFullError as exc:
            raise ProtocolError(BUSY, str(exc)) from None
        if spec.upload is not None and not created:
            self.uploads.drop(spec.upload)  # the existing job already has its inputs
        self.worker.wake.set()
        self._answer_waiters(rec.id)
        return {"job": rec.id, "state": rec.state, "created": created}

    def _on_status(self, envelope, msg, caller):
        rec = self._own_job(msg, caller, "see")
        return {"status": rec.status(self.journal.last_seq(rec.id)).to_wire()}, ()

    def _on_list(self, envelope, msg, caller):
        everyone = get_field(msg.header, "all", bool, required=False, default=False)
        limit = get_field(msg.header, "limit", int, required=False, default=100, min_value=1, max_value=1000)
        if everyone and not caller.admin:
            raise ProtocolError(UNAUTHORISED, "field 'all': listing every client's jobs is for admins only", "all")
        recs = self.journal.list_jobs(None if everyone else caller.owner, limit)
        return {"jobs": [r.status(0).to_wire() for r in recs]}, ()

    def _on_cancel(self, envelope, msg, caller):
        rec = self._own_job(msg, caller, "cancel")
        if rec.owner != caller.owner:
            # An admin acting on someone else's job: the audit trail names who asked.
            log.warning("admin %s cancels job %s of %s", caller.owner, rec.id, rec.owner)
        state, event = self.journal.request_cancel(rec.id)
        if event is not None:
            if rec.spec.upload is not None:
                # Cancelled before it ran: the worker never sees it, so its uploaded inputs go now.
                shutil.rmtree(self.cfg.state_dir / "jobs" / rec.id / "inputs", ignore_errors=True)
            self._answer_waiters(rec.id)
        return {"job": rec.id, "state": state, "cancel_requested": True}, ()

    def _on_events(self, envelope, msg, caller):
        rec = self._own_job(msg, caller, "follow")
        after = get_field(msg.header, "after", int, required=False, default=0, min_value=0)
        # A longer wait than this engine allows is shortened, not refused: clients choose their
        # wait before they know the engine's setting.
        wait = min(
            get_field(msg.header, "wait", float, required=False, default=0.0, min_value=0.0), self.cfg.events_wait_max_s
        )
        w = _Waiter(envelope, msg.id, rec.id, after, time.monotonic() + wait, caller.owner)
        full = self._parked[caller.owner] >= MAX_PARKED_EVENTS_PER_CLIENT or self._parked.total() >= MAX_PARKED_EVENTS
        if wait <= 0 or full or self.journal.last_seq(rec.id) > after:
            self._answer_events(w)
        else:
            self._waiters.setdefault(rec.id, []).append(w)
            self._parked[caller.owner] += 1
        return None

    def _answer_parked(self, w: _Waiter) -> None:
        self._parked[w.owner] -= 1
        if self._parked[w.owner] <= 0:
            del self._parked[w.owner]
        self._answer_events(w)

    def _answer_events(self, w: _Waiter) -> None:
        evs = self.journal.events(w.job, w.after)
        rec = self.journal.get(w.job)
        self._send(
            w.envelope,
            reply(w.rid, "events", job=w.job, events=[e.to_wire() for e in evs], state=rec.state if rec else None),
        )

    def _answer_waiters(self, jid: str) -> None:
        waiting = self._waiters.pop(jid, None)
        if not waiting:
            return
        last = self.journal.last_seq(jid)
        keep = []
        for w in waiting:
            if last > w.after:
                self._answer_parked(w)
            else:
                keep.append(w)
        if keep:
            self._waiters[jid] = keep

    def _on_fetch(self, envelope, msg, caller):
        rec = self._own_job(msg, caller, "fetch")
        if rec.state != DONE or not rec.result:
            raise ProtocolError(
                BAD_REQUEST, f"field 'job': job {rec.id} is {rec.state}, results exist only when done", "job"
            )
        version_dir = Path(rec.result["version_dir"])
        if rec.spec.upload is None:
            # A by-path result folder sits on storage clients can write: if it has been replaced
            # by a symlink leading out of the roots, nothing in it is served.
            version_dir = check_path(str(version_dir), list(self.cfg.roots), "job")
        elif not version_dir.is_dir():
            raise ProtocolError(
                NOT_FOUND,
                f"field 'job': the result of job {rec.id} is no longer kept (deleted by the engine's result "
                "retention, [server] result_retention_s / result_retention_bytes)",
                "job",
            )
        name = msg.header.get("file")
        if name is None:
            files = []
            for f in sorted(version_dir.iterdir()) if version_dir.is_dir() else []:
                # The engine writes no symlinks; one found here was planted and may lead anywhere.
                if f.is_file() and not f.is_symlink() and not f.name.startswith("."):
                    files.append({"name": f.name, "size": f.stat().st_size})
            return {
                "job": rec.id,
                "pattern": rec.result["pattern"],
                "frames": rec.result["frames"],
                "version_dir": str(version_dir),
                "by_path": rec.spec.upload is None,
                "files": files,
                "chunk_bytes": self.cfg.chunk_bytes,
                "credit": self.cfg.credit,
            }, ()
        check_safe_name(name, "file")
        offset = get_field(msg.header, "offset", int, required=False, default=0, min_value=0)
        length = get_field(
            msg.header,
            "length",
            int,
            required=False,
            default=self.cfg.chunk_bytes,
            min_value=1,
            max_value=self.cfg.chunk_bytes,
        )
        path = version_dir / name
        try:
            # O_NOFOLLOW: a symlink swapped in after the listing is refused too.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            fd = -1
        if fd < 0 or not stat.S_ISREG(os.fstat(fd).st_mode):
            if fd >= 0:
                os.close(fd)
            raise ProtocolError(NOT_FOUND, f"field 'file': job {rec.id} has no result file {name!r}", "file")
        with os.fdopen(fd, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            stream.seek(offset)
            data = stream.read(length)
        return {"job": rec.id, "file": name, "offset": offset, "size": size}, (data,)

    def _on_upload(self, envelope, msg, caller):
        files = get_field(msg.header, "files", list, max_len=100_000)
        announced = []
        for i, f in enumerate(files):
            if not isinstance(f, dict):
                raise ProtocolError(BAD_REQUEST, f"field 'files[{i}]' must be a map with name and size", f"files[{i}]")
            name = get_field(f, "name", str, max_len=200, where=f"files[{i}].")
            size = get_field(f, "size", int, min_value=0, where=f"files[{i}].")
            announced.append((name, size))
        up = self.uploads.begin(caller.owner, announced)
        return {"upload": up.id, "chunk_bytes": self.cfg.chunk_bytes, "credit": self.cfg.credit}, ()

    def _on_chunk(self, envelope, msg, caller):
        uid = get_field(msg.header, "upload", str, max_len=64)
        index = get_field(msg.header, "file", int, min_value=0)
        offset = get_field(msg.header, "offset", int, min_value=0)
        if len(msg.blobs) != 1:
            raise ProtocolError(BAD_FRAME, f"'chunk' takes exactly one blob frame, got {len(msg.blobs)}", "blobs")
        up = self.uploads.chunk(caller.owner, uid, index, offset, msg.blobs[0])
        # Each acknowledged chunk returns one credit to the sender.
        return {"upload": uid, "file": index, "received": up.received[index], "credit": 1, "complete": up.complete}, ()

    def _on_shutdown(self, envelope, msg, caller):
        log.warning("admin %s asks the engine to shut down", caller.owner)
        self._send(envelope, reply(msg.id, "shutdown", stopping=True))
        self._stop.set()
        return None


def resolve_out(out: str, roots: list[Path]) -> Path:
    from .security import check_path

    return check_path(out, roots, "job.out")


def serve(cfg: EngineConfig, *, announce: Callable[[str], None] | None = None) -> int:
    """Build an engine from ``cfg`` and run it until shutdown (used by `void-engine serve`)."""
    engine = Engine(cfg)
    engine.serve_forever(ready=announce)
    return 0
