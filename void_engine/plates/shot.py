"""A shot on its way to the model and back: the plate round-trip the engine runs for every job.

``Shot.load`` reads the plate frames, converts them to the model's colour space, crops the region of
interest around the quadmask and resizes it to the model size. ``Shot.write_result`` takes the model's
frames, scales them back into that region, converts them to the plate's space, finishes them at
plate resolution (void_engine.finish: the plate's own detail where other frames show the background,
the plate's grain where none does, highlights kept through the soft knee ``load`` applied), composites
them over the original plate inside the feathered matte and writes a new versioned sequence. Only model-size
arrays and the ROI crops of the quadmask stay in memory. Loading reads each frame's ROI rows and
beauty channels only; writing reads each frame once (of a scanline EXR, only the chunks the matte
crosses: the others are copied as the plate stores them, :mod:`.exr_chunks`). Both are steps per frame
(:meth:`Shot.load_frame`, :meth:`Shot.write_frame`) that a ``frame_map`` may run in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Executor, wait
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..finish.settings import FinishSettings
from ..finish.stage import BOX_PAD_PX, Finisher, FinishReport, FrameFinish
from ..levels import KEEP, snap_quadmask
from ..progress import StageProgress
from .colour import DEFAULT_MODEL_SPACE, DEFAULT_PLATE_SPACE, ColourConverter, finite
from .composite import composite_matte_box, composite_rgb
from .errors import OutputExistsError, PlateError
from .exr import Plate, PlateSpec, Window, read_plate, read_plate_rows, read_spec, write_atomically, write_plate
from .exr_chunks import open_scanline_exr
from .output import reserve_version_dir
from .roi import fit_roi, mask_bbox, resize_from_model, resize_to_model
from .sequence import FrameSequence, compress_frames

# progress(stage, done, total) (progress.StageProgress): stage is "read" or "write".

# frame_map(step, indices): runs step(t) for every frame index and yields once per frame done, in
# order; the builtin ``map`` (one frame after another, the default) or :func:`executor_frame_map`
# (the frames of one shot in parallel: OpenImageIO, OpenColorIO, OpenCV and numpy release the GIL).
FrameMap = Callable[[Callable[[int], None], Sequence[int]], Iterable[None]]


def executor_frame_map(executor: Executor) -> FrameMap:
    """A :data:`FrameMap` running the frames on ``executor``. Unlike ``executor.map``, closing it
    early (a frame failed, the job was cancelled) cancels the frames not started and waits for those
    running, so no frame is still being written once the caller cleans up its staging folder."""

    def frame_map(step: Callable[[int], None], indices: Sequence[int]) -> Iterator[None]:
        futures = [executor.submit(step, i) for i in indices]
        try:
            for future in futures:
                future.result()
                yield None
        finally:
            for future in futures:
                future.cancel()
            wait(futures)

    return frame_map


def _run_frames(frame_map: FrameMap | None, step: Callable[[int], None], n: int) -> Generator[int, None, None]:
    """Run ``step`` over frame indices 0..n-1 with ``frame_map``, yielding the count done; when the
    caller stops early (an exception), every frame step has ended before the exception goes on."""
    frames = (frame_map or map)(step, range(n))
    try:
        for done, _ in enumerate(frames, 1):
            yield done
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True)
class ShotSettings:
    """How a plate is prepared for the model and composited back (all have studio-safe defaults)."""

    model_size: tuple[int, int] = (384, 672)  # (H, W) the model was trained at
    context_fraction: float = 0.25  # context around the mask, as a fraction of its larger side
    context_min_px: int = 64  # …but at least this many pixels
    plate_space: str = DEFAULT_PLATE_SPACE
    model_space: str = DEFAULT_MODEL_SPACE
    ocio_config: str | None = None  # None: $OCIO, else OCIO's built-in studio config
    dilate_px: int = 8  # grow the remove/affected region before feathering (display pixels)
    feather_px: int = 16  # soft edge width beyond the dilated region (display pixels)
    premultiplied: bool = True  # EXR convention: RGB is premultiplied by A when A exists
    # The finish stage at plate resolution (a mapping, as the engine config passes it, is accepted).
    finish: FinishSettings = field(default_factory=FinishSettings)

    def __post_init__(self) -> None:
        finish: Any = self.finish
        if isinstance(finish, dict):
            object.__setattr__(self, "finish", FinishSettings.from_mapping(finish))
        elif not isinstance(finish, FinishSettings):
            raise TypeError(f"ShotSettings.finish must be FinishSettings or a mapping, got {type(finish).__name__}")

    @property
    def highlight(self) -> tuple[float, float] | None:
        """The soft-knee highlight encoding (knee, scene-linear ceiling) the model path uses, or None."""
        f = self.finish
        return (f.highlight_knee, f.highlight_ceiling) if f.enabled and f.highlights else None


@dataclass(frozen=True)
class OutputSequence:
    """Where a job's result went, and what the finish stage said about it."""

    version_dir: Path
    pattern: str
    frames: tuple[int, ...]
    notes: tuple[str, ...] = ()  # lines for the job's events and the CLI (upscale, revealed, grain)
    finish: FinishReport | None = None

    def path(self, frame: int) -> Path:
        return FrameSequence(self.pattern, self.frames).path(frame)


def _check_same_canvas(display: Window, spec: PlateSpec, path: Path) -> None:
    if spec.display_window != display:
        raise PlateError(
            f"{path}: display window {spec.display_window} differs from the first frame's "
            f"{display}; a shot must keep one canvas"
        )


def _pixel_aspect(spec: PlateSpec) -> float:
    """The plate's pixel aspect ratio (EXR ``pixelAspectRatio``; 1 when absent or unusable)."""
    try:
        value = float(spec.attribute("PixelAspectRatio", 1.0))
    except (TypeError, ValueError):
        return 1.0
    return value if np.isfinite(value) and value > 0 else 1.0


class Shot:
    """One job's plate, prepared for the model. Build with :meth:`Shot.load`."""

    def __init__(
        self,
        plate: FrameSequence,
        settings: ShotSettings,
        display: Window,
        roi: Window,
        quadmask_roi: np.ndarray,
        model_video: np.ndarray,
        model_quadmask: np.ndarray,
        colour: ColourConverter,
    ):
        self.plate = plate
        self.settings = settings
        self.display = display  # the plate's display window
        self.roi = roi  # absolute pixel coordinates, inside the display window
        self.quadmask_roi = quadmask_roi  # (T, roi.h, roi.w) uint8, full resolution
        self.model_video = model_video  # (T, H, W, 3) float32 in [0, 1], model colour space
        self.model_quadmask = model_quadmask  # (T, H, W) uint8, the four levels
        self.colour = colour

    @classmethod
    def plan(
        cls, plate: FrameSequence, quadmasks: Sequence[np.ndarray], settings: ShotSettings | None = None
    ) -> "Shot":
        """The shot's canvas and region of interest from its first frame's header and ``quadmasks``,
        with its arrays allocated and not yet filled (:meth:`load_frame` fills them). Raises as
        :meth:`load` for everything but a frame's pixels."""
        settings = settings or ShotSettings()
        plate.require_complete()
        if len(quadmasks) != len(plate.frames):
            raise PlateError(
                f"quadmask has {len(quadmasks)} frames but plate {plate.pattern} has {len(plate.frames)} "
                f"({compress_frames(plate.frames)})"
            )
        first = read_spec(plate.path(plate.frames[0]))
        display = first.display_window
        for frame, q in zip(plate.frames, quadmasks):
            if q.shape != (display.height, display.width):
                raise PlateError(
                    f"quadmask for frame {frame} is {q.shape[1]}x{q.shape[0]}, the plate's display window "
                    f"is {display.width}x{display.height}"
                )
        colour = ColourConverter(settings.plate_space, settings.model_space, settings.ocio_config, settings.highlight)

        # Union frame by frame: a (T, H, W) stack of a 300-frame 4K shot would be 2.6 GB more.
        active = np.zeros((display.height, display.width), bool)
        for q in quadmasks:
            active |= q != KEEP
        bbox = mask_bbox(active)
        # The context must at least hold the dilated + feathered matte, so it never hits the ROI edge.
        margin_px = max(settings.context_min_px, settings.dilate_px + settings.feather_px + 2)
        rel = fit_roi(
            bbox,
            (display.height, display.width),
            settings.model_size,
            margin_px,
            settings.context_fraction,
            _pixel_aspect(first),
        )
        roi = Window(display.x + rel.x, display.y + rel.y, rel.width, rel.height)

        mh, mw = settings.model_size
        n = len(plate.frames)
        return cls(
            plate,
            settings,
            display,
            roi,
            np.empty((n, roi.height, roi.width), np.uint8),
            np.empty((n, mh, mw, 3), np.float32),
            np.empty((n, mh, mw), np.uint8),
            colour,
        )

    @classmethod
    def load(
        cls,
        plate: FrameSequence,
        quadmasks: Sequence[np.ndarray],
        settings: ShotSettings | None = None,
        progress: StageProgress | None = None,
        frame_map: FrameMap | None = None,
    ) -> "Shot":
        """Read ``plate`` and prepare it for the model around ``quadmasks``.

        ``quadmasks`` holds one uint8 (H, W) array of raw levels per frame, at the plate's
        display-window size. Raises PlateError naming the frame for a missing or corrupt file, a
        quadmask of the wrong size or count, or a change of canvas inside the shot. Only the ROI's
        rows and the beauty channels of each frame are read. ``frame_map`` runs the frames
        (default: one after another); :meth:`plan` then :meth:`load_frame` per frame is the same.
        """
        shot = cls.plan(plate, quadmasks, settings)
        n = len(plate.frames)
        with closing(_run_frames(frame_map, lambda t: shot.load_frame(t, quadmasks[t]), n)) as frames:
            for done in frames:
                if progress:
                    progress("read", done, n)
        return shot

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays this shot holds (the model's inputs and the ROI quadmasks)."""
        return self.model_video.nbytes + self.model_quadmask.nbytes + self.quadmask_roi.nbytes

    def load_frame(self, t: int, quadmask: np.ndarray) -> None:
        """Read frame index ``t`` of the plate (the ROI's rows, beauty channels only) and fill its
        slot of :attr:`model_video`, :attr:`model_quadmask` and :attr:`quadmask_roi` from it and
        ``quadmask`` (the frame's full-size raw levels). Frames may be loaded in any order, at once."""
        settings, roi = self.settings, self.roi
        rgb = self.roi_rgb(t)
        self.model_video[t] = resize_to_model(self.colour.to_model(rgb), settings.model_size)
        rx, ry = roi.x - self.display.x, roi.y - self.display.y
        q = quadmask[ry : ry + roi.height, rx : rx + roi.width]
        self.quadmask_roi[t] = q
        self.model_quadmask[t] = snap_quadmask(np.rint(resize_to_model(q.astype(np.float32), settings.model_size)))

    def roi_rgb(self, t: int) -> np.ndarray:
        """Frame index ``t``'s ROI as linear, unpremultiplied RGB (h, w, 3) float32, read from its
        ROI rows and beauty channels only. Raises PlateError naming the file and frame."""
        frame = self.plate.frames[t]
        path = self.plate.path(frame)
        wanted = ("R", "G", "B", "A") if self.settings.premultiplied else ("R", "G", "B")
        frame_plate = read_plate_rows(path, self.roi, wanted)
        _check_same_canvas(self.display, frame_plate.spec, path)
        try:
            return self._unpremultiplied_rgb(frame_plate, self.roi, self.settings.premultiplied)
        except PlateError as exc:  # e.g. no R, G, B channels: say which file
            raise PlateError(f"{path} (frame {frame}): {exc}") from None

    @staticmethod
    def _unpremultiplied_rgb(plate: Plate, roi: Window, premultiplied: bool) -> np.ndarray:
        rgb = plate.display_canvas(plate.spec.rgb_indices, roi)
        a_idx = plate.spec.alpha_index
        if premultiplied and a_idx is not None:
            alpha = plate.display_canvas((a_idx,), roi)
            covered = alpha > 0
            # In place: rgb is a canvas of its own. A solid plate (alpha > 0 everywhere) divides
            # without ``where``, which numpy runs at a fraction of the speed.
            if covered.all():
                rgb /= alpha
            else:
                np.divide(rgb, alpha, out=rgb, where=covered)
        return rgb

    def output_pattern(self, version_dir: Path, name: str) -> str:
        pad = max(4, FrameSequence(self.plate.pattern, self.plate.frames).padding)
        return str(version_dir / f"{name}.{'#' * pad}.exr")

    def write_result(
        self,
        model_video: np.ndarray,
        out_root: str | Path,
        name: str,
        provenance: dict[str, str] | None = None,
        *,
        version_dir: Path | None = None,
        resume: bool = False,
        progress: StageProgress | None = None,
        frame_map: FrameMap | None = None,
        seed: int = 0,
    ) -> OutputSequence:
        """Finish ``model_video`` (T, H, W, 3) in [0, 1], composite it over the plate, write a new version.

        Writes ``<out_root>/v###/<name>.####.exr`` (the next free version unless ``version_dir`` is
        given). Each frame keeps the plate's windows, channels, types, compression and attributes,
        plus provenance attributes (``void:*``). Pixels outside the matte are bit-identical to the
        plate. With ``resume``, frames already published in ``version_dir`` (by an earlier, crashed
        attempt of the same job) are kept; otherwise an existing file is an error. ``frame_map``
        runs the frames (default: one after another); each is :meth:`write_frame`. ``seed`` (the
        job's) seeds the finish stage's synthesized grain, new per frame; the finish's notes and
        report come back on the result.
        """
        mh, mw = self.settings.model_size
        expected = (len(self.plate.frames), mh, mw, 3)
        if model_video.shape != expected:
            raise PlateError(f"model result has shape {model_video.shape}, expected {expected}")
        version_dir = Path(version_dir) if version_dir else reserve_version_dir(out_root)
        version_dir.mkdir(parents=True, exist_ok=True)
        sources = {p.resolve() for p in self.plate.paths()}
        out = OutputSequence(version_dir, self.output_pattern(version_dir, name), self.plate.frames)
        attrs = self._provenance(provenance or {})
        n = len(self.plate.frames)
        targets = [out.path(frame) for frame in self.plate.frames]
        for target in targets:  # all of them before any frame is written
            if target.resolve() in sources:
                raise OutputExistsError(f"{target}: is a source plate frame; sources are never overwritten")

        finishing = _InOrder(self._finisher(seed)) if self.settings.finish.enabled else None

        def step(t: int) -> None:
            try:
                if not (resume and targets[t].exists()):
                    self.write_frame(t, model_video[t], targets[t], attrs, finishing=finishing)
            except BaseException:
                if finishing is not None:
                    finishing.broken()
                raise
            finally:
                if finishing is not None:
                    finishing.passed(t)

        try:
            with closing(_run_frames(frame_map, step, n)) as frames:
                for done in frames:
                    if progress:
                        progress("write", done, n)
        finally:
            if finishing is not None:
                finishing.finisher.close()
        if finishing is None:
            return out
        report = finishing.finisher.report
        notes = tuple(report.notes(self.settings.finish.warn_upscale))
        return OutputSequence(out.version_dir, out.pattern, out.frames, notes, report)

    def _finisher(self, seed: int) -> Finisher:
        """A finisher reading this shot's ROI crops (linear, unpremultiplied) and keep masks."""

        def read(index: int) -> tuple[np.ndarray, np.ndarray]:
            return finite(self.roi_rgb(index), in_place=True), self.quadmask_roi[index] == KEEP

        s = self.settings
        return Finisher(
            s.finish,
            read,
            len(self.plate.frames),
            (self.roi.height, self.roi.width),
            s.model_size,
            seed=seed,
            matte_reach_px=s.dilate_px + s.feather_px,
            frame_numbers=self.plate.frames,
        )

    def write_frame(
        self,
        t: int,
        model_frame: np.ndarray,
        target: Path,
        attrs: dict[str, str],
        *,
        finishing: "_InOrder | None" = None,
    ) -> None:
        """Composite the model's frame ``t`` ((H, W, 3) in [0, 1]) over plate frame index ``t``
        (read once, here: whole, or for a scanline EXR only the chunks the matte crosses, the others
        copied as stored) and write it to ``target`` atomically with the header attributes ``attrs``
        added. Frames may be written in any order, at once; with ``finishing`` (what
        :meth:`write_result` builds when the finish is on) the fill is finished first, the frames
        taking their turn at it in order."""
        s = self.settings
        path = self.plate.path(self.plate.frames[t])
        # Only pixels inside the matte are blended, and the matte is 0 outside its box: the model's
        # frame is scaled, clamped and converted to the plate's space there alone, which gives them
        # the same values as doing the whole ROI (the clamp and OCIO work pixel by pixel).
        matte, box = composite_matte_box(self.quadmask_roi[t], s.dilate_px, s.feather_px)
        model_lin = None
        if box is not None and finishing is None:
            model_lin = self.colour.from_model(resize_from_model(model_frame, self.roi, box))
        elif box is not None and finishing is not None:
            # The finish reads a few pixels around the matte's box; the write uses the box alone.
            grown_matte, grown = _grown(matte, box, BOX_PAD_PX, self.roi)
            upscaled = resize_from_model(model_frame, self.roi, grown, dering=True)
            finished = finishing.frame(t, self.colour.from_model(upscaled), grown_matte, origin=(grown.x, grown.y))
            ys, xs = slice(box.y - grown.y, box.y_end - grown.y), slice(box.x - grown.x, box.x_end - grown.x)
            model_lin = finished.rgb[ys, xs]
            attrs = {
                **attrs,
                **finishing.finisher.report.attributes(),
                "void:finish_revealed": f"{finished.revealed_fraction:.4f}",
            }
        if self._write_changed_chunks(path, model_lin, matte, box, target, attrs):
            return
        plate = read_plate(path)
        pixels = plate.pixels
        if model_lin is not None:
            pixels = self._composite_frame(plate, model_lin, matte, box)
        write_plate(target, Plate(pixels, plate.spec.with_attributes(attrs)))

    def _write_changed_chunks(
        self,
        path: Path,
        model_lin: np.ndarray | None,
        matte: np.ndarray,
        box: Window | None,
        target: Path,
        attrs: dict[str, str],
    ) -> bool:
        """:meth:`write_frame` for a plate :mod:`.exr_chunks` rewrites: only the chunks of scanlines
        the matte's box crosses are decoded, composited and encoded again; the rest of the file is
        copied. False (nothing written) for a plate it does not rewrite."""
        raw = open_scanline_exr(path)
        if raw is None or not {"R", "G", "B"} <= set(raw.channel_names):
            return False
        data = Window(raw.x, raw.y, raw.width, raw.height)
        region = None
        if box is not None:
            region = Window(self.roi.x + box.x, self.roi.y + box.y, box.width, box.height).intersect(data)
        if model_lin is None or region is None:
            write_atomically(target, lambda tmp: raw.write(tmp, attrs, decoded=(self.roi.y, self.roi.y_end)))
            return True
        y0, y1 = raw.chunk_rows(region.y, region.y_end)
        rows = raw.read_rows(y0, y1)
        names = tuple(c for c in ("R", "G", "B", "A") if c in rows)
        before = np.stack([rows[c].astype(np.float32) for c in names], axis=-1)
        spec = PlateSpec(
            Window(raw.x, y0, raw.width, y1 - y0),
            self.display,
            names,
            tuple("half" if rows[c].itemsize == 2 else "float" for c in names),
        )
        after = self._composite_frame(Plate(before.copy(), spec), model_lin, matte, box)
        # Back in each channel's own type, only where a value changed: the others keep their bits.
        changed = after.view(np.uint32) != before.view(np.uint32)
        for k, c in enumerate(names):
            rows[c][changed[..., k]] = after[..., k][changed[..., k]]
        # The load read the ROI's rows of this frame: their chunks are known to decode.
        decoded = (self.roi.y, self.roi.y_end)
        write_atomically(target, lambda tmp: raw.write(tmp, attrs, rows, y0, decoded))
        return True

    def _composite_frame(
        self, plate: Plate, model_lin: np.ndarray, matte: np.ndarray, box: Window | None = None
    ) -> np.ndarray:
        """The plate's pixels with the model blended in where the matte is > 0 (within the data window).
        ``model_lin`` and ``matte`` cover ``box`` of the ROI (in the ROI's coordinates; None: all of
        it). Blends into ``plate.pixels`` itself (a frame read for this write alone) and returns them."""
        pixels = plate.pixels
        data = plate.spec.data_window
        roi = self.roi
        if box is not None:
            roi = Window(roi.x + box.x, roi.y + box.y, box.width, box.height)
        region = roi.intersect(data)
        if region is None:
            return pixels
        # Same region, in the box's and in the data window's coordinates.
        ry, rx = (
            slice(region.y - roi.y, region.y_end - roi.y),
            slice(region.x - roi.x, region.x_end - roi.x),
        )
        dy, dx = slice(region.y - data.y, region.y_end - data.y), slice(region.x - data.x, region.x_end - data.x)
        rgb_idx = list(plate.spec.rgb_indices)
        a_idx = plate.spec.alpha_index
        alpha = pixels[dy, dx, a_idx] if (self.settings.premultiplied and a_idx is not None) else None
        pixels[dy, dx][..., rgb_idx] = composite_rgb(
            pixels[dy, dx][..., rgb_idx], model_lin[ry, rx], matte[ry, rx], alpha
        )
        return pixels

    def _provenance(self, extra: dict[str, str]) -> dict[str, str]:
        attrs = {
            "void:engine_version": __version__,
            "void:plate_colourspace": self.settings.plate_space,
            "void:model_colourspace": self.settings.model_space,
            "void:ocio_config": self.colour.config_name,
            "void:frame_range": compress_frames(self.plate.frames),
            "void:source": self.plate.pattern,
            "void:roi": f"{self.roi.x},{self.roi.y},{self.roi.width},{self.roi.height}",
        }
        for key, value in extra.items():
            attrs[key if key.startswith("void:") else f"void:{key}"] = str(value)
        return attrs


class _InOrder:
    """A shot's :class:`Finisher`, taken by its frames in order however many threads write them.

    The finisher keeps a sliding window of frames and measures the grain on the first ones, so it
    must see frame indices in order. Every frame's write calls :meth:`passed` when it ends (written,
    skipped on resume, or failed); :meth:`frame` waits until every earlier index has passed. Frames
    are submitted to the I/O pool in order, so an earlier frame has always started by then. After a
    failure (:meth:`broken`) waiting frames stop: the write is failing anyway.
    """

    def __init__(self, finisher: Finisher):
        self.finisher = finisher
        self._cond = threading.Condition()
        self._passed: set[int] = set()
        self._next = 0  # every index below this has passed
        self._broken = False

    def frame(self, t: int, model_lin: np.ndarray, matte: np.ndarray, origin: tuple[int, int]) -> FrameFinish:
        with self._cond:
            self._cond.wait_for(lambda: self._next >= t or self._broken)
            if self._broken:
                raise PlateError(f"frame index {t}: not finished, an earlier frame's write failed")
        # Every earlier frame has passed and no later one passes before this one does: the
        # finisher is this thread's alone until then (no lock held while it works).
        return self.finisher.frame(t, model_lin, matte, origin)

    def passed(self, t: int) -> None:
        with self._cond:
            self._passed.add(t)
            while self._next in self._passed:
                self._next += 1
            self._cond.notify_all()

    def broken(self) -> None:
        with self._cond:
            self._broken = True
            self._cond.notify_all()


def _grown(matte: np.ndarray, box: Window, pad: int, roi: Window) -> tuple[np.ndarray, Window]:
    """``matte`` (covering ``box`` of the ROI) on ``box`` grown by ``pad`` pixels, inside the ROI;
    the matte is 0 outside its box, so the new pixels are 0."""
    x0, y0 = max(0, box.x - pad), max(0, box.y - pad)
    x1, y1 = min(roi.width, box.x_end + pad), min(roi.height, box.y_end + pad)
    grown = np.zeros((y1 - y0, x1 - x0), matte.dtype)
    grown[box.y - y0 : box.y_end - y0, box.x - x0 : box.x_end - x0] = matte
    return grown, Window(x0, y0, x1 - x0, y1 - y0)
