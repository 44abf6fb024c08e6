"""The engine's single GPU worker: it takes queued jobs from the journal one at a time.

It is the single engine's :class:`~.job_runner.JobRunner`. It never touches the socket: after
every stored event it calls ``notify(job_id)`` and the socket loop passes the news on. A job that
ends — done, failed or cancelled — is recorded in the journal before anyone is told.
"""

from __future__ import annotations

import logging
import shutil
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

from bridge.protocol import CANCELLED, DONE, FAILED, TERMINAL_STATES, ProtocolError

from ..backends import Backend
from ..config import MaskSettings
from ..progress import Cancelled
from .admission import resolve_job
from .job_runner import BackendState, Notify, backend_state
from .journal import JobRecord, Journal
from .mask_stage import MaskStage
from .runner import discard_staging, run_job

log = logging.getLogger("void_engine.service.worker")


class WorkerThread(threading.Thread):
    """The one GPU worker: takes queued jobs from the journal, one at a time, in priority order.

    ``notify(job_id)`` is called after every stored event so the socket loop can pass it on;
    the worker never touches the socket itself. Only this thread moves the job it claimed out of
    ``running``, so its ``finish`` is never refused by the journal.
    """

    def __init__(
        self,
        journal: Journal,
        make_backend: Callable[[str], Backend],
        *,
        default_backend: str,
        default_steps: int,
        roots: list[Path],
        state_dir: Path,
        notify: Notify,
        settings: dict[str, Any] | None = None,
        masks: MaskSettings | None = None,
    ):
        super().__init__(name="void-worker", daemon=True)
        self.journal = journal  # the queue: jobs are claimed from it, every event is stored in it
        self.make_backend = make_backend  # backend name -> a loaded backend (the model loads here)
        self.default_backend = default_backend  # for jobs that name none; loaded as the thread starts
        self.default_steps = default_steps  # for jobs that give no step count
        self.roots = roots  # the folders by-path jobs may read and write
        self.state_dir = state_dir  # by-value jobs live in state_dir/jobs/<id>/ (inputs/, out/)
        self.notify = notify  # notify(job_id) after each stored event: the loop tells the clients
        self.settings = settings  # plates.ShotSettings keywords (config.shot_settings)
        # One per engine: SAM2 loads on the first job that propagates and stays resident.
        self.mask_stage = MaskStage(masks)
        self.wake = threading.Event()  # set by the loop after a submit: look at the queue now
        self.stopping = threading.Event()  # the engine is shutting down: take nothing, stop the job
        self.current: str | None = None  # the job being run, if any
        self._backends: dict[str, Backend] = {}  # loaded backends by name, resident for the engine's life
        self.backend_errors: dict[str, str] = {}  # why a backend failed to load, by name

    def backend(self, name: str) -> Backend:
        """The resident backend ``name``, made on first use (the model loads once)."""
        if name not in self._backends:
            self._backends[name] = self.make_backend(name)
        return self._backends[name]

    def backend_state(self, name: str) -> tuple[BackendState, str | None]:
        return backend_state(name, self._backends, self.backend_errors)

    def preload(self, name: str) -> None:
        try:
            self.backend(name)
        except Exception as exc:  # reported by hello/doctor; jobs for it fail with the message
            self.backend_errors[name] = f"{type(exc).__name__}: {exc}"
            log.error("backend %s failed to load: %s", name, exc)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def run(self) -> None:
        self.preload(self.default_backend)
        while not self.stopping.is_set():
            rec = self.journal.claim_next()
            if rec is None:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            self.notify(rec.id)
            self.current = rec.id
            try:
                self._run_one(rec)
            finally:
                self.current = None

    def _run_one(self, rec: JobRecord) -> None:
        jid, spec = rec.id, rec.spec
        job_dir = self.state_dir / "jobs" / jid
        by_value = spec.upload is not None
        self._attempt(rec, job_dir, by_value)
        now = self.journal.get(jid)
        if by_value and now is not None and now.state in TERMINAL_STATES:
            # Uploaded inputs are only needed to (re)run the job; results stay fetchable.
            shutil.rmtree(job_dir / "inputs", ignore_errors=True)

    def _attempt(self, rec: JobRecord, job_dir: Path, by_value: bool) -> None:
        jid, spec = rec.id, rec.spec

        def report(kind: str, **fields: Any) -> None:
            self.journal.add_event(jid, kind=kind, **fields)
            self.notify(jid)

        def cancel() -> bool:
            return self.stopping.is_set() or self.journal.cancel_requested(jid)

        out_root: Path | None = None
        try:
            report("stage", stage="resolve", step=0, total=1)
            job = resolve_job(
                spec,
                self.roots,
                inputs_dir=job_dir / "inputs" if by_value else None,
                results_dir=job_dir / "out" if by_value else None,
            )
            out_root = job.out_root
            discard_staging(out_root, jid)  # left by an attempt that died with the engine
            name = spec.backend or self.default_backend
            if name in self.backend_errors and name not in self._backends:
                raise RuntimeError(f"backend {name!r} is unavailable: {self.backend_errors[name]}")
            backend = self.backend(name)
            output = run_job(
                jid,
                job,
                backend,
                prompt=spec.prompt,
                seed=spec.seed,
                steps=spec.steps or self.default_steps,
                report=report,
                cancel=cancel,
                backend_name=name,
                settings=self.settings,
                mask_stage=self.mask_stage,
            )
        except BaseException as exc:
            if self.stopping.is_set() and not self.journal.cancel_requested(jid):
                # Engine shutting down: leave the job "running" so recovery re-queues it.
                return
            if isinstance(exc, Cancelled) or self.journal.cancel_requested(jid):
                if out_root is not None:
                    discard_staging(out_root, jid)
                self.journal.finish(jid, CANCELLED)
            else:
                msg = exc.message if isinstance(exc, ProtocolError) else f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, (ProtocolError, ValueError, OSError)):
                    log.error("job %s failed:\n%s", jid, traceback.format_exc())
                self.journal.finish(jid, FAILED, error=msg)
            self.notify(jid)
            if not isinstance(exc, Exception):
                raise
            return
        self.journal.finish(jid, DONE, result=output.to_result())
        self.notify(jid)
