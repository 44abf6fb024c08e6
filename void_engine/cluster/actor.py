"""One engine as a Ray actor: the model loaded once, jobs run by the single engine's own run_job.

The class is plain Python; :func:`void_engine.cluster.pool.remote_engine_class` wraps it with
``ray.remote`` (``num_gpus=1``, ``max_restarts=-1``, ``max_task_retries=0``) and two concurrency
groups: ``jobs`` (one job at a time, the GPU's) and ``control`` (cancel and info), so a cancel is
served while a job runs. ``run`` is a streaming generator: progress reaches the gateway while the
job runs, not when it ends.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from bridge.protocol import BAD_REQUEST, CANCELLED, DONE, FAILED, JobSpec, ProtocolError

from .messages import ActorEvent, ActorFile, ActorJob, ActorOutcome, ActorSettings, EngineInfo, result_files

log = logging.getLogger("void_engine.cluster.actor")

JOBS_GROUP = "jobs"
CONTROL_GROUP = "control"


def _scratch_root() -> Path:
    """This actor's private scratch folder; the same after a restart, so leftovers are found."""
    try:
        import ray

        actor_id = ray.get_runtime_context().get_actor_id() or f"pid{os.getpid()}"
    except Exception:
        actor_id = f"pid{os.getpid()}"
    return Path(tempfile.gettempdir()) / f"void-engine-actor-{actor_id}"


class EngineActor:
    """A resident engine on one GPU. Public methods are the actor's remote methods."""

    def __init__(self, settings: ActorSettings):
        for mod in settings.plugins:
            importlib.import_module(mod)
        self.settings = settings
        self._backends: dict[str, Any] = {}
        self._backend_errors: dict[str, str] = {}
        self._cancelled: set[str] = set()
        self._buffers: dict[str, list[Any]] = {}  # run_polled's items, until the gateway polls them
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._started = time.time()
        self._scratch = _scratch_root()
        # A restarted actor keeps its id: remove what the incarnation that died was writing.
        shutil.rmtree(self._scratch, ignore_errors=True)
        # The model loads once per actor (and again only when Ray restarts the actor); so does
        # SAM2, inside the actor's own mask stage, on the first job that propagates a roto.
        self._mask_stage = _make_mask_stage(settings.masks)
        self._load(settings.default_backend)

    # -- control group ---------------------------------------------------------------------

    def info(self) -> EngineInfo:
        try:
            import ray

            gpu_ids = tuple(str(g) for g in ray.get_runtime_context().get_accelerator_ids().get("GPU", []))
        except Exception:
            gpu_ids = ()
        return EngineInfo(
            node=socket.gethostname(),
            pid=os.getpid(),
            gpu_ids=gpu_ids,
            backends=tuple(sorted(self._backends)),
            backend_errors=dict(self._backend_errors),
            started=self._started,
        )

    def cancel(self, job_id: str) -> bool:
        """Stop ``job_id`` within one step; remembered if the job has not started here yet."""
        with self._lock:
            self._cancelled.add(job_id)
            flag = self._flags.get(job_id)
        if flag is not None:
            flag.set()
        return flag is not None

    # -- jobs group --------------------------------------------------------------------------

    def run(self, job: ActorJob) -> Iterator[ActorEvent | ActorFile | ActorOutcome]:
        """Run one attempt, yielding progress as it happens and the outcome last.

        run_job calls its ``report`` from deep inside the backend, where a generator cannot yield,
        so the job runs in a thread and this generator relays what the thread puts in a queue.
        """
        flag = threading.Event()
        with self._lock:
            self._flags[job.job_id] = flag
            if job.job_id in self._cancelled:
                flag.set()
        items: queue.SimpleQueue = queue.SimpleQueue()
        worker = threading.Thread(target=self._attempt, args=(job, flag, items), name=f"job-{job.job_id}", daemon=True)
        worker.start()
        try:
            while True:
                item = items.get()
                yield item
                if isinstance(item, ActorOutcome):
                    return
        finally:
            # Reached early only when the gateway dropped the stream: the job must not go on alone.
            flag.set()
            worker.join(timeout=60)
            with self._lock:
                self._flags.pop(job.job_id, None)
                self._cancelled.discard(job.job_id)

    def run_polled(self, job: ActorJob) -> ActorOutcome:
        """:meth:`run` for gateways on Ray Client (``ray://``), which cannot stream from actors:
        the items are kept here and the gateway fetches them with :meth:`poll` while this runs."""
        # One job at a time per engine: whatever an earlier job left unpolled is stale now.
        buffer: list[Any] = []
        with self._lock:
            self._buffers = {job.job_id: buffer}
        outcome: ActorOutcome | None = None
        for item in self.run(job):
            buffer.append(item)
            if isinstance(item, ActorOutcome):
                outcome = item
        assert outcome is not None
        return outcome

    def poll(self, job_id: str, after: int) -> list[Any]:
        """Items of ``job_id``'s :meth:`run_polled` from index ``after`` on."""
        with self._lock:
            return list(self._buffers.get(job_id, [])[after:])

    # -- inside ------------------------------------------------------------------------------

    def _load(self, name: str) -> Any:
        if name in self._backends:
            return self._backends[name]
        from void_engine.backends import BackendSettings, make_backend

        s = self.settings
        try:
            backend = make_backend(
                name,
                BackendSettings(
                    model=Path(s.model) if s.model else None,
                    device=s.device,
                    memory_mode=s.memory_mode,
                    window_frames=s.window_frames,
                    attention_backend=s.attention_backend,
                    compile_blocks=s.compile_blocks,
                    compile_cache_dir=Path(s.compile_cache_dir) if s.compile_cache_dir else None,
                ),
            )
        except Exception as exc:  # reported by info() and by the jobs that need this backend
            self._backend_errors[name] = f"{type(exc).__name__}: {exc}"
            log.error("backend %s failed to load: %s", name, exc)
            return None
        self._backend_errors.pop(name, None)
        self._backends[name] = backend
        return backend

    def _attempt(self, job: ActorJob, flag: threading.Event, items: queue.SimpleQueue) -> None:
        from void_engine.progress import Cancelled
        from void_engine.service.admission import resolve_job
        from void_engine.service.runner import discard_staging, run_job

        s = self.settings
        spec = JobSpec.from_wire(job.spec)
        work = self._scratch / job.job_id
        out_root: Path | None = None

        def report(kind: str, **fields: Any) -> None:
            items.put(ActorEvent(kind, fields))

        try:
            report("stage", stage="resolve", step=0, total=1)
            if job.inputs is not None:
                inputs = self._receive_inputs(job, work / "inputs")
                resolved = resolve_job(spec, [], inputs_dir=inputs, results_dir=work / "out")
            else:
                # Checked again here (not only at the gateway): a symlink swapped in since is caught.
                resolved = resolve_job(spec, [Path(r) for r in s.roots])
            out_root = resolved.out_root
            discard_staging(out_root, job.job_id)  # left by an attempt whose actor died
            name = spec.backend or s.default_backend
            backend = self._load(name)
            if backend is None:
                raise RuntimeError(f"backend {name!r} is unavailable: {self._backend_errors.get(name)}")
            extra = {"mask_stage": self._mask_stage} if self._mask_stage is not None else {}
            output = run_job(
                job.job_id,
                resolved,
                backend,
                prompt=spec.prompt,
                seed=spec.seed,
                steps=spec.steps or s.default_steps,
                report=report,
                cancel=flag.is_set,
                backend_name=name,
                settings=s.shot_settings,
                **extra,
            )
            if job.inputs is None:
                items.put(ActorOutcome(DONE, result=output.to_result()))
                return
            for rel in result_files(output.version_dir):
                if flag.is_set():
                    raise _Stopped()
                items.put(ActorFile(rel, (output.version_dir / rel).read_bytes()))
            items.put(ActorOutcome(DONE, pattern_name=Path(output.pattern).name, frames=tuple(output.frames)))
        except BaseException as exc:
            if out_root is not None:
                discard_staging(out_root, job.job_id)
            if isinstance(exc, Cancelled) or flag.is_set():
                items.put(ActorOutcome(CANCELLED))
            else:
                msg = exc.message if isinstance(exc, ProtocolError) else f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, (ProtocolError, ValueError, OSError)):
                    log.exception("job %s failed", job.job_id)
                items.put(ActorOutcome(FAILED, error=msg))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _receive_inputs(self, job: ActorJob, folder: Path) -> Path:
        """Write the uploaded files that came through the object store into a private folder."""
        import ray

        folder.mkdir(parents=True, exist_ok=True)
        assert job.inputs is not None
        for f in job.inputs:
            if "/" in f.name or f.name.startswith("."):
                raise ProtocolError(BAD_REQUEST, f"input file name {f.name!r} is not a plain file name", "job.upload")
            data: bytes = ray.get(f.data)  # type: ignore[assignment]  # one ref in, its bytes out
            (folder / f.name).write_bytes(data)
        return folder


def _make_mask_stage(mask_settings: Any) -> Any:
    """The engine's resident mask stage, when this build has one (run_job then takes it)."""
    import inspect

    from void_engine.service import runner

    if "mask_stage" not in inspect.signature(runner.run_job).parameters:
        return None
    from void_engine.service.mask_stage import MaskStage

    return MaskStage(mask_settings)


class _Stopped(Exception):
    """The gateway stopped listening while result files were being sent."""

    def __init__(self) -> None:
        super().__init__("stopped while sending results")
