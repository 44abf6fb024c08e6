"""One entry point from what a job carries to a quadmask sequence on disk.

A job's masks come in one of four ways:
  (a) a ready quadmask sequence — validated and written out normalised;
  (b) remove mattes (+ optional affected mattes) per frame — combined by the quadmask rules;
  (c) roto on one or a few key frames (or click points) — propagated with SAM2;
  (d) (c) — or (b) — plus an instruction — Gemini reasons about what else the object affected;
  (e) the object named in words — SAM3 finds it on key frames, SAM2 tracks it over the range
      (with optional affected text/mattes, and (d)'s instruction).
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

    Exactly one source of the remove region: ``quadmask`` (a), ``remove`` (b), ``roto`` /
    ``clicks`` (c), or ``remove_text`` (e). ``affected`` adds to (b) and (e); ``affected_text``
    to (e); ``instruction`` asks the reasoner (d) and needs (b), (c) or (e). ``text_keyframes``
    are the plate frames SAM3 searches (empty: ``text_search`` says which: ``"first"`` — the first
    frame the text is found on —, or ``"all"`` — every frame, each one it is found on a key frame).
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
    remove_text: str | None = None  # (e) "the glass"
    affected_text: str | None = None  # (e) "its shadow", segmented as affected
    text_keyframes: tuple[int, ...] = ()
    text_search: str = "first"

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
        for name in ("quadmask", "remove", "affected", "instruction", "matte_channel", "remove_text", "affected_text"):
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
            kw["text_keyframes"] = tuple(int(f) for f in data.get("text_keyframes") or ())
            if "text_search" in data:
                kw["text_search"] = str(data["text_search"])
            kw["clicks"] = tuple(
                ClickPoints(
                    int(c["frame"]),
                    tuple((float(x), float(y)) for x, y in c["points"]),
                    tuple(int(v) for v in c.get("labels", [1] * len(c["points"]))),
                )
                for c in data.get("clicks") or ()
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise QuadmaskError(f"masks: cannot read threshold/dilate_px/roto/clicks/text_keyframes: {exc!r}") from None
        spec = cls(**kw)
        spec.source()  # fail at submit time, not when the job runs
        return spec

    def source(self) -> str:
        """Which path the spec takes: 'quadmask', 'mattes', 'propagate', 'text'; raises when unclear."""
        given = [
            name
            for name, on in (
                ("quadmask", self.quadmask),
                ("mattes", self.remove),
                ("propagate", self.roto or self.clicks),
                ("text", self.remove_text),
            )
            if on
        ]
        if len(given) != 1:
            raise QuadmaskError(
                "mask spec: give exactly one of quadmask, remove mattes, roto/clicks or remove text "
                f"(got {', '.join(given) or 'none'})"
            )
        if self.affected and not (self.remove or self.remove_text):
            raise QuadmaskError("mask spec: affected mattes need remove mattes or a remove text beside them")
        if (self.affected_text or self.text_keyframes) and not self.remove_text:
            raise QuadmaskError("mask spec: affected_text and text_keyframes go with a remove text")
        if self.text_search not in ("first", "all"):
            raise QuadmaskError(f"mask spec: text_search must be 'first' or 'all', got {self.text_search!r}")
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
    sam3: Any = None,
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
    (needed for roto/clicks and to track a text's key frames; used for the reasoner's refinement
    when given). ``sam3``: a :class:`~.segment_text.Sam3Config` or loaded
    :class:`~.segment_text.Sam3Segmenter` (needed for a remove text; segments the reasoner's named
    objects when given).
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
    elif source == "text":
        assert spec.remove_text is not None
        display = _load_display(plate, max_side, (plate_space, model_space, ocio_config), report, cancel)
        from .frames import resize_masks

        seg = _sam3(sam3)
        remove = resize_masks(_text_region(spec, spec.remove_text, display, seg, sam2, report, cancel), size)
        if spec.affected_text:
            found = _text_region(spec, spec.affected_text, display, seg, sam2, report, cancel)
            affected = list(resize_masks(found, size).astype(np.float32))
        if spec.affected:
            more = _read_mattes(_seq(spec.affected, frames), size, spec.matte_channel, "affected", spec.threshold)
            affected = more if affected is None else [np.maximum(a, m) for a, m in zip(affected, more)]
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
            sam3,
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


def _sam3(sam3: Any) -> Any:
    from .segment_text import Sam3Config, Sam3Segmenter, load_sam3

    if sam3 is None:
        sam3 = Sam3Config.from_mapping({})
    if isinstance(sam3, Sam3Segmenter):
        return sam3
    return load_sam3(sam3)


class TextNotFoundError(QuadmaskError):
    """SAM3 found the text on none of the frames it searched; the message names both."""


def describe_frames(frames: Sequence[int]) -> str:
    """Plate frames as runs: ``1001-1004, 1010``."""
    runs: list[list[int]] = []
    for f in sorted(frames):
        if runs and f == runs[-1][-1] + 1:
            runs[-1].append(f)
        else:
            runs.append([f])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _text_region(
    spec: MaskSpec,
    text: str,
    display: Any,
    seg: Any,
    sam2: Any,
    report: StageProgress,
    cancel: CancelFn | None,
) -> np.ndarray:
    """Where ``text`` is over the whole plate: bool (T, h, w) at the working size. SAM3 searches
    the key frames; every frame it finds the text on is a key frame whose detection is kept as it
    is, and SAM2 tracks them over the rest (not needed when it was found on every frame)."""
    from .propagate import Prompt

    frames = display.frames
    index = {f: i for i, f in enumerate(frames)}
    outside = [f for f in spec.text_keyframes if f not in index]
    if outside:
        raise QuadmaskError(f"text key frame {outside[0]} is outside the plate's frames {frames[0]}-{frames[-1]}")

    def progress(done: int, total: int) -> None:
        report("find", done, total)

    found: dict[int, np.ndarray] = {}
    if spec.text_keyframes:
        searched = [index[f] for f in sorted(set(spec.text_keyframes))]
        found = seg.find(display.pixels, text, searched, progress=progress, cancel=cancel)
    elif spec.text_search == "all":
        searched = list(range(len(frames)))
        found = seg.find(display.pixels, text, searched, progress=progress, cancel=cancel)
    else:  # the first frame it appears on
        searched = []
        for i in range(len(frames)):
            searched.append(i)
            found = seg.find(display.pixels, text, [i], cancel=cancel)
            progress(i + 1, len(frames) if not found else i + 1)
            if found:
                break
    if not found:
        raise TextNotFoundError(
            f"SAM3 found no {text!r} on frame(s) {describe_frames([frames[i] for i in searched])} "
            f"(score threshold {seg.config.score_threshold:g}); try other words (a short noun phrase "
            "such as 'the glass'), or name key frames where it is in view"
        )
    if len(found) == len(frames):
        return np.stack([found[i] for i in range(len(frames))])
    prompts = [Prompt(i, matte=m.astype(np.float32)) for i, m in sorted(found.items())]
    tracked = _sam2(sam2).propagate_matte(
        display.pixels, prompts, progress=lambda d, t: report("propagate", d, t), cancel=cancel
    )
    for i, m in found.items():  # SAM3's detection is the truth on its own frames
        tracked[i] = m
    return tracked


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


def _reason(spec, plate, remove, affected, display, size, sam2, sam3, reasoner, max_side, colour, report, cancel):
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
    seg = _sam3(sam3) if sam3 is not None else None
    try:
        mattes = analysis_to_mattes(analysis, grid, display.frames, frames=display.pixels, sam2=prop, sam3=seg)
    except ReasonerAnswerError as exc:
        raise ReasonerAnswerError(f"{exc}\nraw answer: {raw[:2000]}", raw) from None
    remove = remove | resize_masks(mattes.remove_extra, size)
    reasoned = resize_masks(mattes.affected, size).astype(np.float32)
    if affected is not None:
        reasoned = np.maximum(reasoned, np.stack(affected) > spec.threshold)
    return remove, list(reasoned), analysis, mattes.notes
