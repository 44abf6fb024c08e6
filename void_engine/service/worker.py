"""The engine's single GPU worker: it takes queued jobs from the journal, one on the GPU at a time.

It is the single engine's :class:`~.job_runner.JobRunner`. It never touches the socket: after
every stored event it calls ``notify(job_id)`` and the socket loop passes the news on. A job that
ends — done, failed or cancelled — is recorded in the journal before anyone is told.

Pipelined (``[worker] pipeline = true``, the default), three threads overlap three jobs: one
prepares job N+1 (claim, quadmask, plate read), the worker itself runs job N's model, one writes
and publishes job N-1; the frames of a read or a write run in parallel on a bounded I/O pool. A
job is claimed (``running``) when its preparation starts, and done only once its version folder
is published, exactly as in the serial worker, so cancel, progress and crash recovery are the
same. :class:`MemoryBudget` caps the frames the prepared and pending jobs hold. Serial
(``pipeline = false``): each job is read, run and written before the next is claimed.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

from bridge.protocol import CANCELLED, DONE, FAILED, TERMINAL_STATES, ProtocolError

from ..backends import Backend
from ..config import MaskSettings, PipelineSettings
from ..progress import Cancelled
from .admission import resolve_job
from .job_runner import BackendState, Notify, backend_state
from .journal import JobRecord, Journal
from .mask_stage import MaskStage, needs_sam2
from .runner import JobOutput, JobRun, discard_staging

log = logging.getLogger("void_engine.service.worker")


class MemoryBudget:
    """Bytes of frames held by the jobs in the pipeline, capped.

    :meth:`acquire` waits until the bytes asked for fit under the cap, or until nothing else is
    held (a job larger than the cap still runs, alone), so a long queue of 4K shots cannot
    prepare itself into all of the machine's memory.
    """

    def __init__(self, cap: int):
        self.cap = cap
        self.held = 0
        self.peak = 0  # the most held at once (benchmarks report it)
        self._cond = threading.Condition()

    def acquire(self, n: int, abort: Callable[[], bool], poll_s: float = 0.2) -> bool:
        """Hold ``n`` more bytes once they fit; False (nothing held) if ``abort()`` turns true first."""
        with self._cond:
            while self.held and self.held + n > self.cap:
                if abort():
                    return False
                self._cond.wait(poll_s)
            self.held += n
            self.peak = max(self.peak, self.held)
            return True

    def adjust(self, old: int, new: int) -> None:
        """Change a hold of ``old`` bytes to ``new`` at once (a job's estimate to what it holds)."""
        with self._cond:
            self.held = max(0, self.held - old + new)
            self.peak = max(self.peak, self.held)
            self._cond.notify_all()

    def release(self, n: int) -> None:
        with self._cond:
            self.held = max(0, self.held - n)
            self._cond.notify_all()


class _Slot:
    """A job inside the pipeline: its record, its run, and the bytes it holds in the budget."""

    def __init__(self, rec: JobRecord, run: JobRun, backend_name: str, job_dir: Path, by_value: bool):
        self.rec, self.run, self.backend_name = rec, run, backend_name
        self.job_dir, self.by_value = job_dir, by_value
        self.held = 0


class WorkerThread(threading.Thread):
    """The one GPU worker: takes queued jobs from the journal, in priority order, one on the GPU
    at a time; with a pipeline, the next job's read and the last job's write overlap the model.

    ``notify(job_id)`` is called after every stored event so the socket loop can pass it on;
    the worker never touches the socket itself. Only the worker's threads move a job they claimed
    out of ``running``, each job by one thread at a time, so a ``finish`` is never refused by the journal.
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
        pipeline: PipelineSettings | None = None,
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
        self.pipeline = pipeline or PipelineSettings(enabled=False)
        # One per engine: SAM2 loads on the first job that propagates and stays resident.
        self.mask_stage = MaskStage(masks)
        self.wake = threading.Event()  # set by the loop after a submit: look at the queue now
        self.stopping = threading.Event()  # the engine is shutting down: take nothing, stop the job
        self.current: str | None = None  # the job on the GPU, if any
        self._backends: dict[str, Backend] = {}  # loaded backends by name, resident for the engine's life
        self.backend_errors: dict[str, str] = {}  # why a backend failed to load, by name
        self.budget = MemoryBudget(self.pipeline.memory_bytes)
        # Hand-offs between the pipeline's threads: one prepared job waits for the GPU, one
        # computed job waits for the writer (more would only hold more memory).
        self._to_gpu: queue.Queue[_Slot] = queue.Queue(maxsize=1)
        self._to_write: queue.Queue[_Slot] = queue.Queue(maxsize=1)
        self._helpers: list[threading.Thread] = []
        # Held by the model run, and by the preparation of a job whose quadmask SAM2 propagates on
        # the GPU: one job's work on the GPU at a time, whichever thread does it.
        self._gpu_lock = threading.Lock()

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

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        for helper in self._helpers:
            helper.join(timeout)

    def run(self) -> None:
        if not self.pipeline.enabled:
            self.preload(self.default_backend)
            while not self.stopping.is_set():
                rec = self._claim()
                if rec is not None:
                    self._run_serial(rec)
            return
        # The plate layer (numpy, OpenImageIO) is imported on the worker's threads, not with this
        # module: the socket loop imports it only once a worker runs.
        from void_engine.plates.exr import set_io_threads

        set_io_threads(self.pipeline.io_threads)
        with ThreadPoolExecutor(self.pipeline.io_threads, thread_name_prefix="void-io") as pool:
            self._helpers = [
                threading.Thread(target=self._prepare_loop, args=(pool,), name="void-prepare", daemon=True),
                threading.Thread(target=self._write_loop, args=(pool,), name="void-write", daemon=True),
            ]
            for helper in self._helpers:
                helper.start()
            self.preload(self.default_backend)
            self._gpu_loop()
            for helper in self._helpers:
                helper.join()

    # -- one job -------------------------------------------------------------------------------

    def _claim(self) -> JobRecord | None:
        """The next queued job, now running, or None after a short wait for one."""
        rec = self.journal.claim_next()
        if rec is None:
            self.wake.wait(0.5)
            self.wake.clear()
            return None
        self.notify(rec.id)
        return rec

    def _report(self, jid: str) -> Callable[..., None]:
        def report(kind: str, **fields: Any) -> None:
            self.journal.add_event(jid, kind=kind, **fields)
            self.notify(jid)

        return report

    def _cancel(self, jid: str) -> Callable[[], bool]:
        return lambda: self.stopping.is_set() or self.journal.cancel_requested(jid)

    def _begin(self, rec: JobRecord) -> _Slot:
        """Resolve a claimed job's paths (again: a symlink may have been swapped in since the
        submit), check its backend, and set up its run."""
        jid, spec = rec.id, rec.spec
        job_dir = self.state_dir / "jobs" / jid
        by_value = spec.upload is not None
        self._report(jid)("stage", stage="resolve", step=0, total=1)
        job = resolve_job(
            spec,
            self.roots,
            inputs_dir=job_dir / "inputs" if by_value else None,
            results_dir=job_dir / "out" if by_value else None,
        )
        discard_staging(job.out_root, jid)  # left by an attempt that died with the engine
        name = spec.backend or self.default_backend
        if name in self.backend_errors and name not in self._backends:
            raise RuntimeError(f"backend {name!r} is unavailable: {self.backend_errors[name]}")
        run = JobRun(
            jid,
            job,
            prompt=spec.prompt,
            seed=spec.seed,
            steps=spec.steps or self.default_steps,
            report=self._report(jid),
            cancel=self._cancel(jid),
            backend_name=name,
            settings=self.settings,
            mask_stage=self.mask_stage,
        )
        return _Slot(rec, run, name, job_dir, by_value)

    def _end(self, rec: JobRecord, exc: BaseException | None, output: JobOutput | None = None) -> None:
        """Record how an attempt ended: done with ``output``, or failed/cancelled by ``exc``. When the
        engine is shutting down the job is left ``running``, for the next start's recovery."""
        jid = rec.id
        if exc is None:
            assert output is not None
            self.journal.finish(jid, DONE, result=output.to_result())
        elif self.stopping.is_set() and not self.journal.cancel_requested(jid):
            return  # engine shutting down: leave the job "running" so recovery re-queues it
        elif isinstance(exc, Cancelled) or self.journal.cancel_requested(jid):
            self.journal.finish(jid, CANCELLED)
        else:
            msg = exc.message if isinstance(exc, ProtocolError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, (ProtocolError, ValueError, OSError)):
                log.error("job %s failed:\n%s", jid, "".join(traceback.format_exception(exc)))
            self.journal.finish(jid, FAILED, error=msg)
        self.notify(jid)
        now = self.journal.get(jid)
        if rec.spec.upload is not None and now is not None and now.state in TERMINAL_STATES:
            # Uploaded inputs are only needed to (re)run the job; results stay fetchable.
            shutil.rmtree(self.state_dir / "jobs" / jid / "inputs", ignore_errors=True)

    def _fail(self, slot: _Slot | None, rec: JobRecord, exc: BaseException) -> None:
        """An attempt that raised: discard what it wrote and held, record it, re-raise a non-Exception."""
        if slot is not None:  # else resolve failed, before anything was written
            slot.run.discard()
            self.budget.release(slot.held)
            slot.held = 0
        self._end(rec, exc)
        if not isinstance(exc, Exception):
            raise exc

    def _run_serial(self, rec: JobRecord) -> None:
        slot: _Slot | None = None
        self.current = rec.id
        try:
            slot = self._begin(rec)
            backend = self.backend(slot.backend_name)
            slot.run.check_backend(backend)  # before any work, as a job the backend cannot run
            slot.run.prepare()
            slot.run.infer(backend)
            output = slot.run.write()
        except BaseException as exc:
            self._fail(slot, rec, exc)
            return
        finally:
            self.current = None
        self._end(rec, None, output)

    # -- the pipeline's three threads ----------------------------------------------------------

    def _hand_over(self, q: queue.Queue[_Slot], slot: _Slot) -> bool:
        """Put ``slot`` on ``q`` once there is room. Meanwhile a cancel of the waiting job ends it
        here (it is not left waiting behind a long model run): False, and the job is finished."""
        cancel = self._cancel(slot.rec.id)
        while True:
            try:
                q.put(slot, timeout=0.2)
                return True
            except queue.Full:
                if cancel():
                    self._fail(slot, slot.rec, Cancelled(f"job {slot.rec.id} cancelled"))
                    return False

    def _take(self, q: queue.Queue[_Slot]) -> _Slot | None:
        try:
            return q.get(timeout=0.2)
        except queue.Empty:
            return None

    def _prepare_loop(self, pool: ThreadPoolExecutor) -> None:
        from void_engine.plates.shot import executor_frame_map

        while not self.stopping.is_set():
            # Claim only with room in the budget: a claimed job waits as "running".
            if self.budget.held >= self.budget.cap:
                self.stopping.wait(0.2)
                continue
            rec = self._claim()
            if rec is None:
                continue
            slot: _Slot | None = None
            try:
                slot = self._begin(rec)
                estimate = slot.run.estimate_bytes()
                if not self.budget.acquire(estimate, slot.run.cancel):
                    raise Cancelled(f"job {rec.id} cancelled")
                slot.held = estimate
                masks = rec.spec.mask_spec()
                # SAM2 runs for a propagated roto, and refines the reasoner's regions.
                with self._gpu_lock if needs_sam2(masks) or masks.instruction else nullcontext():
                    slot.run.prepare(executor_frame_map(pool))
                # From the estimate to what the shot holds, plus the model's result to come.
                self.budget.adjust(slot.held, slot.run.pending_bytes)
                slot.held = slot.run.pending_bytes
            except BaseException as exc:
                self._fail(slot, rec, exc)
                continue
            self._hand_over(self._to_gpu, slot)

    def _gpu_loop(self) -> None:
        while not self.stopping.is_set():
            slot = self._take(self._to_gpu)
            if slot is None:
                continue
            self.current = slot.rec.id
            try:
                slot.run.check_cancel()
                with self._gpu_lock:
                    slot.run.infer(self.backend(slot.backend_name))
            except BaseException as exc:
                self._fail(slot, slot.rec, exc)
                continue
            finally:
                self.current = None
            self._hand_over(self._to_write, slot)

    def _write_loop(self, pool: ThreadPoolExecutor) -> None:
        from void_engine.plates.shot import executor_frame_map

        while not self.stopping.is_set():
            slot = self._take(self._to_write)
            if slot is None:
                continue
            try:
                output = slot.run.write(executor_frame_map(pool))
            except BaseException as exc:
                self._fail(slot, slot.rec, exc)
                continue
            self.budget.release(slot.held)
            slot.held = 0
            self._end(slot.rec, None, output)
