"""Building the engine job and the per-run work folders (shared by both pages)."""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bridge.protocol import MASK_PROPAGATE, MASK_REASON, JobMasks, JobSpec

from .engine_job import EngineJob
from .roles import MaskError
from .settings import Settings

# States after which the engine may still be reading a run's inputs ("not started": the run was
# interrupted before it knew how the job ended).
KEEP_INPUTS_WHEN = ("unreachable", "closed", "not started")


@dataclass(frozen=True)
class WorkDirs:
    """Where one run writes: ``inputs`` (plate/matte renders), ``results`` (engine versions)."""

    inputs: Path
    results: Path
    fetched: Path

    def discard_inputs(self, state: str) -> None:
        """Delete this run's plate/matte renders once the engine no longer needs them.

        Kept when the run ended ``unreachable``, ``closed`` or was interrupted: the engine may
        still be reading them for a job it is running. Results (and fetched copies) are never touched.
        """
        if state in KEEP_INPUTS_WHEN:
            return
        shutil.rmtree(self.inputs, ignore_errors=True)
        try:
            self.inputs.parent.rmdir()  # renders/, when this was the last run in it
        except OSError:
            pass


def work_dirs(root: Path, shot: str) -> WorkDirs:
    """Folders for one run of ``shot`` under ``root``; results accumulate ``v001``, ``v002``..."""
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{uuid.uuid4().hex[:6]}"
    base = root / shot
    dirs = WorkDirs(base / "renders" / stamp, base / "results", base / "fetched" / stamp)
    dirs.inputs.mkdir(parents=True, exist_ok=True)
    dirs.results.mkdir(parents=True, exist_ok=True)
    return dirs


def build_spec(
    settings: Settings,
    *,
    plate: str,
    frames: tuple[int, ...],
    prompt: str,
    name: str,
    remove: str,
    affected: str | None,
    out: Path,
    keyframes: tuple[int, ...] = (),
) -> JobSpec:
    """The job for the engine: mattes by role, results into ``out`` (ignored by value).

    With ``keyframes`` the remove matte is a roto rendered on those frames only, sent as mask
    mode "propagate" (or "reason" with the settings' instruction); full mattes with an
    instruction go as "reason" too. ``settings.pass2`` asks for the refinement pass.
    """
    masks: JobMasks | None = None
    if keyframes:
        if affected is not None:
            raise MaskError(
                'A roto on key frames is spread over the shot by the engine; an "affected" mask '
                "cannot go with it. Unmark the affected mask, or draw the remove mask on every frame."
            )
        masks = JobMasks(
            mode=MASK_REASON if settings.instruction else MASK_PROPAGATE,
            roto=remove,
            keyframes=tuple(sorted(keyframes)),
            instruction=settings.instruction,
        )
    elif settings.instruction:
        masks = JobMasks(mode=MASK_REASON, remove=remove, affected=affected, instruction=settings.instruction)
    legacy = masks is None  # plain mattes keep the older fields: older engines still take them
    return JobSpec(
        plate=plate,
        frames=frames,
        prompt=prompt.strip() or settings.prompt,
        out=str(out),
        remove=remove if legacy else None,
        affected=affected if legacy else None,
        backend=settings.backend,
        seed=settings.seed,
        steps=settings.steps,
        name=name,
        job_key=uuid.uuid4().hex,
        masks=masks,
        pass2=settings.pass2,
    )


def start_job(spec: JobSpec, settings: Settings, dirs: WorkDirs) -> EngineJob:
    """Start following ``spec`` in its thread and return it."""
    job = EngineJob(
        spec,
        settings.engine,
        timeout_s=settings.timeout_s,
        by_value=settings.by_value,
        fetch_to=dirs.fetched if settings.by_value else None,
    )
    job.start()
    return job
