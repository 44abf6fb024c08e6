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
    """Run one job to a published output sequence.

    Stages: ``masks`` (the quadmask, built by ``mask_stage`` from whatever the job carries, with
    its sub-stages ``mask-read``/``propagate``/``reason``), ``read``, ``model`` (pass 1),
    ``pass2`` when the job asks for it, ``write``. Raises :class:`Cancelled` when ``cancel()``
    turns true (checked per step/frame and between stages; the staging folder is removed),
    PlateError/QuadmaskError for bad inputs.
    """
    from void_engine.plates import FrameSequence, Shot, ShotSettings
    from void_engine.plates.output import publish_version
    from void_engine.plates.space import check_free_space, estimate_output_bytes, full_disk_error

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
    plate_seq = FrameSequence(job.plate, job.frames)
    needed = estimate_output_bytes(plate_seq)
    try:
        shutil.rmtree(staging, ignore_errors=True)
        check_free_space(job.out_root, needed)
        staging.mkdir(parents=True)
        report("stage", stage="masks", step=0, total=1)
        quad_rel = f"{QUADMASK_FOLDER}/{job.name}_quadmask.####.exr"
        built = mask_stage.build(
            job.masks,
            plate_seq,
            str(staging / quad_rel),
            shot_settings=shot_settings,
            report=stage_progress,
            cancel=cancel,
        )
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
        result = backend.run(
            shot.model_video, shot.model_quadmask, prompt, seed=seed, steps=steps, progress=step_progress, cancel=cancel
        )
        check_cancel()
        if job.pass2:
            assert refine is not None
            report("stage", stage="pass2", step=0, total=steps)
            result = refine(
                shot.model_video,
                shot.model_quadmask,
                prompt,
                result,
                seed=seed,
                steps=steps,
                progress=step_progress,
                cancel=cancel,
            )
            check_cancel()
        report("stage", stage="write", step=0, total=len(job.frames))
        provenance = {
            "job": job_id,
            "seed": str(seed),
            "prompt": prompt,
            "steps": str(steps),
            "backend": backend_name,
            "engine": __version__,
            "passes": "1+2" if job.pass2 else "1",
            # How the quadmask was made, and where the one used sits (beside the frames).
            "mask_source": built.source,
            "quadmask": quad_rel,
        }
        if job.masks.keyframes:
            provenance["mask_keyframes"] = ",".join(map(str, job.masks.keyframes))
        written = shot.write_result(
            result, job.out_root, job.name, provenance, version_dir=staging, progress=stage_progress
        )
        check_cancel()
        name = Path(written.pattern).name
        (staging / PUBLISHED_MARKER).write_text(
            json.dumps({"job": job_id, "pattern": name, "frames": list(written.frames)})
        )
        final = publish_version(staging, job.out_root)
        return JobOutput(final, str(final / name), tuple(written.frames))
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        full = full_disk_error(exc, job.out_root, needed)
        if full is not None and full is not exc:
            raise full from exc
        raise
