"""One entry point from what a job carries to a quadmask sequence on disk.

A job's masks come in one of four ways:
  (a) a ready quadmask sequence — validated and written out normalised;
  (b) remove mattes (+ optional affected mattes) per frame — combined by the quadmask rules;
  (c) roto on one or a few key frames (or click points) — propagated with SAM2;
  (d) (c) — or (b) — plus an instruction — Gemini reasons about what else the object affected.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from void_engine.plates import FrameSequence
from void_engine.progress import CancelFn, Cancelled, StageProgress

from .quadmask import (
    QuadmaskError,
    quadmask_from_mattes,
    read_matte,
    read_quadmask_sequence,
    write_quadmask_sequence,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClickPoints:
    """Clicks on one plate frame: (x, y) display-window pixels; label 1 = object, 0 = not."""

    frame: int
    points: tuple[tuple[float, float], ...]
    labels: tuple[int, ...]


@dataclass(frozen=True)
class MaskSpec:
    """The mask part of a job. Patterns are sequence patterns over the plate's frames.

    Exactly one source of the remove region: ``quadmask`` (a), ``remove`` (b), or ``roto`` /
    ``clicks`` (c). ``affected`` adds to (b); ``instruction`` asks the reasoner (d) and needs
    (b) or (c).
    """

    quadmask: str | None = None  # (a) e.g. "/shot/mask/quad.####.exr"
    remove: str | None = None  # (b) remove mattes, one per frame
    affected: str | None = None  # (b) optional affected mattes, one per frame
    roto: Mapping[int, str] = field(default_factory=dict)  # (c) plate frame -> matte file
    clicks: tuple[ClickPoints, ...] = ()  # (c) alternative or addition to roto
    instruction: str | None = None  # (d) what the artist wants removed, in words
    matte_channel: str | None = None  # None: alpha if present, else luminance
    threshold: float = 0.5
    dilate_px: int = 0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "MaskSpec":
        """From a job's ``masks`` section (msgpack/JSON: roto keys may be strings, clicks lists).

        Unknown keys and wrong types raise :class:`QuadmaskError` naming the field.
        """
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise QuadmaskError(f"masks: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        kw: dict[str, Any] = {}
        for name in ("quadmask", "remove", "affected", "instruction", "matte_channel"):
            if data.get(name) is not None:
                if not isinstance(data[name], str):
                    raise QuadmaskError(f"masks.{name} must be a string, got {data[name]!r}")
                kw[name] = data[name]
        try:
            if "threshold" in data:
                kw["threshold"] = float(data["threshold"])
            if "dilate_px" in data:
                kw["dilate_px"] = int(data["dilate_px"])
            kw["roto"] = {int(f): str(p) for f, p in dict(data.get("roto") or {}).items()}
            kw["clicks"] = tuple(
                ClickPoints(
                    int(c["frame"]),
                    tuple((float(x), float(y)) for x, y in c["points"]),
                    tuple(int(v) for v in c.get("labels", [1] * len(c["points"]))),
                )
                for c in data.get("clicks") or ()
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise QuadmaskError(f"masks: cannot read threshold/dilate_px/roto/clicks: {exc!r}") from None
        spec = cls(**kw)
        spec.source()  # fail at submit time, not when the job runs
        return spec

    def source(self) -> str:
        """Which path the spec takes: 'quadmask', 'mattes', 'propagate'; raises when unclear."""
        given = [
            name
            for name, on in (
                ("quadmask", self.quadmask),
                ("mattes", self.remove),
                ("propagate", self.roto or self.clicks),
            )
            if on
        ]
        if len(given) != 1:
            raise QuadmaskError(
                "mask spec: give exactly one of quadmask, remove mattes, or roto/clicks "
                f"(got {', '.join(given) or 'none'})"
            )
        if self.affected and not self.remove:
            raise QuadmaskError("mask spec: affected mattes need remove mattes beside them")
        if self.instruction and self.quadmask:
            raise QuadmaskError(
                "mask spec: an instruction needs remove mattes or roto to reason from, not a finished quadmask"
            )
        if not 0.0 <= self.threshold < 1.0:
            raise QuadmaskError(f"mask spec: threshold {self.threshold} must be in [0, 1)")
        if self.dilate_px < 0:
            raise QuadmaskError(f"mask spec: dilate_px {self.dilate_px} must be >= 0")
        return given[0]


@dataclass
class QuadmaskBuild:
    """The result: the sequence written, its masks, and how they were made."""

    sequence: FrameSequence
    masks: list[np.ndarray]  # uint8 (H, W) raw levels, one per plate frame
    source: str  # "quadmask" | "mattes" | "propagate" | "…+reasoner"
    notes: list[str] = field(default_factory=list)  # e.g. why the reasoner was skipped
    analysis: Any = None  # the reasoner's Analysis when it ran


def _seq(pattern: str | Path | FrameSequence, frames: Sequence[int]) -> FrameSequence:
    if isinstance(pattern, FrameSequence):
        if tuple(pattern.frames) != tuple(frames):
            raise QuadmaskError(f"{pattern.pattern}: its frames do not match the plate's")
        return pattern
    return FrameSequence(str(pattern), tuple(frames))


def _read_mattes(
    seq: FrameSequence, size: tuple[int, int], channel: str | None, what: str, threshold: float
) -> list[np.ndarray]:
    """Each frame's matte as a bool region (coverage > ``threshold``), thresholded as it is read:
    float32 coverage of a 300-frame 4K shot would hold 10 GB per matte sequence."""
    missing = seq.missing()
    if missing:
        raise QuadmaskError(f"{what} mattes {seq.pattern}: missing frame(s) {', '.join(map(str, missing[:10]))}")
    out = []
    for f in seq.frames:
        m = read_matte(seq.path(f), channel, frame=f)
        if m.shape != tuple(size):
            raise QuadmaskError(
                f"{what} matte (frame {f}, {seq.path(f)}) is {m.shape[1]}x{m.shape[0]}, the "
                f"plate's display window is {size[1]}x{size[0]}"
            )
        out.append(m > threshold)
    return out


def build_quadmask_sequence(
    spec: MaskSpec,
    plate: FrameSequence,
    out: str | Path | FrameSequence,
    *,
    sam2: Any = None,
    reasoner: Any = None,
    max_side: int = 1024,
    plate_space: str = "ACEScg",
    model_space: str = "sRGB Encoded Rec.709 (sRGB)",
    ocio_config: str | None = None,
    overwrite: bool = False,
    progress: StageProgress | None = None,
    cancel: CancelFn | None = None,
) -> QuadmaskBuild:
    """Build the quadmask sequence for ``plate``'s frames from ``spec`` and write it to ``out``.

    ``sam2``: a :class:`~.propagate.Sam2Config` or a loaded :class:`~.propagate.Sam2Propagator`
    (needed for roto/clicks; used for the reasoner's refinement when given).
    ``reasoner``: a :class:`~.reasoner.ReasonerConfig` (None: defaults, key from the environment).
    SAM2 and the reasoner work on display-referred frames at most ``max_side`` px; their mattes
    are scaled back to the plate's display window. A reasoner that cannot run (no API key) is
    skipped with a note, never an error; a reasoner that runs and fails raises.
    """
    source = spec.source()
    frames = tuple(plate.frames)
    out_seq = _seq(out, frames)
    from .frames import display_size

    size = display_size(plate)

    def report(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    if source == "quadmask":
        assert spec.quadmask is not None
        masks = read_quadmask_sequence(_seq(spec.quadmask, frames), size)
        write_quadmask_sequence(out_seq, masks, overwrite=overwrite)
        return QuadmaskBuild(out_seq, masks, source)

    notes: list[str] = []
    affected: list[np.ndarray] | None = None
    display = None
    if source == "mattes":
        assert spec.remove is not None
        remove = np.stack(_read_mattes(_seq(spec.remove, frames), size, spec.matte_channel, "remove", spec.threshold))
        if spec.affected:
            affected = _read_mattes(_seq(spec.affected, frames), size, spec.matte_channel, "affected", spec.threshold)
    else:
        display = _load_display(plate, max_side, (plate_space, model_space, ocio_config), report, cancel)
        remove = _propagate(spec, display, size, _sam2(sam2), report, cancel)

    analysis = None
    if spec.instruction:
        _check(cancel)
        report("reason", 0, 1)
        remove, affected, analysis, more = _reason(
            spec,
            plate,
            remove,
            affected,
            display,
            size,
            sam2,
            reasoner,
            max_side,
            (plate_space, model_space, ocio_config),
            report,
            cancel,
        )
        report("reason", 1, 1)
        notes += more
        if analysis is not None:
            source += "+reasoner"
    _check(cancel)

    masks = [
        quadmask_from_mattes(
            remove[i].astype(np.float32),
            None if affected is None else affected[i],
            threshold=spec.threshold,
            dilate_px=spec.dilate_px,
        )
        for i in range(len(frames))
    ]
    write_quadmask_sequence(out_seq, masks, overwrite=overwrite)
    for note in notes:
        log.warning("masks: %s", note)
    return QuadmaskBuild(out_seq, masks, source, notes, analysis)


def _check(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled("mask building cancelled")


def _load_display(
    plate: FrameSequence,
    max_side: int,
    colour: tuple[str, str, str | None],
    report: StageProgress,
    cancel: CancelFn | None,
) -> Any:
    from .frames import load_display_frames

    plate_space, model_space, ocio_config = colour
    return load_display_frames(
        plate,
        max_side=max_side,
        plate_space=plate_space,
        model_space=model_space,
        ocio_config=ocio_config,
        progress=lambda d, t: report("read", d, t),
        cancel=cancel,
    )


def _sam2(sam2: Any) -> Any:
    from .propagate import Sam2Config, Sam2Propagator, load_sam2

    if sam2 is None:
        sam2 = Sam2Config.from_mapping({})
    if isinstance(sam2, Sam2Propagator):
        return sam2
    return load_sam2(sam2)


def _propagate(
    spec: MaskSpec, display: Any, size: tuple[int, int], prop: Any, report: StageProgress, cancel: CancelFn | None
) -> np.ndarray:
    """Roto/clicks on key frames -> bool (T, H, W) remove region at the display size."""
    from .frames import resize_masks, resize_plane
    from .propagate import Prompt

    frames = display.frames
    index = {f: i for i, f in enumerate(frames)}
    wsize = display.working_size
    sy, sx = wsize[0] / size[0], wsize[1] / size[1]
    prompts: list[Prompt] = []
    full_res: dict[int, np.ndarray] = {}
    for f, path in sorted(spec.roto.items()):
        if f not in index:
            raise QuadmaskError(f"roto on frame {f} ({path}) is outside the plate's frames {frames[0]}-{frames[-1]}")
        m = read_matte(path, spec.matte_channel, frame=f)
        if m.shape != tuple(size):
            raise QuadmaskError(
                f"roto matte (frame {f}, {path}) is {m.shape[1]}x{m.shape[0]}, "
                f"the plate's display window is {size[1]}x{size[0]}"
            )
        full_res[index[f]] = m > spec.threshold
        if not full_res[index[f]].any():
            raise QuadmaskError(f"roto matte (frame {f}, {path}) is empty at threshold {spec.threshold}")
        prompts.append(Prompt(index[f], matte=resize_plane(full_res[index[f]].astype(np.float32), wsize)))
    for c in spec.clicks:
        if c.frame not in index:
            raise QuadmaskError(f"clicks on frame {c.frame} are outside the plate's frames {frames[0]}-{frames[-1]}")
        pts = tuple((x * sx, y * sy) for x, y in c.points)
        prompts.append(Prompt(index[c.frame], points=pts, labels=tuple(c.labels)))
    small = prop.propagate_matte(
        display.pixels, prompts, progress=lambda d, t: report("propagate", d, t), cancel=cancel
    )
    remove = resize_masks(small, size)
    for i, m in full_res.items():  # the artist's roto is exact on its own frames
        remove[i] = m
    return remove


def _reason(spec, plate, remove, affected, display, size, sam2, reasoner, max_side, colour, report, cancel):
    """Run the reasoner when it can run; returns (remove, affected, analysis | None, notes)."""
    from .frames import resize_masks
    from .reasoner import (
        ReasonerAnswerError,
        ReasonerConfig,
        ReasonerSkipped,
        analysis_to_mattes,
        ask,
        skip_reason,
    )

    config = reasoner if reasoner is not None else ReasonerConfig()
    why = skip_reason(config)
    if why:
        return remove, affected, None, [why]
    if display is None:
        display = _load_display(plate, max_side, colour, report, cancel)
    small_remove = resize_masks(remove, display.working_size)
    try:
        analysis, grid, raw = ask(display.pixels, small_remove, display.frames, spec.instruction, config)
    except ReasonerSkipped as exc:
        return remove, affected, None, [str(exc)]
    prop = _sam2(sam2) if sam2 is not None else None
    try:
        mattes = analysis_to_mattes(analysis, grid, display.frames, frames=display.pixels, sam2=prop)
    except ReasonerAnswerError as exc:
        raise ReasonerAnswerError(f"{exc}\nraw answer: {raw[:2000]}", raw) from None
    remove = remove | resize_masks(mattes.remove_extra, size)
    reasoned = resize_masks(mattes.affected, size).astype(np.float32)
    if affected is not None:
        reasoned = np.maximum(reasoned, np.stack(affected) > spec.threshold)
    return remove, list(reasoned), analysis, mattes.notes
