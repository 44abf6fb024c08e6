"""Interaction reasoning with Gemini: what else goes when the object goes.

The artist rotos the object; the model is shown sampled frames with that region tinted red and a
labelled grid, plus the artist's instruction, and answers (structured output, :class:`Analysis`)
which belongings go with the object (added to the remove region), and which other things it
affected — shadows, reflections, things it holds or pushes — as grid cells now and, for things
that would move differently without it, later. Those cells become the affected matte (named
physical objects segmented by their noun with SAM3, or refined by SAM2 from the cells; shadows and
reflections keep the cells) and so the quadmask's 127/63 regions.

Without an API key the stage is skipped with a clear message (:class:`ReasonerSkipped`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from .grid import Grid, annotate_frame, encode_jpeg

log = logging.getLogger(__name__)

# A Gemini Pro model: the reference's interaction prompts were developed against Gemini 3 Pro.
DEFAULT_MODEL = "gemini-3-pro-preview"
API_KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
RETRY_STATUS_CODES = (408, 429, 500, 502, 503, 504)


# ---------------------------------------------------------------------------------------------
# the answer's schema (sent to Gemini as the response schema, and used to validate the answer)


class Cell(BaseModel):
    row: int = Field(description="grid row, 0 at the top")
    col: int = Field(description="grid column, 0 at the left")


class FrameCells(BaseModel):
    frame: int = Field(description="the frame number printed on the picture")
    cells: list[Cell] = Field(description="every grid cell touched by the thing in that frame")


class Belonging(BaseModel):
    noun: str
    why: str
    cells: list[FrameCells] = Field(description="where it is, per picture it is visible in")


class AffectedObject(BaseModel):
    noun: str = Field(description="short name, e.g. 'shadow', 'guitar', 'cushion'")
    category: Literal["visual_artifact", "physical"]
    why: str = Field(description="how the removed object affects it")
    cells_now: list[FrameCells] = Field(description="where it is in the video as shot, per picture it is visible in")
    will_move: bool = Field(
        description="true when, without the removed object, it would be somewhere else "
        "(falls, stays put instead of being moved, ...)"
    )
    cells_later: list[FrameCells] = Field(
        default_factory=list,
        description="only when will_move: where it would be without the removed object, per picture",
    )


class Analysis(BaseModel):
    # reasoning first: the model writes fields in schema order, so it thinks before it answers
    reasoning: str = Field(
        description="brief physical reasoning: what the removed object touches, holds, casts or moves, and what follows"
    )
    integral_belongings: list[Belonging] = Field(
        description="things that go with the removed object (worn, ridden), 0 to 3"
    )
    affected_objects: list[AffectedObject] = Field(
        description="separate things or effects changed by the removal, 0 to 5"
    )
    scene_description: str = Field(description="the scene without the removed object")


# ---------------------------------------------------------------------------------------------
# configuration and errors


class ReasonerError(RuntimeError):
    """The reasoning stage failed (HTTP error after retries, timeout, unusable answer)."""


class ReasonerTimeout(ReasonerError):
    """Gemini did not answer within the configured timeout."""


class ReasonerAnswerError(ReasonerError):
    """Gemini answered, but not in the agreed schema; ``raw`` holds what it said."""

    def __init__(self, message: str, raw: str | None):
        super().__init__(message)
        self.raw = raw


class ReasonerSkipped(Exception):
    """The stage cannot run here (no API key); the message says why and what to set."""


@dataclass(frozen=True)
class ReasonerConfig:
    """How to reach Gemini. ``api_key`` None -> ``$GEMINI_API_KEY`` or ``$GOOGLE_API_KEY``."""

    model: str = DEFAULT_MODEL
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None  # None: Google's endpoint; tests point it at a local fake
    timeout_s: float = 180.0
    attempts: int = 4  # including the first
    initial_delay_s: float = 2.0
    max_delay_s: float = 30.0
    samples: int = 6  # frames shown to the model
    min_grid_cells: int = 8  # grid cells along the frame's short side
    max_image_side: int = 1024

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> "ReasonerConfig":
        """From a config section (keys as the fields); unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = set(cfg) - known
        if unknown:
            raise ReasonerError(f"reasoner config: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**dict(cfg))

    def resolved_api_key(self) -> str | None:
        if self.api_key:
            return self.api_key
        return next((os.environ[k] for k in API_KEY_ENV if os.environ.get(k)), None)


def skip_reason(config: ReasonerConfig) -> str | None:
    """Why the stage cannot run here, or None when it can."""
    if not config.resolved_api_key():
        return (
            "interaction reasoning skipped: no Gemini API key (set GEMINI_API_KEY or the "
            "reasoner's api_key); the quadmask holds the remove region only"
        )
    return None


# ---------------------------------------------------------------------------------------------
# the request


def sample_indices(num_frames: int, samples: int) -> list[int]:
    """Evenly spaced frame indices, first and last included, no repeats."""
    if num_frames <= 0:
        raise ReasonerError("no frames to reason about")
    n = max(1, min(samples, num_frames))
    return sorted({int(round(i)) for i in np.linspace(0, num_frames - 1, n)})


def build_prompt(instruction: str, grid: Grid, shown: Sequence[int]) -> str:
    """The text sent with the pictures (our own wording of the reference's approach)."""
    frames = ", ".join(str(f) for f in shown)
    return f"""You help a visual-effects artist remove an object from a shot, together with
everything the object did to the scene.

You get {len(shown)} pictures sampled from the shot (frames {frames}). In each, the object to be
removed is tinted RED. A YELLOW grid of {grid.rows} rows x {grid.cols} columns is drawn over each
picture; rows are numbered down the left edge from 0 at the top, columns along the top from 0 at
the left. The frame number is written at the bottom of each picture.

Artist's instruction: "{instruction}"

Answer these, using grid cells (row, col) and the printed frame numbers:
1. integral_belongings (0-3): things that must go WITH the red object because they are part of
   it: worn items (hat, backpack), things ridden (bike, skateboard). Not ordinary clothing already
   in red, and not things that are merely held or touched.
2. affected_objects (0-5): separate things or effects that change when the red object is gone.
   - category "visual_artifact": shadows, reflections, splashes, ripples, footprints the object
     causes. They simply vanish. will_move false.
   - category "physical": things the object touches or moves. If the object HOLDS IT UP against
     gravity (a carried cup, a held guitar, a person on a cushion that is deformed), it would fall
     or look different: will_move true. If it rests on a stable surface and the object only acts
     on it, it stays where it is: will_move false. If the object knocks or throws it, without
     the object it would have stayed where it started: will_move true.
   For each, list cells_now: for every picture it is visible in, all cells it touches (err on
   the side of more cells). When will_move is true, also list cells_later: for every picture,
   the cells it would occupy without the red object.
3. scene_description: one or two sentences on the scene without the red object.
Start with reasoning: brief physical reasoning about what the red object touches, holds, casts or
moves.
Do not list the red object itself, background things it never affects, or other people.
Be conservative: when unsure whether something is affected, leave it out."""


def build_request_parts(
    frames: np.ndarray,
    remove: np.ndarray,
    frame_numbers: Sequence[int],
    instruction: str,
    config: ReasonerConfig,
) -> tuple[list[Any], Grid, list[int]]:
    """The content parts (prompt, then a label and a JPEG per sampled frame), the grid used and
    the plate frame numbers shown."""
    from google.genai import types

    t, h, w = remove.shape
    grid = Grid.for_frame(w, h, config.min_grid_cells)
    idx = sample_indices(t, config.samples)
    shown = [int(frame_numbers[i]) for i in idx]
    parts: list[Any] = [types.Part.from_text(text=build_prompt(instruction, grid, shown))]
    for i, f in zip(idx, shown):
        img = annotate_frame(frames[i], remove[i], grid, f"Frame {f}", max_side=config.max_image_side)
        parts.append(types.Part.from_text(text=f"Frame {f}:"))
        parts.append(types.Part.from_bytes(data=encode_jpeg(img), mime_type="image/jpeg"))
    return parts, grid, shown


def make_client(config: ReasonerConfig) -> Any:
    """A google-genai client with our timeout and retry policy (backoff on 408/429/5xx)."""
    from google import genai
    from google.genai import types

    key = config.resolved_api_key()
    if not key:
        raise ReasonerSkipped(skip_reason(config))
    http = types.HttpOptions(
        base_url=config.base_url,
        timeout=int(config.timeout_s * 1000),  # milliseconds
        retry_options=types.HttpRetryOptions(
            attempts=config.attempts,
            initial_delay=config.initial_delay_s,
            max_delay=config.max_delay_s,
            http_status_codes=list(RETRY_STATUS_CODES),
        ),
    )
    return genai.Client(api_key=key, http_options=http)


def parse_answer(raw: str | None) -> Analysis:
    """Validate the model's JSON against :class:`Analysis`; the error quotes the raw answer."""
    if raw is None or not raw.strip():
        raise ReasonerAnswerError("Gemini returned an empty answer", raw)
    text = raw.strip()
    if text.startswith("```"):  # a fenced block despite the JSON mime type
        text = text.strip("`")
        text = text[text.find("{") :] if "{" in text else text
    try:
        return Analysis.model_validate_json(text)
    except ValidationError as exc:
        shown = raw if len(raw) <= 2000 else raw[:2000] + " ..."
        raise ReasonerAnswerError(
            f"Gemini's answer does not fit the expected schema: {exc.error_count()} error(s): "
            f"{'; '.join(_describe(e) for e in exc.errors()[:5])}\nraw answer: {shown}",
            raw,
        ) from None


def _describe(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ())) or "(root)"
    return f"{loc}: {err.get('msg')}"


def ask(
    frames: np.ndarray,
    remove: np.ndarray,
    frame_numbers: Sequence[int],
    instruction: str,
    config: ReasonerConfig,
    *,
    client: Any = None,
) -> tuple[Analysis, Grid, str]:
    """Send the request and return (validated analysis, grid, raw answer text).

    Raises :class:`ReasonerSkipped` without an API key, :class:`ReasonerTimeout`,
    :class:`ReasonerError` for HTTP failures left after retries, :class:`ReasonerAnswerError`.
    """
    from google.genai import errors, types

    timeouts, transport = _transport_errors()

    if not instruction or not instruction.strip():
        raise ReasonerError("reasoner: the instruction is empty (say what to remove and why)")
    if remove.shape[0] != len(frame_numbers) or frames.shape[:3] != remove.shape:
        raise ReasonerError(
            f"reasoner: frames {frames.shape[:3]}, remove mattes {remove.shape} and "
            f"{len(frame_numbers)} frame numbers do not agree"
        )
    client = client or make_client(config)
    parts, grid, _shown = build_request_parts(frames, remove, frame_numbers, instruction, config)
    gen_config = types.GenerateContentConfig(
        response_mime_type="application/json",
        response_schema=Analysis,
        system_instruction="You are an expert in video, physics and visual effects. Answer with "
        "JSON only, following the schema.",
    )
    try:
        response = client.models.generate_content(
            model=config.model, contents=[types.Content(role="user", parts=parts)], config=gen_config
        )
    except timeouts as exc:
        raise ReasonerTimeout(
            f"Gemini ({config.model}) did not answer within {config.timeout_s:g} s ({type(exc).__name__})"
        ) from None
    except errors.APIError as exc:
        tries = f"after {config.attempts} attempt(s)" if exc.code in RETRY_STATUS_CODES else "(not retryable)"
        raise ReasonerError(
            f"Gemini ({config.model}) request failed {tries}: HTTP {exc.code} {exc.status or ''}: {exc.message}"
        ) from None
    except transport as exc:
        raise ReasonerError(f"Gemini ({config.model}) unreachable: {exc}") from None
    raw = _response_text(response)
    if not raw:
        raise ReasonerAnswerError(
            f"Gemini ({config.model}) returned no answer (finish reason: {_finish_reason(response)})", raw
        )
    analysis = parse_answer(raw)
    log.info(
        "reasoner: %d belonging(s), %d affected object(s): %s",
        len(analysis.integral_belongings),
        len(analysis.affected_objects),
        analysis.reasoning[:200],
    )
    return analysis, grid, raw or ""


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeout, other transport) exception types of the HTTP library google-genai runs on:
    it uses ``httpx2`` or ``httpx``, whichever is installed, and raises that library's errors."""
    import importlib

    timeouts: list[type[BaseException]] = []
    transport: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        timeouts += [c for c in (getattr(mod, "TimeoutException", None),) if c]
        transport += [c for c in (getattr(mod, "HTTPError", None),) if c]
    return tuple(timeouts) or (TimeoutError,), tuple(transport) or (OSError,)


def _finish_reason(response: Any) -> str:
    try:
        return str(response.candidates[0].finish_reason)
    except (AttributeError, IndexError, TypeError):
        return "no candidates"


def _response_text(response: Any) -> str | None:
    try:
        return response.text
    except Exception:  # the SDK raises on odd candidate shapes; treat them as no answer
        return None


# ---------------------------------------------------------------------------------------------
# the answer -> mattes


@dataclass
class ReasonedMattes:
    """Per-frame regions from an analysis (bool (T, H, W) each), plus what they came from."""

    remove_extra: np.ndarray  # integral belongings: removed with the object
    affected: np.ndarray  # what the object affected (now and, for moving things, later)
    analysis: Analysis
    notes: list[str] = field(default_factory=list)


def _frames_by_index(
    entries: Sequence[FrameCells], frame_numbers: Sequence[int], noun: str
) -> dict[int, list[tuple[int, int]]]:
    """{frame index: cells} for the frames the model reported; frame numbers off the plate's
    frames snap to the nearest plate frame, numbers outside the range are an answer error."""
    numbers = np.asarray(frame_numbers)
    out: dict[int, list[tuple[int, int]]] = {}
    for e in entries:
        if not numbers.min() <= e.frame <= numbers.max():
            raise ReasonerAnswerError(
                f"Gemini placed {noun!r} on frame {e.frame}, outside the shot "
                f"({int(numbers.min())}-{int(numbers.max())})",
                None,
            )
        i = int(np.abs(numbers - e.frame).argmin())
        out.setdefault(i, []).extend((c.row, c.col) for c in e.cells)
    return out


def _per_frame_regions(by_index: Mapping[int, list[tuple[int, int]]], grid: Grid, t: int, pad_cells: int) -> np.ndarray:
    """Spread reported cells over all frames: a frame between two reported frames gets the union
    of both (things move between samples; over-masking is safe, under-masking leaves ghosts), a
    frame outside the reported span gets the nearest reported frame's cells."""
    out = np.zeros((t, grid.height, grid.width), dtype=bool)
    keys = sorted(by_index)
    if not keys:
        return out
    masks = {k: grid.cells_mask(by_index[k], pad_cells=pad_cells) for k in keys}
    for i in range(t):
        before = [k for k in keys if k <= i]
        after = [k for k in keys if k >= i]
        if before:
            out[i] |= masks[before[-1]]
        if after:
            out[i] |= masks[after[0]]
    return out


def analysis_to_mattes(
    analysis: Analysis,
    grid: Grid,
    frame_numbers: Sequence[int],
    *,
    frames: np.ndarray | None = None,
    sam2: Any = None,
    sam3: Any = None,
    pad_cells: int = 0,
) -> ReasonedMattes:
    """Turn an analysis into per-frame regions at the grid's frame size.

    Grid cells give coarse regions. Named physical objects and belongings are segmented when a
    segmenter is given with ``frames``: with ``sam3`` (a :class:`~.segment_text.Sam3Segmenter`)
    by their noun, on the frames the answer placed them on (then tracked by ``sam2`` when given);
    otherwise, or where SAM3 finds nothing, with ``sam2`` (a :class:`~.propagate.Sam2Propagator`)
    prompted with the centres of their reported cells and tracked over the shot. A segmentation,
    kept within the reported cells grown by one cell, replaces the coarse region where it found
    anything. Visual artifacts (shadows, reflections) keep the cell regions: neither text nor
    point prompts isolate them.
    """
    t = len(frame_numbers)
    shape = (t, grid.height, grid.width)
    remove_extra = np.zeros(shape, dtype=bool)
    affected = np.zeros(shape, dtype=bool)
    notes: list[str] = []

    to_refine: dict[str, tuple[dict[int, list[tuple[int, int]]], np.ndarray, str, str]] = {}
    for n, b in enumerate(analysis.integral_belongings):
        by_idx = _frames_by_index(b.cells, frame_numbers, b.noun)
        region = _per_frame_regions(by_idx, grid, t, pad_cells)
        to_refine[f"belonging{n}"] = (by_idx, region, "remove", b.noun)
    for n, obj in enumerate(analysis.affected_objects):
        now = _frames_by_index(obj.cells_now, frame_numbers, obj.noun)
        now_region = _per_frame_regions(now, grid, t, pad_cells)
        if obj.will_move:
            if not obj.cells_later:
                notes.append(f"{obj.noun!r} will move but no later cells were given; masking where it is now only")
            later = _frames_by_index(obj.cells_later, frame_numbers, obj.noun)
            # where it would be is counterfactual: no pixels to segment, cells only
            affected |= _per_frame_regions(later, grid, t, pad_cells)
        if obj.category == "physical":
            to_refine[f"object{n}"] = (now, now_region, "affected", obj.noun)
        else:
            affected |= now_region

    refined: dict[str, np.ndarray] = {}
    if frames is not None and (sam2 is not None or sam3 is not None):
        refined = _segment_named(to_refine, grid, t, frames, sam2, sam3, pad_cells, notes)
    for key, (by_idx, region, target, _noun) in to_refine.items():
        result = region
        if key in refined:
            limit = _per_frame_regions(by_idx, grid, t, pad_cells + 1)
            seg = refined[key] & limit
            # keep the segmenter's outline where it found the thing, the cells where it did not
            empty = ~seg.reshape(t, -1).any(axis=1)
            seg[empty] = region[empty]
            result = seg
        if target == "remove":
            remove_extra |= result
        else:
            affected |= result
    return ReasonedMattes(remove_extra, affected, analysis, notes)


def _segment_named(
    to_refine: Mapping[str, tuple[dict[int, list[tuple[int, int]]], np.ndarray, str, str]],
    grid: Grid,
    t: int,
    frames: np.ndarray,
    sam2: Any,
    sam3: Any,
    pad_cells: int,
    notes: list[str],
) -> dict[str, np.ndarray]:
    """{key: bool (T, H, W)} for the named things a segmenter found (see analysis_to_mattes)."""
    from .propagate import Prompt

    objects: dict[str, list[Prompt]] = {}
    direct: dict[str, np.ndarray] = {}  # SAM3 results used as they are (no SAM2 to track them)
    for key, (by_idx, _, _, noun) in to_refine.items():
        if not by_idx:
            continue
        if sam3 is not None:
            limit = _per_frame_regions(by_idx, grid, t, pad_cells + 1)
            hits = {i: m & limit[i] for i, m in sam3.find(frames, noun, sorted(by_idx)).items()}
            hits = {i: m for i, m in hits.items() if m.any()}
            if hits:
                notes.append(f"{noun!r}: segmented by SAM3 on {len(hits)} of {len(by_idx)} reported frame(s)")
                if sam2 is not None:
                    objects[key] = [Prompt(frame_index=i, matte=m.astype(np.float32)) for i, m in sorted(hits.items())]
                else:
                    seg = np.zeros((t, grid.height, grid.width), dtype=bool)
                    for i, m in hits.items():
                        seg[i] = m
                    direct[key] = seg
                continue
            fallback = "SAM2 from its cells" if sam2 is not None else "grid cells used"
            notes.append(f"{noun!r}: SAM3 found nothing where it was reported; {fallback}")
        if sam2 is not None:
            first = min(by_idx)
            pts = tuple(grid.cell_centre(r, c) for r, c in by_idx[first] if 0 <= r < grid.rows and 0 <= c < grid.cols)
            if pts:
                objects[key] = [Prompt(frame_index=first, points=pts, labels=(1,) * len(pts))]
    refined = sam2.track(frames, objects) if objects else {}
    refined.update(direct)
    return refined


__all__ = [
    "AffectedObject",
    "Analysis",
    "Belonging",
    "Cell",
    "DEFAULT_MODEL",
    "FrameCells",
    "ReasonedMattes",
    "ReasonerAnswerError",
    "ReasonerConfig",
    "ReasonerError",
    "ReasonerSkipped",
    "ReasonerTimeout",
    "analysis_to_mattes",
    "ask",
    "build_prompt",
    "build_request_parts",
    "make_client",
    "parse_answer",
    "sample_indices",
    "skip_reason",
]
