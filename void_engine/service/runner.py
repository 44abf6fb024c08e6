"""Running one job: build the quadmask -> read the shot -> backend -> write -> publish.

:func:`run_job` does the work and reports progress per I/O stage and per denoising step. Output
is written into a hidden staging folder next to the versions and renamed to the next free
``v###`` only when complete, so a cancelled, failed or killed job never leaves a partial EXR where
an artist looks. The quadmask the job ran with (built from whatever mask mode it carried) is
written beside its result, in ``v###/quadmask/``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bridge.versions import existing_versions, version_name

from .. import __version__
from ..backends import Backend
from ..progress import CancelFn, Cancelled
from .admission import ResolvedJob
from .mask_stage import MaskStage

STAGING_PREFIX = ".void-partial-"

# report(kind, **fields): kind "stage" (stage=, step=, total=) or "step" (window=, step=, total=)
Report = Callable[..., None]


QUADMASK_FOLDER = "quadmask"


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
    for version in existing_versions(Path(out_root)):
        folder = Path(out_root) / version_name(version)
        try:
            marker = json.loads((folder / PUBLISHED_MARKER).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(marker, dict) and marker.get("job") == job_id:
            return JobOutput(folder, str(folder / marker["pattern"]), tuple(marker["frames"]))
    return None


class JobRun:
    """One attempt of one job, in the three phases a pipelined worker overlaps.

    :meth:`prepare` (plate I/O: the published check, the staging folder, the quadmask, the ROI
    read), :meth:`infer` (the GPU: pass 1 and pass 2) and :meth:`write` (plate I/O: composite,
    write, publish) run in that order, each at most once, possibly on different threads. Each
    reports its stages as :func:`run_job` does and raises :class:`Cancelled` when ``cancel()``
    turns true; a phase that raises removes the staging folder, so nothing partial survives.
    ``frame_map`` runs a phase's frames (``plates.shot.FrameMap``; default one after another).
    """

    def __init__(
        self,
        job_id: str,
        job: ResolvedJob,
        *,
        prompt: str,
        seed: int,
        steps: int,
        report: Report,
        cancel: CancelFn,
        backend_name: str = "",
        settings: Any = None,
        mask_stage: MaskStage | None = None,
    ):
        from void_engine.plates import ShotSettings

        self.job_id, self.job = job_id, job
        self.prompt, self.seed, self.steps = prompt, seed, steps
        self.report, self.cancel = report, cancel
        self.backend_name = backend_name
        if isinstance(settings, dict):
            settings = ShotSettings(**settings)
        self.shot_settings = settings if settings is not None else ShotSettings()
        self.mask_stage = mask_stage or MaskStage()
        self.staging = staging_dir(job.out_root, job_id)
        self.output: JobOutput | None = None  # set by prepare when an earlier attempt published it
        self.shot: Any = None  # plates.Shot, from prepare
        self.result: Any = None  # the model's frames, from infer
        self._mask_source = ""
        self._needed = 0  # bytes the output takes on disk, about (from prepare)

    def check_cancel(self) -> None:
        if self.cancel():
            raise Cancelled(f"job {self.job_id} cancelled")

    def _stage_progress(self, stage: str, done: int, total: int) -> None:
        self.report("stage", stage=stage, step=done, total=total)
        self.check_cancel()

    def _step_progress(self, window: int, step: int, total: int) -> None:
        self.report("step", window=window, step=step, total=total)
        # Stop within one step even if a backend ignores cancel().
        self.check_cancel()

    @property
    def pending_bytes(self) -> int:
        """Bytes of frames this run holds from :meth:`prepare` to :meth:`write`: the prepared shot
        and the model's result (as large as the model's input video)."""
        if self.shot is None:
            return 0
        return int(self.shot.nbytes + self.shot.model_video.nbytes)

    def estimate_bytes(self) -> int:
        """What :meth:`prepare` will hold at most, from the plate's first header: the full-size
        quadmasks while they are built and cropped, and the model-size arrays (0 when the header
        cannot be read: :meth:`prepare` then fails with the reason)."""
        from void_engine.plates import FrameSequence, PlateError, read_spec

        frames = self.job.frames
        try:
            display = read_spec(FrameSequence(self.job.plate, frames).path(frames[0])).display_window
        except (PlateError, OSError):
            return 0
        mh, mw = self.shot_settings.model_size
        # Per frame: the mask stage's remove and affected regions and the quadmask, and the ROI
        # crop (<= 4 bytes a plate pixel); video and result (12 bytes a model pixel each) and the
        # model quadmask (1).
        return len(frames) * (4 * display.width * display.height + 25 * mh * mw)

    def check_backend(self, backend: Backend) -> None:
        """Refuse a backend that cannot run this job (pass 2 asked of one without it), unless an
        earlier attempt already published the result."""
        if self.job.pass2 and getattr(backend, "refine", None) is None:
            if find_published(self.job.out_root, self.job_id) is None:
                raise ValueError(f"job.pass2: the {self.backend_name or 'chosen'} backend has no pass 2")

    def prepare(self, frame_map: Any = None) -> None:
        """The quadmask and the model's inputs, read from the plate (or the version an earlier
        attempt already published, and nothing else: then :meth:`infer` and :meth:`write` do nothing)."""
        from void_engine.plates import FrameSequence, Shot
        from void_engine.plates.space import check_free_space, estimate_output_bytes

        job = self.job
        published = find_published(job.out_root, self.job_id)
        if published is not None:
            self.report("log", message=f"result already published by an earlier attempt: {published.version_dir.name}")
            self.output = published
            return
        plate_seq = FrameSequence(job.plate, job.frames)
        self._needed = estimate_output_bytes(plate_seq)
        try:
            shutil.rmtree(self.staging, ignore_errors=True)
            check_free_space(job.out_root, self._needed)
            self.staging.mkdir(parents=True)
            self.report("stage", stage="masks", step=0, total=1)
            built = self.mask_stage.build(
                job.masks,
                plate_seq,
                str(self.staging / self.quadmask_rel),
                shot_settings=self.shot_settings,
                report=self._stage_progress,
                cancel=self.cancel,
            )
            for note in built.notes:
                self.report("log", message=note)
            self._mask_source = built.source
            self.report("stage", stage="masks", step=1, total=1)
            self.check_cancel()
            self.report("stage", stage="read", step=0, total=len(job.frames))
            self.shot = Shot.load(
                plate_seq, built.masks, self.shot_settings, progress=self._stage_progress, frame_map=frame_map
            )
            # The shot keeps the ROI crops it needs; the full-resolution quadmasks (GBs on a long 4K
            # shot) must not stay alive through the model run.
            built.masks.clear()
            self.check_cancel()
        except BaseException as exc:
            self._failed(exc)
            raise

    @property
    def quadmask_rel(self) -> str:
        return f"{QUADMASK_FOLDER}/{self.job.name}_quadmask.####.exr"

    def infer(self, backend: Backend) -> None:
        """Run ``backend`` on the prepared shot: pass 1, then pass 2 when the job asks for it."""
        if self.output is not None:
            return
        try:
            self.check_backend(backend)
            refine = getattr(backend, "refine", None)
            shot, steps = self.shot, self.steps
            self.report("stage", stage="model", step=0, total=steps)
            result = backend.run(
                shot.model_video,
                shot.model_quadmask,
                self.prompt,
                seed=self.seed,
                steps=steps,
                progress=self._step_progress,
                cancel=self.cancel,
            )
            self.check_cancel()
            if self.job.pass2:
                assert refine is not None
                self.report("stage", stage="pass2", step=0, total=steps)
                result = refine(
                    shot.model_video,
                    shot.model_quadmask,
                    self.prompt,
                    result,
                    seed=self.seed,
                    steps=steps,
                    progress=self._step_progress,
                    cancel=self.cancel,
                )
                self.check_cancel()
            self.result = result
        except BaseException:
            self.discard()
            raise

    def write(self, frame_map: Any = None) -> JobOutput:
        """Composite and write the frames into the staging folder, then publish it as the next
        ``v###`` (the job's only visible output, whole or not at all)."""
        from void_engine.plates.output import publish_version

        if self.output is not None:
            return self.output
        job = self.job
        try:
            self.report("stage", stage="write", step=0, total=len(job.frames))
            provenance = {
                "job": self.job_id,
                "seed": str(self.seed),
                "prompt": self.prompt,
                "steps": str(self.steps),
                "backend": self.backend_name,
                "engine": __version__,
                "passes": "1+2" if job.pass2 else "1",
                # How the quadmask was made, and where the one used sits (beside the frames).
                "mask_source": self._mask_source,
                "quadmask": self.quadmask_rel,
            }
            if job.masks.keyframes:
                provenance["mask_keyframes"] = ",".join(map(str, job.masks.keyframes))
            written = self.shot.write_result(
                self.result,
                job.out_root,
                job.name,
                provenance,
                version_dir=self.staging,
                progress=self._stage_progress,
                frame_map=frame_map,
                seed=self.seed,
            )
            for note in written.notes:  # the finish stage: upscale, share revealed, grain
                self.report("log", message=note)
            self.check_cancel()
            name = Path(written.pattern).name
            (self.staging / PUBLISHED_MARKER).write_text(
                json.dumps({"job": self.job_id, "pattern": name, "frames": list(written.frames)})
            )
            final = publish_version(self.staging, job.out_root)
        except BaseException as exc:
            self._failed(exc)
            raise
        self.shot = self.result = None  # the frames are on disk; let the memory go
        self.output = JobOutput(final, str(final / name), tuple(written.frames))
        return self.output

    def _failed(self, exc: BaseException) -> None:
        """A phase that wrote output raised: discard the attempt, and when the disk filled up,
        raise the error that names the folder and the space needed instead of ``exc``."""
        from void_engine.plates.space import full_disk_error

        self.discard()
        full = full_disk_error(exc, self.job.out_root, self._needed)
        if full is not None and full is not exc:
            raise full from exc

    def discard(self) -> None:
        """Remove what this attempt wrote (the staging folder) and let its frames go."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.shot = self.result = None


def run_job(
    job_id: str,
    job: ResolvedJob,
    backend: Backend,
    *,
    prompt: str,
    seed: int,
    steps: int,
    report: Report,
    cancel: CancelFn,
    backend_name: str = "",
    settings: Any = None,
    mask_stage: MaskStage | None = None,
) -> JobOutput:
    """Run one job to a published output sequence (the phases of :class:`JobRun`, one after another).

    Stages: ``masks`` (the quadmask, built by ``mask_stage`` from whatever the job carries, with
    its sub-stages ``mask-read``/``propagate``/``reason``), ``read``, ``model`` (pass 1),
    ``pass2`` when the job asks for it, ``write``. Raises :class:`Cancelled` when ``cancel()``
    turns true (checked per step/frame and between stages; the staging folder is removed),
    PlateError/QuadmaskError for bad inputs.
    """
    run = JobRun(
        job_id,
        job,
        prompt=prompt,
        seed=seed,
        steps=steps,
        report=report,
        cancel=cancel,
        backend_name=backend_name,
        settings=settings,
        mask_stage=mask_stage,
    )
    run.check_backend(backend)
    run.prepare()
    run.infer(backend)
    return run.write()
