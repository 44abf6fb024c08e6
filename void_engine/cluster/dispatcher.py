"""The gateway's side of the cluster: hand queued jobs to free engine actors, relay what they say.

:class:`ClusterDispatcher` is the gateway's :class:`~void_engine.service.job_runner.JobRunner`, in
the place of the single engine's WorkerThread. It owns no queue of its own: the journal is the
queue. A job is claimed (``queued -> running``, stored) only when an engine is free, so a job
waiting for an engine shows ``queued`` and keeps its priority order.

Each engine slot has one long-lived thread that streams its current job's events from the
actor into the journal (stored, then announced). Failures split three ways:
- the job failed or was cancelled on the engine: an :class:`ActorOutcome`, recorded as it says;
- the engine died (``RayActorError``): Ray restarts it; the gateway re-queues the job once
  (``[cluster] actor_retries``), then fails it, so a poisonous input stops after two engines;
- the gateway is stopping: the job stays ``running`` so the journal's recovery re-queues it.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from bridge.protocol import CANCELLED, DONE, FAILED, TERMINAL_STATES

from ..config import EngineConfig
from ..service.job_runner import BackendState, Notify, backend_state
from ..service.journal import IllegalTransition, JobRecord, Journal
from ..service.mask_stage import MaskStage
from ..service.runner import discard_staging, staging_dir
from .messages import ActorEvent, ActorFile, ActorJob, ActorOutcome, ActorSettings, EngineInfo, InputFile, safe_relative
from .pool import EnginePool, import_ray, streams_from_actors

log = logging.getLogger("void_engine.cluster.dispatcher")

_INFO_RETRY_S = 1.0
_CONNECT_RETRY_S = 5.0
_POLL_S = 0.2  # progress delay through Ray Client (ray://), which cannot stream from actors
# Attempts that found their engine gone before the job began; beyond this they count as deaths.
_UNAVAILABLE_RETRIES = 3


@dataclass
class EngineSlot:
    """One engine actor as the gateway sees it."""

    index: int  # its place in the pool (engine 0, 1, ... in logs and messages)
    actor: Any  # the Ray actor handle (an EngineActor)
    # The claimed jobs its thread runs, one at a time; None tells the thread to end.
    inbox: "queue.SimpleQueue[JobRecord | None]" = field(default_factory=queue.SimpleQueue)
    job: str | None = None  # the job it runs; None when free
    cancel_sent: bool = False  # the job's cancel has been passed to the actor
    info: EngineInfo | None = None  # its last `info` answer; None until it (re)started: no work for it
    info_ref: Any = None  # the `info` request in flight, if any
    info_asked: float = 0.0  # monotonic time of the last info request
    thread: threading.Thread | None = None  # the thread that streams its job's events into the journal


class ClusterDispatcher(threading.Thread):
    """Runs the gateway's jobs on a pool of Ray engine actors."""

    def __init__(
        self,
        journal: Journal,
        cfg: EngineConfig,
        notify: Notify,
        *,
        pool_factory: Callable[[], EnginePool] | None = None,
        streaming: bool | None = None,
    ):
        super().__init__(name="void-cluster-dispatcher", daemon=True)
        self.journal = journal  # the queue: claimed from when an engine is free; every event stored in it
        self.cfg = cfg  # the gateway's settings ([cluster] for the pool, roots, state_dir)
        self.notify = notify  # notify(job_id) after each stored event: the loop tells the clients
        self.settings = ActorSettings.from_config(cfg)  # what every engine actor is built with
        self._pool_factory = pool_factory or self._default_pool
        # Streaming generator (progress pushed by the actor) unless on Ray Client: then polling.
        self.streaming = streams_from_actors(cfg.ray_address) if streaming is None else streaming
        self.wake = threading.Event()  # set by the loop after a submit, and by a slot that came free
        self.stopping = threading.Event()  # the gateway is shutting down
        self.ready = threading.Event()  # set once the engine actors exist
        self.pool: EnginePool | None = None  # the engine actors, once Ray has started them
        self.slots: list[EngineSlot] = []  # one per engine actor, with the job it runs
        self._backends: frozenset[str] = frozenset()  # backends loaded on at least one engine
        self.backend_errors: dict[str, str] = {}  # why a backend is on no engine (or why Ray is not there)
        self._deaths: dict[str, int] = {}  # job id -> engines that died running it
        self._unavailable: dict[str, int] = {}  # job id -> engines found gone before it began
        # With the mask settings the actors get: the gateway's submit-time checks ask this stage
        # (it loads no SAM2 here), so a job the engines cannot run is refused at once.
        self.mask_stage = MaskStage(cfg.mask_settings())

    def _default_pool(self) -> EnginePool:
        cfg = self.cfg
        return EnginePool.start(
            self.settings,
            address=cfg.ray_address,
            namespace=cfg.ray_namespace,
            engines=cfg.engines,
            gpus_per_engine=cfg.gpus_per_engine,
            cpus_per_engine=cfg.cpus_per_engine,
        )

    # -- the JobRunner interface ------------------------------------------------------------------

    def backend_state(self, name: str) -> tuple[BackendState, str | None]:
        return backend_state(name, self._backends, self.backend_errors)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def run(self) -> None:
        while not self.stopping.is_set() and self.pool is None:
            try:
                self.pool = self._pool_factory()
            except Exception as exc:  # ClusterError, or anything Ray raises while starting actors
                # The gateway still answers (hello says "error"); jobs wait queued until Ray is back.
                self.backend_errors = {self.cfg.backend: f"cluster: {exc}"}
                log.error("%s; retrying in %gs", exc, _CONNECT_RETRY_S)
                self.stopping.wait(_CONNECT_RETRY_S)
        if self.pool is None:
            return
        self.slots = [EngineSlot(i, h) for i, h in enumerate(self.pool.handles)]
        for slot in self.slots:
            slot.thread = threading.Thread(
                target=self._slot_loop, args=(slot,), name=f"void-engine-{slot.index}", daemon=True
            )
            slot.thread.start()
        self.ready.set()
        try:
            while not self.stopping.is_set():
                self._poll_info()
                self._forward_cancels()
                self._dispatch()
                self.wake.wait(0.05)
                self.wake.clear()
        finally:
            self._shutdown()

    # -- loop steps ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        for slot in self.slots:
            # An engine takes work only once it has answered `info`: started, model loaded. A task
            # sent to an engine Ray is still restarting fails at once without running.
            if slot.job is not None or slot.info is None:
                continue
            rec = self.journal.claim_next()
            if rec is None:
                return
            slot.job, slot.cancel_sent = rec.id, False
            self.notify(rec.id)
            slot.inbox.put(rec)

    def _forward_cancels(self) -> None:
        for slot in self.slots:
            job = slot.job
            if job is not None and not slot.cancel_sent and self.journal.cancel_requested(job):
                slot.actor.cancel.remote(job)  # the control group runs it beside the job
                slot.cancel_sent = True

    def _poll_info(self) -> None:
        ray = import_ray()
        now = time.monotonic()
        for slot in self.slots:
            if slot.info_ref is None and slot.info is None and now - slot.info_asked > _INFO_RETRY_S:
                slot.info_ref, slot.info_asked = slot.actor.info.remote(), now
        pending = [s.info_ref for s in self.slots if s.info_ref is not None]
        if not pending:
            return
        done, _ = ray.wait(pending, num_returns=len(pending), timeout=0)
        if not done:
            return
        for slot in self.slots:
            if slot.info_ref is not None and slot.info_ref in done:
                try:
                    slot.info = ray.get(slot.info_ref)
                except Exception as exc:  # the actor is (re)starting: ask again later
                    log.info("engine %d not available yet: %s", slot.index, type(exc).__name__)
                    slot.info_asked = time.monotonic()
                slot.info_ref = None
        loaded = frozenset(b for s in self.slots if s.info for b in s.info.backends)
        errors = {
            name: err for s in self.slots if s.info for name, err in s.info.backend_errors.items() if name not in loaded
        }
        self._backends, self.backend_errors = loaded, errors

    def _shutdown(self) -> None:
        # Running jobs stay "running" in the journal (recovery re-queues them at the next start);
        # the engines are told to stop them so no staging folder is left half written.
        for slot in self.slots:
            if slot.job is not None:
                try:
                    slot.actor.cancel.remote(slot.job)
                except Exception:
                    pass
            slot.inbox.put(None)
        deadline = time.monotonic() + 5
        for slot in self.slots:
            if slot.thread is not None:
                slot.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.pool is not None:
            self.pool.close()

    # -- one engine slot -------------------------------------------------------------------------

    def _slot_loop(self, slot: EngineSlot) -> None:
        while True:
            rec = slot.inbox.get()
            if rec is None:
                return
            try:
                self._run_on(slot, rec)
            except Exception:
                log.exception("engine slot %d: unexpected error with job %s", slot.index, rec.id)
            finally:
                slot.job = None
                self.wake.set()

    def _run_on(self, slot: EngineSlot, rec: JobRecord) -> None:
        import_ray()
        from ray.exceptions import RayActorError

        jid, spec = rec.id, rec.spec
        by_value = spec.upload is not None
        job_dir = self.cfg.state_dir / "jobs" / jid
        staging = staging_dir(job_dir / "out", jid) if by_value else None
        received = 0
        try:
            inputs = self._put_inputs(job_dir / "inputs") if by_value else None
            outcome: ActorOutcome | None = None
            for item in self._items(slot, ActorJob(jid, spec.to_wire(), inputs)):
                received += 1
                if isinstance(item, ActorEvent):
                    self.journal.add_event(jid, kind=item.kind, **item.fields)
                    self.notify(jid)
                elif isinstance(item, ActorFile):
                    if staging is None or not safe_relative(item.name):
                        raise RuntimeError(f"the engine sent an unexpected result file {item.name!r:.80}")
                    target = staging / item.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(item.data)
                elif isinstance(item, ActorOutcome):
                    outcome = item
            if outcome is None:
                raise RuntimeError("the engine ended the job without saying how it ended")
            self._record_outcome(rec, outcome, staging)
        except RayActorError as exc:
            self._engine_died(slot, rec, exc, started=received > 0)
        except Exception as exc:
            if not self.stopping.is_set():
                log.exception("job %s failed in the gateway", jid)
                try:
                    self.journal.finish(jid, FAILED, error=f"{type(exc).__name__}: {exc}")
                except IllegalTransition:
                    # The failure came after the job's outcome was stored (telling the loop, say):
                    # the job keeps the state it ended in.
                    return
                self.notify(jid)
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            rec_now = self.journal.get(jid)
            if rec_now is not None and rec_now.state in TERMINAL_STATES:
                self._deaths.pop(jid, None)
                self._unavailable.pop(jid, None)
                if by_value:
                    # Uploaded inputs are needed only to (re)run the job; results stay fetchable.
                    shutil.rmtree(job_dir / "inputs", ignore_errors=True)

    def _items(self, slot: EngineSlot, job: ActorJob) -> Iterator[Any]:
        """What the engine says about ``job``, in order, as it says it (streamed or polled)."""
        ray = import_ray()
        if self.streaming:
            for ref in slot.actor.run.options(num_returns="streaming").remote(job):
                yield ray.get(ref)
            return
        done = slot.actor.run_polled.remote(job)
        seen = 0
        while True:
            finished = bool(ray.wait([done], timeout=_POLL_S)[0])
            # A dead engine raises RayActorError from either call, as the stream would.
            items = ray.get(slot.actor.poll.remote(job.job_id, seen))
            seen += len(items)
            yield from items
            if finished:
                ray.get(done)
                return

    def _put_inputs(self, folder: Path) -> tuple[InputFile, ...]:
        """Every uploaded file into Ray's object store, one object each (engines may be elsewhere)."""
        ray = import_ray()
        files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        return tuple(InputFile(p.name, ray.put(p.read_bytes())) for p in files)

    def _record_outcome(self, rec: JobRecord, outcome: ActorOutcome, staging: Path | None) -> None:
        jid = rec.id
        if self.stopping.is_set() and outcome.state != DONE and not self.journal.cancel_requested(jid):
            # Stopped by the gateway's own shutdown: recovery re-queues it. A job that finished
            # all the same is recorded, as the single engine does, rather than run again.
            return
        if outcome.state == DONE:
            if staging is not None:
                from ..plates.output import publish_version

                version_dir = publish_version(staging, staging.parent)
                result = {
                    "version_dir": str(version_dir),
                    "pattern": str(version_dir / (outcome.pattern_name or "")),
                    "frames": list(outcome.frames),
                }
            else:
                result = outcome.result or {}
            self.journal.finish(jid, DONE, result=result)
        elif outcome.state == CANCELLED:
            self.journal.finish(jid, CANCELLED)
        else:
            self.journal.finish(jid, FAILED, error=outcome.error or "the engine failed without a message")
        self.notify(jid)

    def _engine_died(self, slot: EngineSlot, rec: JobRecord, exc: BaseException, *, started: bool) -> None:
        jid = rec.id
        slot.info, slot.info_asked = None, 0.0  # no work for it until the restarted engine answers
        if self.stopping.is_set():
            return
        self._discard_partial(rec)
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if not started:
            # The engine was gone before the job said anything (it died with an earlier job, or
            # its node went away): not this job's doing, so it does not count against it.
            unavailable = self._unavailable[jid] = self._unavailable.get(jid, 0) + 1
            if unavailable <= _UNAVAILABLE_RETRIES:
                self.journal.requeue(jid, f"engine {slot.index} was unavailable ({type(exc).__name__}); re-queued")
                self.notify(jid)
                self.wake.set()
                return
        deaths = self._deaths[jid] = self._deaths.get(jid, 0) + 1
        what = f"engine {slot.index} died while running this job ({type(exc).__name__}: {reason})"
        log.warning("job %s: %s", jid, what)
        if deaths <= self.cfg.actor_retries:
            self.journal.requeue(jid, f"{what}; re-queued, retry {deaths} of {self.cfg.actor_retries}")
        elif self.journal.cancel_requested(jid):
            self.journal.finish(jid, CANCELLED)
        else:
            self.journal.finish(
                jid,
                FAILED,
                error=f"{what}; engines died {deaths} times running this job, "
                "so it is failed rather than tried on another engine",
            )
        self.notify(jid)
        self.wake.set()

    def _discard_partial(self, rec: JobRecord) -> None:
        """A by-path job's half-written staging folder on the shared storage (the engine cannot)."""
        if rec.spec.upload is not None or not rec.spec.out:
            return
        from ..service.security import check_path

        try:
            discard_staging(check_path(rec.spec.out, list(self.cfg.roots), "job.out"), rec.id)
        except Exception:
            pass
