"""Admission: what is checked about a job before it is queued (and again when it runs).

:func:`resolve_job` checks a job's paths against the roots (at submit and again at run time, so
a symlink swapped in between is still caught). :func:`check_capabilities` refuses at submit what
this engine cannot run; :func:`engine_capabilities` is what ``hello`` says about masks and passes.
All of it is file checks only: the socket loop calls these, so nothing here loads a model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bridge.protocol import BAD_REQUEST, NOT_FOUND, JobMasks, JobSpec, ProtocolError
from bridge.transfer import default_output_name

from ..backends import BackendSettings, pass2_problem
from .mask_stage import MaskStage, needs_sam2, needs_sam3
from .security import check_path, check_pattern, expand_frame


@dataclass(frozen=True)
class ResolvedJob:
    """A job's inputs as absolute, checked paths (``masks`` too)."""

    plate: str
    frames: tuple[int, ...]
    masks: JobMasks
    out_root: Path
    name: str
    pass2: bool = False


def resolve_job(
    spec: JobSpec, roots: list[Path], *, inputs_dir: Path | None = None, results_dir: Path | None = None
) -> ResolvedJob:
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
    # Typed Any: the roles are JobMasks field names known only at run time (quadmask, remove, ...).
    resolved: dict[str, Any] = {
        role: seq(prefix + role, pattern, frames) for role, (pattern, frames) in masks.sequences(spec.frames).items()
    }
    masks = replace(masks, **resolved)
    if by_value:
        assert results_dir is not None
        out_root = results_dir
    else:
        out_root = check_path(spec.out or "", roots, "job.out")
        if out_root.exists() and not out_root.is_dir():
            raise ProtocolError(NOT_FOUND, f"field 'job.out': {out_root} exists and is not a folder", "job.out")
    return ResolvedJob(
        plate=plate,
        frames=spec.frames,
        masks=masks,
        out_root=Path(out_root),
        name=spec.name or default_output_name(spec.plate),
        pass2=spec.pass2,
    )


def check_capabilities(
    spec: JobSpec, *, backend: str, backend_settings: BackendSettings, mask_stage: MaskStage
) -> None:
    """Refuse at submit time what this engine cannot run, naming the field and what to change."""
    if spec.pass2:
        problem = pass2_problem(spec.backend or backend, backend_settings)
        if problem is not None:
            raise ProtocolError(
                BAD_REQUEST, f"field 'job.pass2': this engine cannot run pass 2: {problem}", "job.pass2"
            )
    masks = spec.mask_spec()
    if needs_sam2(masks):
        problem = mask_stage.sam2_problem()
        if problem is not None:
            raise ProtocolError(
                BAD_REQUEST, f"field 'job.masks.mode': this engine cannot propagate a roto: {problem}", "job.masks.mode"
            )
    if needs_sam3(masks):
        problem = mask_stage.sam3_problem()
        if problem is not None:
            raise ProtocolError(
                BAD_REQUEST,
                f"field 'job.masks.mode': this engine cannot make text masks (SAM3): {problem}",
                "job.masks.mode",
            )


def engine_capabilities(*, backend: str, backend_settings: BackendSettings, mask_stage: MaskStage) -> dict[str, Any]:
    """What ``hello`` adds about masks and passes (file checks only; nothing is loaded)."""
    modes = ["quadmask", "mattes"]
    sam2 = mask_stage.sam2_problem() is None
    if sam2:
        modes.append("propagate")
    modes.append("reason")  # with mattes it needs no SAM2; without a key it is skipped, not refused
    sam3 = mask_stage.sam3_problem() is None
    if sam3:
        modes.append("text")
    problem = pass2_problem(backend, backend_settings)
    return {
        "mask_modes": modes,
        "sam2": sam2,
        "sam3": sam3,
        "reasoner": mask_stage.api_key() is not None,
        "pass2": problem is None,
        "pass2_error": problem,
    }
