"""Building the engine job and the per-run work folders (shared by both pages)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bridge.protocol import JobSpec

from .engine_job import EngineJob
from .settings import Settings


@dataclass(frozen=True)
class WorkDirs:
    """Where one run writes: ``inputs`` (plate/matte renders), ``results`` (engine versions)."""

    inputs: Path
    results: Path
    fetched: Path


def work_dirs(root: Path, shot: str) -> WorkDirs:
    """Folders for one run of ``shot`` under ``root``; results accumulate ``v001``, ``v002``..."""
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{uuid.uuid4().hex[:6]}"
    base = root / shot
    dirs = WorkDirs(base / "renders" / stamp, base / "results", base / "fetched" / stamp)
    dirs.inputs.mkdir(parents=True, exist_ok=True)
    dirs.results.mkdir(parents=True, exist_ok=True)
    return dirs


def build_spec(settings: Settings, *, plate: str, frames: tuple[int, ...], prompt: str, name: str,
               remove: str, affected: str | None, out: Path) -> JobSpec:
    """The job for the engine: mattes by role, results into ``out`` (ignored by value)."""
    return JobSpec(plate=plate, frames=frames, prompt=prompt.strip() or settings.prompt, out=str(out),
                   remove=remove, affected=affected, backend=settings.backend, seed=settings.seed,
                   steps=settings.steps, name=name, job_key=uuid.uuid4().hex)


def start_job(spec: JobSpec, settings: Settings, dirs: WorkDirs) -> EngineJob:
    """Start following ``spec`` in its thread and return it."""
    job = EngineJob(spec, settings.engine, timeout_s=settings.timeout_s, by_value=settings.by_value,
                    fetch_to=dirs.fetched if settings.by_value else None)
    job.start()
    return job
