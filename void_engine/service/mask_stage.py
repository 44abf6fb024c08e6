"""The job stage that turns what a job carries into its quadmask sequence (all four mask modes).

One :class:`MaskStage` lives as long as the engine: SAM2 is loaded on the first job that needs
it and stays resident, as the VOID model does. The reasoner needs a Gemini key; the engine reads
it from the environment variable named in ``[masks] reasoner_api_key_env``, and without it the
reasoning is skipped with a note the job's events carry (the job still runs on the remove region).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from bridge.protocol import JobMasks

from ..config import MaskSettings
from ..progress import CancelFn, StageProgress


@dataclass
class BuiltMasks:
    """The quadmasks of one job: per-frame uint8 (H, W) raw levels, where they were written, how made."""

    masks: list[Any]
    pattern: str
    source: str
    notes: list[str] = field(default_factory=list)


def needs_sam2(masks: JobMasks) -> bool:
    """Whether the job's mask is propagated from key frames / clicks (SAM2 must be available)."""
    return masks.roto is not None or bool(masks.points)


def skip_note(env_name: str) -> str:
    return (
        f"reasoning skipped: no Gemini API key on the engine (${env_name} is not set); "
        "the quadmask holds the remove region only"
    )


def to_mask_spec(masks: JobMasks) -> Any:
    """The masks package's MaskSpec for a validated, path-resolved :class:`JobMasks`."""
    from bridge.sequences import frame_path
    from void_engine.masks import ClickPoints, MaskSpec

    by_frame: dict[int, list[tuple[float, float, int]]] = {}
    for p in masks.points:
        by_frame.setdefault(p.frame, []).append((p.x, p.y, p.label))
    clicks = tuple(
        ClickPoints(f, tuple((x, y) for x, y, _ in pts), tuple(lab for _, _, lab in pts))
        for f, pts in sorted(by_frame.items())
    )
    roto = {f: frame_path(masks.roto, f) for f in masks.keyframes} if masks.roto is not None else {}
    kw: dict[str, Any] = {}
    if masks.threshold is not None:
        kw["threshold"] = masks.threshold
    if masks.dilate_px is not None:
        kw["dilate_px"] = masks.dilate_px
    return MaskSpec(
        quadmask=masks.quadmask,
        remove=masks.remove,
        affected=masks.affected,
        roto=roto,
        clicks=clicks,
        instruction=masks.instruction,
        **kw,
    )


class MaskStage:
    """Builds quadmask sequences for jobs; holds SAM2 once loaded."""

    def __init__(self, settings: MaskSettings | None = None):
        self.settings = settings or MaskSettings()
        self._sam2: Any = None
        self._lock = threading.Lock()

    # -- what the engine can offer (cheap: no model is loaded) -------------------------------

    def sam2_problem(self) -> str | None:
        """Why propagation cannot run here; None when it can."""
        s = self.settings
        if s.sam2_random_weights:
            return None
        checkpoint = s.sam2_checkpoint or os.environ.get("VOID_SAM2_CHECKPOINT")
        if not checkpoint:
            return "no SAM2 checkpoint configured ([masks] sam2_checkpoint or $VOID_SAM2_CHECKPOINT)"
        if not os.path.isfile(checkpoint):
            return f"the SAM2 checkpoint {checkpoint} does not exist"
        return None

    def api_key(self) -> str | None:
        return os.environ.get(self.settings.reasoner_api_key_env, "").strip() or None

    # -- the stage ----------------------------------------------------------------------------

    def sam2(self) -> Any:
        """The resident SAM2 propagator (loaded on first use)."""
        from void_engine.masks.propagate import Sam2Config, load_sam2

        with self._lock:
            if self._sam2 is None:
                s = self.settings
                if s.sam2_random_weights:
                    config = Sam2Config.tiny(device=s.device)
                else:
                    mapping: dict[str, Any] = {"model_cfg": s.sam2_config, "device": s.device}
                    if s.sam2_checkpoint is not None:
                        mapping["checkpoint"] = str(s.sam2_checkpoint)
                    config = Sam2Config.from_mapping(mapping)
                self._sam2 = load_sam2(config)
            return self._sam2

    def reasoner(self) -> Any:
        from void_engine.masks.reasoner import ReasonerConfig

        s = self.settings
        return ReasonerConfig(
            model=s.reasoner_model, api_key=self.api_key(), base_url=s.reasoner_base_url, timeout_s=s.reasoner_timeout_s
        )

    def build(
        self,
        masks: JobMasks,
        plate: Any,
        out_pattern: str,
        *,
        shot_settings: Any,
        report: StageProgress,
        cancel: CancelFn,
    ) -> BuiltMasks:
        """Build and write the quadmask sequence of ``masks`` over ``plate`` (a FrameSequence).

        ``masks`` holds resolved paths. Progress goes to ``report`` per sub-stage
        (``mask-read``, ``propagate``, ``reason``); ``cancel`` is honoured between frames.
        """
        from void_engine.masks import build_quadmask_sequence

        spec = to_mask_spec(masks)
        notes: list[str] = []
        reasoner = None
        if spec.instruction:
            if self.api_key() is None:
                # Decided here, not by the reasoner's own environment fallbacks: the engine's
                # config names the one variable that holds its key.
                notes.append(skip_note(self.settings.reasoner_api_key_env))
                spec = replace(spec, instruction=None)
            else:
                reasoner = self.reasoner()
        sam2 = None
        if needs_sam2(masks) or (spec.instruction and self.sam2_problem() is None):
            sam2 = self.sam2()  # also refines the reasoner's regions when it is available
        names = {"read": "mask-read"}
        built = build_quadmask_sequence(
            spec,
            plate,
            out_pattern,
            sam2=sam2,
            reasoner=reasoner,
            plate_space=shot_settings.plate_space,
            model_space=shot_settings.model_space,
            ocio_config=shot_settings.ocio_config,
            progress=lambda stage, done, total: report(names.get(stage, stage), done, total),
            cancel=cancel,
        )
        return BuiltMasks(list(built.masks), built.sequence.pattern, built.source, notes + list(built.notes))
