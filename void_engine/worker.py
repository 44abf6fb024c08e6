"""Running one job: resolve inputs -> build the quadmask -> read the shot -> backend -> write.

:func:`resolve_job` checks a job's paths against the roots (at submit and again at run time, so
a symlink swapped in between is still caught). :func:`run_job` does the work and reports progress
per I/O stage and per denoising step. Output is written into a hidden staging folder next to the
versions and renamed to the next free ``v###`` only when complete, so a cancelled, failed or
killed job never leaves a partial EXR where an artist looks. The quadmask the job ran with (built
from whatever mask mode it carried) is written beside its result, in ``v###/quadmask/``. :class:`WorkerThread` is the
engine's single GPU worker: it takes queued jobs from the journal one at a time.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from bridge.protocol import (BAD_REQUEST, CANCELLED, DONE, FAILED, NOT_FOUND, TERMINAL_STATES, JobMasks, JobSpec,
                             ProtocolError)
from bridge.transfer import default_output_name

from . import __version__
from .backends import Backend, BackendSettings, Cancelled, is_cancellation, pass2_problem
from .config import MaskSettings
from .mask_stage import MaskStage, needs_sam2
from .security import check_path, check_pattern, expand_frame

log = logging.getLogger("void_engine.worker")

STAGING_PREFIX = ".void-partial-"

# report(kind, **fields): kind "stage" (stage=, step=, total=) or "step" (window=, step=, total=)
Report = Callable[..., None]


QUADMASK_FOLDER = "quadmask"


@dataclass(frozen=True)
class ResolvedJob:
    """A job's inputs as absolute, checked paths (``masks`` too)."""

    plate: str
    frames: tuple[int, ...]
    masks: JobMasks
    out_root: Path
    name: str
    pass2: bool = False


def resolve_job(spec: JobSpec, roots: list[Path], *, inputs_dir: Path | None = None,
                results_dir: Path | None = None) -> ResolvedJob:
    """Check every path of ``spec`` and return them resolved.

    By value (``inputs_dir`` given), patterns name files inside ``inputs_dir`` and results go to
    ``results_dir``. Raises ProtocolError (``unauthorised`` for paths outside the roots,
    ``not_found`` naming the first missing frame file). A roto is checked on its key frames only.
    """
    by_value = inputs_dir is not None
    in_roots: list[Path] = [inputs_dir] if inputs_dir is not None else roots

    def seq(field: str, pattern: str, frames: tuple[int, ...]) -> str:
        resolved = check_pattern(pattern, frames, in_roots, field, relative_to=inputs_dir)
        for frame in frames:
            path = expand_frame(resolved, frame)
            if not os.path.isfile(path):
                raise ProtocolError(NOT_FOUND, f"field '{field}': frame {frame} is missing ({path})", field)
        return resolved

    plate = seq("job.plate", spec.plate, spec.frames)
    masks = spec.mask_spec()
    prefix = "job.masks." if spec.masks is not None else "job."
    masks = replace(masks, **{role: seq(prefix + role, pattern, frames)
                              for role, (pattern, frames) in masks.sequences(spec.frames).items()})
    if by_value:
        assert results_dir is not None
        out_root = results_dir
    else:
        out_root = check_path(spec.out or "", roots, "job.out")
        if out_root.exists() and not out_root.is_dir():
            raise ProtocolError(NOT_FOUND, f"field 'job.out': {out_root} exists and is not a folder", "job.out")
    return ResolvedJob(plate=plate, frames=spec.frames, masks=masks, out_root=Path(out_root),
                       name=spec.name or default_output_name(spec.plate), pass2=spec.pass2)


def check_capabilities(spec: JobSpec, *, backend: str, backend_settings: BackendSettings,
                       mask_stage: MaskStage) -> None:
    """Refuse at submit time what this engine cannot run, naming the field and what to change."""
    if spec.pass2:
        problem = pass2_problem(spec.backend or backend, backend_settings)
        if problem is not None:
            raise ProtocolError(BAD_REQUEST, f"field 'job.pass2': this engine cannot run pass 2: {problem}",
                                "job.pass2")
    masks = spec.mask_spec()
    if needs_sam2(masks):
        problem = mask_stage.sam2_problem()
        if problem is not None:
            raise ProtocolError(BAD_REQUEST, f"field 'job.masks.mode': this engine cannot propagate a roto: "
                                             f"{problem}", "job.masks.mode")


def engine_capabilities(*, backend: str, backend_settings: BackendSettings,
                        mask_stage: MaskStage) -> dict[str, Any]:
    """What ``hello`` adds about masks and passes (file checks only; nothing is loaded)."""
    modes = ["quadmask", "mattes"]
    sam2 = mask_stage.sam2_problem() is None
    if sam2:
        modes.append("propagate")
    modes.append("reason")  # with mattes it needs no SAM2; without a key it is skipped, not refused
    problem = pass2_problem(backend, backend_settings)
    return {"mask_modes": modes, "sam2": sam2, "reasoner": mask_stage.api_key() is not None,
            "pass2": problem is None, "pass2_error": problem}


@dataclass(frozen=True)
class JobOutput:
    """Where a finished job's frames are."""

    version_dir: Path
    pattern: str
    frames: tuple[int, ...]

    def to_result(self) -> dict[str, Any]:
        return {"version_dir": str(self.version_dir), "pattern": self.pattern, "frames": list(self.frames)}


def staging_dir(out_root: Path, job_id: str) -> Path:
    return Path(out_root) / f"{STAGING_PREFIX}{job_id}"


def discard_staging(out_root: Path, job_id: str) -> None:
    """Remove what an interrupted attempt of ``job_id`` wrote (no partial output survives)."""
    shutil.rmtree(staging_dir(out_root, job_id), ignore_errors=True)


# Written into the staging folder just before it is renamed to v###, so it travels with the
# atomic rename: a re-run of a job whose engine died between publishing and recording "done"
# finds its own published version instead of computing a duplicate v002.
PUBLISHED_MARKER = ".void-job.json"


def find_published(out_root: Path, job_id: str) -> JobOutput | None:
    """The version an earlier attempt of ``job_id`` already published under ``out_root``, if any."""
    from void_engine.plates.output import existing_versions

    for version in existing_versions(Path(out_root)):
        folder = Path(out_root) / f"v{version:03d}"
        try:
            marker = json.loads((folder / PUBLISHED_MARKER).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(marker, dict) and marker.get("job") == job_id:
            return JobOutput(folder, str(folder / marker["pattern"]), tuple(marker["frames"]))
    return None


def run_job(job_id: str, job: ResolvedJob, backend: Backend, *, prompt: str, seed: int, steps: int,
            report: Report, cancel: Callable[[], bool], backend_name: str = "",
            settings: Any = None, mask_stage: MaskStage | None = None) -> JobOutput:
    """Run one job to a published output sequence.

    Stages: ``masks`` (the quadmask, built by ``mask_stage`` from whatever the job carries, with
    its sub-stages ``mask-read``/``propagate``/``reason``), ``read``, ``model`` (pass 1),
    ``pass2`` when the job asks for it, ``write``. Raises :class:`Cancelled` when ``cancel()``
    turns true (checked per step/frame and between stages; the staging folder is removed),
    PlateError/QuadmaskError for bad inputs.
    """
    from void_engine.plates import FrameSequence, Shot, ShotSettings
    from void_engine.plates.output import publish_version

    if isinstance(settings, dict):
        settings = ShotSettings(**settings)
    shot_settings = settings if settings is not None else ShotSettings()
    mask_stage = mask_stage or MaskStage()

    def check_cancel() -> None:
        if cancel():
            raise Cancelled(f"job {job_id} cancelled")

    def stage_progress(stage: str, done: int, total: int) -> None:
        report("stage", stage=stage, step=done, total=total)
        check_cancel()

    def step_progress(window: int, step: int, total: int) -> None:
        report("step", window=window, step=step, total=total)
        # Stop within one step even if a backend ignores cancel().
        check_cancel()

    published = find_published(job.out_root, job_id)
    if published is not None:
        report("log", message=f"result already published by an earlier attempt: {published.version_dir.name}")
        return published
    refine = getattr(backend, "refine", None)
    if job.pass2 and refine is None:
        raise ValueError(f"job.pass2: the {backend_name or 'chosen'} backend has no pass 2")
    staging = staging_dir(job.out_root, job_id)
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        plate_seq = FrameSequence(job.plate, job.frames)
        report("stage", stage="masks", step=0, total=1)
        quad_rel = f"{QUADMASK_FOLDER}/{job.name}_quadmask.####.exr"
        built = mask_stage.build(job.masks, plate_seq, str(staging / quad_rel), shot_settings=shot_settings,
                                 report=stage_progress, cancel=cancel)
        for note in built.notes:
            report("log", message=note)
        report("stage", stage="masks", step=1, total=1)
        check_cancel()
        report("stage", stage="read", step=0, total=len(job.frames))
        shot = Shot.load(plate_seq, built.masks, settings, progress=stage_progress)
        # The shot keeps the ROI crops it needs; the full-resolution quadmasks (GBs on a long 4K
        # shot) must not stay alive through the model run.
        built.masks.clear()
        check_cancel()
        report("stage", stage="model", step=0, total=steps)
        result = backend.run(shot.model_video, shot.model_quadmask, prompt, seed=seed, steps=steps,
                             progress=step_progress, cancel=cancel)
        check_cancel()
        if job.pass2:
            assert refine is not None
            report("stage", stage="pass2", step=0, total=steps)
            result = refine(shot.model_video, shot.model_quadmask, prompt, result, seed=seed, steps=steps,
                            progress=step_progress, cancel=cancel)
            check_cancel()
        report("stage", stage="write", step=0, total=len(job.frames))
        provenance = {"job": job_id, "seed": str(seed), "prompt": prompt, "steps": str(steps),
                      "backend": backend_name, "engine": __version__,
                      "passes": "1+2" if job.pass2 else "1",
                      # How the quadmask was made, and where the one used sits (beside the frames).
                      "mask_source": built.source, "quadmask": quad_rel}
        if job.masks.keyframes:
            provenance["mask_keyframes"] = ",".join(map(str, job.masks.keyframes))
        written = shot.write_result(result, job.out_root, job.name, provenance, version_dir=staging,
                                    progress=stage_progress)
        check_cancel()
        name = Path(written.pattern).name
        (staging / PUBLISHED_MARKER).write_text(json.dumps({"job": job_id, "pattern": name,
                                                            "frames": list(written.frames)}))
        final = publish_version(staging, job.out_root)
        return JobOutput(final, str(final / name), tuple(written.frames))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


class WorkerThread(threading.Thread):
    """The one GPU worker: takes queued jobs from the journal, one at a time, in priority order.

    ``notify(job_id)`` is called after every stored event so the socket loop can pass it on;
    the worker never touches the socket itself.
    """

    def __init__(self, journal: Any, make_backend: Callable[[str], Backend], *, default_backend: str,
                 default_steps: int, roots: list[Path], state_dir: Path,
                 notify: Callable[[str], None], settings: Any = None, masks: MaskSettings | None = None):
        super().__init__(name="void-worker", daemon=True)
        self.journal = journal
        self.make_backend = make_backend
        self.default_backend = default_backend
        self.default_steps = default_steps
        self.roots = roots
        self.state_dir = state_dir
        self.notify = notify
        self.settings = settings
        # One per engine: SAM2 loads on the first job that propagates and stays resident.
        self.mask_stage = MaskStage(masks)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.current: str | None = None
        self._backends: dict[str, Backend] = {}
        self.backend_errors: dict[str, str] = {}

    def backend(self, name: str) -> Backend:
        """The resident backend ``name``, made on first use (the model loads once)."""
        if name not in self._backends:
            self._backends[name] = self.make_backend(name)
        return self._backends[name]

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

    def _run_one(self, rec: Any) -> None:
        jid, spec = rec.id, rec.spec
        job_dir = self.state_dir / "jobs" / jid
        by_value = spec.upload is not None
        self._attempt(rec, job_dir, by_value)
        if by_value and self.journal.get(jid).state in TERMINAL_STATES:
            # Uploaded inputs are only needed to (re)run the job; results stay fetchable.
            shutil.rmtree(job_dir / "inputs", ignore_errors=True)

    def _attempt(self, rec: Any, job_dir: Path, by_value: bool) -> None:
        jid, spec = rec.id, rec.spec

        def report(kind: str, **fields: Any) -> None:
            self.journal.add_event(jid, kind=kind, **fields)
            self.notify(jid)

        def cancel() -> bool:
            return self.stopping.is_set() or self.journal.cancel_requested(jid)

        out_root: Path | None = None
        try:
            report("stage", stage="resolve", step=0, total=1)
            job = resolve_job(spec, self.roots, inputs_dir=job_dir / "inputs" if by_value else None,
                              results_dir=job_dir / "out" if by_value else None)
            out_root = job.out_root
            discard_staging(out_root, jid)  # left by an attempt that died with the engine
            name = spec.backend or self.default_backend
            if name in self.backend_errors and name not in self._backends:
                raise RuntimeError(f"backend {name!r} is unavailable: {self.backend_errors[name]}")
            backend = self.backend(name)
            output = run_job(jid, job, backend, prompt=spec.prompt, seed=spec.seed,
                             steps=spec.steps or self.default_steps, report=report, cancel=cancel,
                             backend_name=name, settings=self.settings, mask_stage=self.mask_stage)
        except BaseException as exc:
            if self.stopping.is_set() and not self.journal.cancel_requested(jid):
                # Engine shutting down: leave the job "running" so recovery re-queues it.
                return
            if is_cancellation(exc) or self.journal.cancel_requested(jid):
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
