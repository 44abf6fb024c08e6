"""The finish stage, frame by frame: :class:`Finisher` and its one entry point :meth:`Finisher.frame`.

The plate layer hands a :class:`Finisher` a way to read any frame's ROI crop (linear RGB) and keep
mask, then asks for each frame in turn. The finisher keeps a sliding window of ±``search_radius``
frames (ROI crops as half floats, small grey images for alignment), so every plate frame is read
once however long the shot; the frames of the first window are read and prepared on two threads,
and then each frame about to enter the window while the current one is finished (EXR decoding and
OpenCV release the GIL), so on a multi-core machine the reads cost the finish little wall time.
Per frame, all per-pixel work is confined to the matte's boxes. :meth:`Finisher.close` stops
those threads.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from .align import (
    RESAMPLE,
    Motion,
    estimate_motion,
    find_corners,
    full_resolution_maps,
    grey_level,
    reduce_mask,
    residual_shift,
    to_grey,
    warp,
)
from .grain import GrainModel, measure_grain, resampling_gain, synthesize
from .reveal import Background, choose_candidates, combine, exposure_gain, robust_background
from .settings import FinishSettings

# read(index) -> (rgb (h, w, 3) float32 linear, keep (h, w) bool), both the ROI crop of that frame.
FrameReader = Callable[[int], tuple[np.ndarray, np.ndarray]]
BOX_PAD_PX = 4
PEAK_BLOCK = 16  # px: the plate's brightest keep value is kept per block of this size
VALID_ERODE_PX = 2  # full-res pixels at the edge of a warped keep region are not trusted
GRAIN_TILE_PX = 128  # the grain is measured on square tiles of the ring around the matte, this size
GRAIN_TILES = 12  # tiles a frame, at most (three frames: ~590k px, more than the statistics use)
EXPOSURE_EXACT = 1e-4  # a candidate's exposure gain closer to 1 than this is not applied
READERS = 2  # threads reading the window's frames ahead (the first frame's window is read by both)


@dataclass
class _Frame:
    rgb: np.ndarray  # (h, w, 3) float16: half is what plates hold, and half the memory of float32
    keep: np.ndarray  # (h, w) bool
    grey: np.ndarray  # (sh, sw) uint8, alignment size
    keep_small: np.ndarray  # (sh, sw) bool, eroded
    corners: np.ndarray  # (N, 1, 2) float32 trackable corners on keep pixels (alignment size)
    peak: np.ndarray  # (ceil(h / PEAK_BLOCK), ceil(w / PEAK_BLOCK)) float32 brightest keep value per block


@dataclass(frozen=True)
class FrameFinish:
    """One finished frame and what happened to it."""

    rgb: np.ndarray  # (h, w, 3) float32 linear, the ROI with the fill finished inside the matte
    revealed_fraction: float  # share of the matte's weight whose detail came from the plate
    candidates: int  # frames that voted


@dataclass
class FinishReport:
    """What the finish did over a shot (for events, provenance and the CLI)."""

    upscale: float
    grain: GrainModel | None = None
    revealed: list[float] = field(default_factory=list)
    seconds: float = 0.0  # wall-clock time spent finishing (waits for the window's frame reads included)
    # CPU time of the finishing threads: the one finishing and the readers ahead (the threads
    # OpenEXR and OpenCV run internally are not counted)
    cpu_seconds: float = 0.0

    @property
    def revealed_fraction(self) -> float:
        return float(np.mean(self.revealed)) if self.revealed else 0.0

    def notes(self, warn_upscale: float) -> list[str]:
        lines = [
            f"finish: upscale {self.upscale:.2f}x, {100 * self.revealed_fraction:.1f}% of the fill from the plate, "
            + (f"grain {self.grain.describe()}" if self.grain else "no grain measured"),
        ]
        if self.upscale > warn_upscale:
            lines.append(
                f"finish: warning: the model's result was upscaled {self.upscale:.2f}x (more than {warn_upscale:g}x); "
                "detail where the plate never shows the background is synthesized (grain only)"
            )
        return lines

    def attributes(self) -> dict[str, str]:
        out = {
            "void:finish_upscale": f"{self.upscale:.3f}",
            "void:finish_revealed": f"{self.revealed_fraction:.4f}",
        }
        if self.grain is not None:
            out["void:finish_grain"] = self.grain.describe()
        return out


class Finisher:
    """Finishes the frames of one shot in order (see the module docstring)."""

    def __init__(
        self,
        settings: FinishSettings,
        read: FrameReader,
        frames: int,
        roi_size: tuple[int, int],
        model_size: tuple[int, int],
        *,
        seed: int = 0,
        matte_reach_px: int = 24,
        frame_numbers: tuple[int, ...] | None = None,
        read_ahead: bool = True,
    ):
        self.settings = settings
        self._read = read
        self.frames = frames
        self.roi_h, self.roi_w = roi_size
        self.seed = int(seed)
        self.frame_numbers = frame_numbers or tuple(range(frames))
        self.reach_px = matte_reach_px
        mh, mw = model_size
        self.report = FinishReport(upscale=max(self.roi_h / mh, self.roi_w / mw))
        self.scale = min(1.0, settings.align_long_side / max(self.roi_h, self.roi_w))  # low-res px per full px
        self.small = (max(16, round(self.roi_w * self.scale)), max(16, round(self.roi_h * self.scale)))
        self._window: dict[int, _Frame] = {}
        self._step: dict[int, Motion | None] = {}  # motion t -> t + 1 (chained for candidate choice)
        self._pairs: dict[tuple[int, int], Motion | None] = {}  # motion t -> s, each pair measured once
        self._grain_done = False
        # Frames read and prepared ahead of the window, on threads of their own (see the module docstring).
        self._reader = ThreadPoolExecutor(READERS, thread_name_prefix="finish-read") if read_ahead else None
        self._ahead: dict[int, Future[tuple[_Frame, float]]] = {}
        self._chosen: tuple[int, list[int]] | None = None  # the frame index and its candidate frames

    def close(self) -> None:
        """Stop reading ahead (a read in progress is waited for). The finisher stays usable."""
        if self._reader is not None:
            for future in self._ahead.values():
                future.cancel()
            self._ahead.clear()
            self._reader.shutdown(wait=True)
            self._reader = None

    # -- the window of frames ---------------------------------------------------------------

    def _load(self, index: int) -> tuple[_Frame, float]:
        """Frame ``index`` read and prepared for the window, and the CPU seconds it took (any thread)."""
        cpu_started = time.thread_time()
        rgb, keep = self._read(index)
        grey, keep_small = to_grey(rgb, self.small), reduce_mask(keep, self.small)
        frame = _Frame(
            _converted(rgb, cv2.CV_16F), keep, grey, keep_small, find_corners(grey, keep_small), _block_peak(rgb, keep)
        )
        return frame, time.thread_time() - cpu_started

    def _get(self, index: int) -> _Frame:
        frame = self._window.get(index)
        if frame is None:
            future = self._ahead.pop(index, None)
            if future is None:
                frame, _ = self._load(index)  # on this thread: frame() counts its CPU time
            else:
                frame, cpu = future.result()
                self.report.cpu_seconds += cpu  # the reader thread's
            self._window[index] = frame
        return frame

    def _window_range(self, t: int) -> range:
        r = self.settings.search_radius if self.settings.reveal else 0
        return range(max(0, t - r), min(self.frames, t + r + 1))

    def _request(self, t: int) -> None:
        """Slide the window to frame ``t``: frames that left it are dropped, and every frame of it
        not read yet (all of them at the first frame) and the one after it go to the readers."""
        window = self._window_range(t)
        for index in [i for i in self._window if i < window.start]:
            del self._window[index]
        for pair in [p for p in self._pairs if min(p) < window.start]:
            del self._pairs[pair]
        if self._reader is not None:
            for index in range(window.start, min(self.frames, window.stop + 1)):
                if index not in self._window and index not in self._ahead:
                    self._ahead[index] = self._reader.submit(self._load, index)

    def _fill(self, t: int) -> None:
        """Take the window's frames in order as the readers deliver them, measuring the camera's
        step onto each as it arrives: this thread's work overlaps the reads still under way."""
        window = self._window_range(t)
        for index in window:
            self._get(index)
            if self.settings.reveal and index > window.start and index - 1 not in self._step:
                self._step[index - 1] = self._motion(index - 1, index)

    # -- grain ------------------------------------------------------------------------------

    def _measure_grain(self) -> None:
        """Once per shot, on the first frames of the window: tiles of the ring of keep pixels
        around the matte.

        Each tile is compared with a neighbour frame aligned onto it, so the static texture of the
        background cancels and only the grain (new every frame) is measured; without a trustworthy
        alignment the frame's own high frequencies are measured (texture counts then). A few tiles
        spread around the ring hold all the samples the statistics need, and are aligned each on
        its own (a local shift is more exact than one for the whole ring) at a fraction of the cost
        of aligning the ring's whole box.
        """
        self._grain_done = True
        picks = sorted({0, min(self.frames - 1, self.settings.search_radius // 2), min(self.frames - 1, 2)})
        tile = GRAIN_TILE_PX
        gap_rgb, gap_region = np.zeros((tile, 8, 3), np.float32), np.zeros((tile, 8), bool)
        crops: list[np.ndarray] = []
        others: list[np.ndarray] = []
        regions: list[np.ndarray] = []
        shifts: list[tuple[float, float] | None] = []
        for index in picks:
            frame = self._get(index)
            ring = self._grain_ring(frame.keep)
            for x0, y0 in _spread_tiles(ring, tile, GRAIN_TILES):
                x1, y1 = min(self.roi_w, x0 + tile), min(self.roi_h, y0 + tile)
                box = (x0, y0, x1 - x0, y1 - y0)
                rgb = _converted(frame.rgb[y0:y1, x0:x1], cv2.CV_32F)
                region = ring[y0:y1, x0:x1]
                other, shift = self._aligned_neighbour(index, box, rgb, region)
                other_rgb = np.zeros_like(rgb)
                if other is not None:
                    other_rgb, valid = other
                    region = region & valid
                # Every tile padded to tile x tile, a gap column between tiles so that the blur of
                # one does not reach the next.
                for part, value in ((crops, rgb), (others, other_rgb), (regions, region)):
                    padded = np.zeros((tile, tile, *value.shape[2:]), value.dtype)
                    padded[: y1 - y0, : x1 - x0] = value
                    part.append(padded)
                crops.append(gap_rgb)
                others.append(gap_rgb)
                regions.append(gap_region)
                shifts.append(shift)
        if not shifts:
            return
        rgb_all, region_all = np.concatenate(crops, axis=1), np.concatenate(regions, axis=1)
        known = [sh for sh in shifts if sh is not None]
        if len(known) == len(shifts):
            first = measure_grain(rgb_all, region_all, other=np.concatenate(others, axis=1))
            if first is not None:
                # The neighbour was resampled: its grain residual lost some variance (its size known now).
                gain = float(np.mean([resampling_gain(first.size_px, sh) for sh in known]))
                scale = np.float32(np.sqrt(2.0 / (1.0 + gain)))
                self.report.grain = dataclasses.replace(first, sigma=first.sigma * scale)
                return
        self.report.grain = measure_grain(rgb_all, region_all)

    def _grain_ring(self, keep: np.ndarray) -> np.ndarray:
        """The keep pixels between ``reach_px + 4`` and that plus ``grain_ring_px`` from the matte
        (all of them when the frame has no matte)."""
        hole = ~keep
        if not hole.any():  # no matte in that frame: its whole crop is plate
            return keep.copy()
        inner = self.reach_px + 4
        outer = inner + self.settings.grain_ring_px
        # The distance transform runs on the matte's box grown by the ring only: every zero of it
        # lies inside, so the distances there are those of the whole crop, at a fraction of the cost.
        # (OpenCV's 3x3 L2 mask steps 0.955 per pixel, so the ring reaches outer / 0.955 px.)
        grow = int(np.ceil(outer / 0.95)) + 2
        ys, xs = np.nonzero(hole.any(axis=1))[0], np.nonzero(hole.any(axis=0))[0]
        y0, y1 = max(0, int(ys[0]) - grow), min(keep.shape[0], int(ys[-1]) + grow + 1)
        x0, x1 = max(0, int(xs[0]) - grow), min(keep.shape[1], int(xs[-1]) + grow + 1)
        dist = cv2.distanceTransform(keep[y0:y1, x0:x1].astype(np.uint8), cv2.DIST_L2, 3)
        ring = np.zeros_like(keep)
        ring[y0:y1, x0:x1] = (dist > inner) & (dist <= outer)
        return ring

    def _aligned_neighbour(
        self, index: int, box: tuple[int, int, int, int], target: np.ndarray, region: np.ndarray
    ) -> tuple[tuple[np.ndarray, np.ndarray] | None, tuple[float, float] | None]:
        """The next (or previous) frame's pixels and keep mask aligned onto ``box`` of frame ``index``
        (whose pixels are ``target``), and the sub-pixel shift the alignment resampled it by (at the
        box's centre). The alignment is refined on ``region`` to a few hundredths of a pixel, so the
        texture cancels in the difference the grain is measured on."""
        for s in (index + 1, index - 1):
            if not 0 <= s < self.frames:
                continue
            motion = self._motion(index, s)
            if motion is None:
                continue
            sampling = full_resolution_maps(motion, self.scale, box)
            rgb, keep = _source_region(self._get(s), sampling, (box[2], box[3]))
            if rgb is None or isinstance(sampling, tuple):
                continue
            target_grey = grey_level(target)
            for _ in range(2):
                shift = residual_shift(target_grey, grey_level(rgb), region & keep)
                if shift is None:
                    break
                sampling = sampling @ np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]], [0.0, 0.0, 1.0]])
                moved, moved_keep = _source_region(self._get(s), sampling, (box[2], box[3]))
                if moved is None:
                    break
                rgb, keep = moved, moved_keep
            cx, cy = box[2] / 2.0, box[3] / 2.0
            p = sampling @ np.array([cx, cy, 1.0])
            return (rgb, keep), (float(p[0] / p[2] - cx), float(p[1] / p[2] - cy))
        return None, None

    # -- motion -----------------------------------------------------------------------------

    def _motion(self, t: int, s: int) -> Motion | None:
        if (t, s) in self._pairs:
            return self._pairs[(t, s)]
        back = self._pairs.get((s, t))
        if (s, t) in self._pairs and (back is None or back.flow is None):
            # The same pair the other way round: a homography inverts exactly (a dense flow does not).
            motion = None if back is None else Motion(np.linalg.inv(back.homography), back.tracks)
        else:
            a, b = self._get(t), self._get(s)
            # Frames apart: the chain of steps between them is where to start looking.
            guess = self._chained(t, s) if abs(s - t) > 1 else None
            motion = estimate_motion(
                a.grey,
                b.grey,
                a.keep_small,
                b.keep_small,
                corners=a.corners,
                refine_flow=self.settings.refine_flow,
                guess=guess,
            )
        self._pairs[(t, s)] = motion
        return motion

    def _chained(self, t: int, s: int) -> np.ndarray | None:
        """Homography t -> s from the chain of neighbour motions (for choosing candidates)."""
        h = np.eye(3)
        step = 1 if s > t else -1
        for i in range(t, s, step):
            key = i if step > 0 else i - 1  # motion i -> i+1 is stored at i
            if key not in self._step:
                self._step[key] = self._motion(key, key + 1)
            m = self._step[key]
            if m is None:
                return None
            hm = m.homography if step > 0 else np.linalg.inv(m.homography)
            h = hm @ h  # hm maps frame-i coordinates to frame-(i+step) ones
        return h

    def _choose(self, t: int, hole_small: np.ndarray) -> list[int]:
        """The frames of the window that best show, together, what the matte hides at ``t``."""
        r = self.settings.search_radius
        frames, seen = [], []
        for s in range(max(0, t - r), min(self.frames, t + r + 1)):
            if s == t:
                continue
            h = self._chained(t, s)
            if h is None:
                continue
            warped = cv2.warpPerspective(
                self._get(s).keep_small.astype(np.uint8),
                h,
                self.small,
                flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            )
            frames.append(s)
            seen.append(warped.astype(bool))
        picks = choose_candidates(hole_small, seen, [abs(s - t) for s in frames], self.settings.candidates)
        return [frames[i] for i in picks]

    # -- one frame --------------------------------------------------------------------------

    def frame(self, t: int, model_lin: np.ndarray, matte: np.ndarray, origin: tuple[int, int] = (0, 0)) -> FrameFinish:
        """Finish frame index ``t``: ``model_lin`` (h, w, 3) is the model's result upscaled to the
        ROI in the plate's space, and ``matte`` (h, w) the composite matte, both on the part of the
        ROI whose top-left corner is ``origin`` (x, y) (the whole ROI by default). Pixels where the
        matte is 0 are returned as ``model_lin`` has them."""

        started, cpu_started = time.perf_counter(), time.thread_time()
        s = self.settings
        out = np.array(model_lin, np.float32, copy=True)
        if not s.enabled or not (matte > 0).any():
            return FrameFinish(out, 0.0, 0)
        self._request(t)
        if s.grain and not self._grain_done:
            self._measure_grain()  # waits for its own few frames only
        self._fill(t)
        rng = np.random.default_rng([self.seed, int(self.frame_numbers[t])])
        revealed_sum, used = 0.0, 0
        for box in _fill_boxes(matte, BOX_PAD_PX):
            box_revealed, box_used = self._finish_box(t, box, origin, out, rng)
            x, y, w, h = box
            revealed_sum += float((box_revealed * matte[y : y + h, x : x + w]).sum())
            used = max(used, box_used)
        fraction = revealed_sum / max(float(matte.sum()), 1e-6)
        self.report.revealed.append(fraction)
        self.report.seconds += time.perf_counter() - started
        self.report.cpu_seconds += time.thread_time() - cpu_started
        return FrameFinish(out, fraction, used)

    def _finish_box(
        self,
        t: int,
        box: tuple[int, int, int, int],
        origin: tuple[int, int],
        out: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, int]:
        """Finish ``box`` (x, y, w, h) of ``out`` (whose corner sits at ``origin`` in the ROI) in
        place; returns how revealed each pixel is and the number of frames that voted."""
        s = self.settings
        x0, y0, w, h = box
        x1, y1 = x0 + w, y0 + h
        in_roi = (x0 + origin[0], y0 + origin[1], w, h)
        model_box = out[y0:y1, x0:x1]
        if s.highlights:
            model_box = np.minimum(model_box, self._highlight_cap(t, in_roi))
        revealed = np.zeros(model_box.shape[:2], np.float32)
        grain_kept = np.zeros(model_box.shape[:2], np.float32)
        finished = model_box
        used = 0
        if s.reveal:
            background, used = self._background(t, in_roi, model_box)
            if background is not None:
                combined = combine(
                    model_box,
                    background,
                    model_scale=self.report.upscale,
                    tolerance_stops=s.agree_tolerance_stops,
                    strong_stops=s.strong_agreement_stops,
                )
                finished, revealed = combined.rgb, combined.revealed
                grain_kept = revealed * background.grain_kept
        if s.grain and self.report.grain is not None:
            missing = np.sqrt(np.clip(1.0 - grain_kept * grain_kept, 0.0, 1.0))
            finished = finished + synthesize(self.report.grain, finished, rng) * missing[..., None]
        out[y0:y1, x0:x1] = finished
        return revealed, used

    def _highlight_cap(self, t: int, box: tuple[int, int, int, int]) -> np.float32:
        """The brightest value the plate shows in the keep pixels around ``box`` of frame ``t`` and in
        the frames of the window: the model's fill is capped there. Through the soft-knee highlight
        encoding a model value near 1.0 decodes far up the range (to the ceiling at 1.0); where no
        frame of the plate shows anything that bright, that is the model's error, not a highlight.
        The cap is never below 1.0: values a plain [0, 1] model result reaches are left alone."""
        x, y, w, h = box
        pad, b = self.settings.grain_ring_px, PEAK_BLOCK
        ys = slice(max(0, y - pad) // b, (y + h + pad) // b + 1)
        xs = slice(max(0, x - pad) // b, (x + w + pad) // b + 1)
        cap = max(float(frame.peak[ys, xs].max(initial=0.0)) for frame in [self._get(t), *self._window.values()])
        return np.float32(max(cap, 1.0))

    def _background(
        self, t: int, box: tuple[int, int, int, int], model_box: np.ndarray
    ) -> tuple[Background | None, int]:
        x, y, w, h = box
        target = self._get(t)
        hole_small = cv2.resize((~target.keep).astype(np.uint8), self.small, interpolation=cv2.INTER_NEAREST) > 0
        if self._chosen is None or self._chosen[0] != t:  # one choice per frame, whatever its boxes
            self._chosen = (t, self._choose(t, hole_small))
        jobs: list[tuple[_Frame, np.ndarray | tuple[np.ndarray, np.ndarray], int]] = []
        for src in self._chosen[1]:
            motion = self._motion(t, src)
            if motion is None:
                continue
            # With the candidates weighted by rank, those after the first two count only where the
            # first two see nothing; bicubic, a quarter of Lanczos's cost, is resampling enough there.
            sharp = len(jobs) < 2 or self.settings.rank_falloff <= 1.0
            jobs.append(
                (self._get(src), full_resolution_maps(motion, self.scale, box), RESAMPLE if sharp else cv2.INTER_CUBIC)
            )

        # The frame itself: inside the matte's dilation and feather it still shows the background,
        # at its own position and with its own grain; those pixels are the best candidate of all,
        # and the exposure the other frames are matched to.
        own = cv2.erode(target.keep[y : y + h, x : x + w].astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        own_rgb = _converted(target.rgb[y : y + h, x : x + w], cv2.CV_32F)
        rgbs: list[np.ndarray] = []
        valids: list[np.ndarray] = []
        for source, sampling, interpolation in jobs:
            rgb, keep = _source_region(source, sampling, (w, h), interpolation)
            if rgb is None:
                continue
            if self.settings.match_exposure:
                gain = exposure_gain(rgb, keep, own_rgb, own)
                if np.abs(gain - 1.0).max() > EXPOSURE_EXACT:
                    rgb *= gain
            rgbs.append(rgb)
            valids.append(keep)
        if own.any():
            rgbs.append(own_rgb)
            valids.append(own)
        if not rgbs:
            return None, 0
        factor = max(2, int(round(self.report.upscale)))
        background = robust_background(
            rgbs,
            valids,
            vote_factor=factor,
            tolerance_stops=self.settings.vote_tolerance_stops,
            reference=model_box if self.settings.model_votes else None,
            prefer_last=bool(own.any()),
            rank_falloff=self.settings.rank_falloff,
        )
        return background, len(rgbs)


def _fill_boxes(matte: np.ndarray, pad: int) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h), padded by ``pad`` and not overlapping, around the separate parts of the
    matte: two objects apart are finished apart, not as one box spanning the plate between them.
    Parts are found at 1/8 size (parts closer than ~16 px merge); each box is then tightened to the
    full-resolution matte inside it."""
    h, w = matte.shape
    b = 8
    small = cv2.resize((matte > 0).astype(np.float32), (-(-w // b), -(-h // b)), interpolation=cv2.INTER_AREA)
    coarse = cv2.dilate((small > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(coarse, connectivity=8)
    boxes = [
        [int(sx) * b, int(sy) * b, min(w, int(sx + sw) * b), min(h, int(sy + sh) * b)]
        for sx, sy, sw, sh, _area in stats[1:count]
    ]
    merged = True
    while merged:  # boxes that overlap become one
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                p, q = boxes[i], boxes[j]
                if p[0] < q[2] + 2 * pad and q[0] < p[2] + 2 * pad and p[1] < q[3] + 2 * pad and q[1] < p[3] + 2 * pad:
                    boxes[i] = [min(p[0], q[0]), min(p[1], q[1]), max(p[2], q[2]), max(p[3], q[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    out = []
    for bx0, by0, bx1, by1 in boxes:
        ys, xs = np.nonzero(matte[by0:by1, bx0:bx1] > 0)
        if ys.size == 0:
            continue
        x0, y0 = max(0, bx0 + int(xs.min()) - pad), max(0, by0 + int(ys.min()) - pad)
        x1, y1 = min(w, bx0 + int(xs.max()) + 1 + pad), min(h, by0 + int(ys.max()) + 1 + pad)
        out.append((x0, y0, x1 - x0, y1 - y0))
    return out


def _spread_tiles(region: np.ndarray, size: int, count: int) -> list[tuple[int, int]]:
    """Top-left corners (x, y) of up to ``count`` tiles of ``size`` px on a grid, each at least a
    quarter ``region`` pixels, spread evenly around the region's centre (by angle)."""
    ys, xs = np.nonzero(region)
    if ys.size == 0:
        return []
    gy0, gx0 = int(ys.min()), int(xs.min())
    rows, cols = -(-(int(ys.max()) + 1 - gy0) // size), -(-(int(xs.max()) + 1 - gx0) // size)
    cover = np.zeros((rows * size, cols * size), np.float32)
    part = region[gy0 : gy0 + rows * size, gx0 : gx0 + cols * size]
    cover[: part.shape[0], : part.shape[1]] = part
    share = cover.reshape(rows, size, cols, size).mean(axis=(1, 3))
    ty, tx = np.nonzero(share >= 0.25)
    if ty.size == 0:
        return []
    cy, cx = float(ys.mean()), float(xs.mean())
    angle = np.arctan2(gy0 + (ty + 0.5) * size - cy, gx0 + (tx + 0.5) * size - cx)
    order = np.argsort(angle, kind="stable")
    picked = order[np.unique(np.linspace(0, order.size - 1, min(count, order.size)).round().astype(int))]
    return [(gx0 + int(tx[i]) * size, gy0 + int(ty[i]) * size) for i in picked]


def _converted(rgb: np.ndarray, depth: int) -> np.ndarray:
    """(h, w, 3) ``rgb`` as half (``cv2.CV_16F``) or float (``cv2.CV_32F``): the same values as
    numpy's ``astype`` (round to nearest, inf beyond half's range), at several times its speed."""
    return np.asarray(cv2.add(rgb, (0.0, 0.0, 0.0, 0.0), dtype=depth))  # type: ignore[call-overload]


def _block_peak(rgb: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The brightest channel value of the keep pixels in each PEAK_BLOCK x PEAK_BLOCK block (0: none)."""
    h, w = keep.shape
    b = PEAK_BLOCK
    hb, wb = -(-h // b), -(-w // b)
    values = np.zeros((hb * b, wb * b), np.float32)
    # Channel by channel and axis by axis: numpy's max over a length-3 last axis, or over two axes
    # at once, is several times slower on a 4K crop.
    brightest = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    np.copyto(values[:h, :w], brightest, where=keep)
    rows = values.reshape(hb, b, wb * b).max(axis=1)
    return rows.reshape(hb, wb, b).max(axis=2)


def _source_region(
    source: _Frame,
    sampling: tuple[np.ndarray, np.ndarray] | np.ndarray,
    size: tuple[int, int],
    interpolation: int = RESAMPLE,
) -> tuple[np.ndarray | None, np.ndarray]:
    """The source frame's pixels and keep mask sampled onto the target box (only the part of the
    source the box maps to is converted to float32)."""
    w, h = size
    sh, sw = source.keep.shape
    if isinstance(sampling, tuple):
        mx, my = sampling
        xs, ys = mx, my
    else:
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
        mapped = sampling @ corners
        xs, ys = mapped[0] / mapped[2], mapped[1] / mapped[2]
    margin = 8
    sx0 = int(max(0, math.floor(float(np.min(xs))) - margin))
    sy0 = int(max(0, math.floor(float(np.min(ys))) - margin))
    sx1 = int(min(sw, math.ceil(float(np.max(xs))) + margin))
    sy1 = int(min(sh, math.ceil(float(np.max(ys))) + margin))
    if sx1 <= sx0 or sy1 <= sy0:
        return None, np.zeros((h, w), bool)
    crop = _converted(source.rgb[sy0:sy1, sx0:sx1], cv2.CV_32F)
    keep = source.keep[sy0:sy1, sx0:sx1].astype(np.uint8)
    if isinstance(sampling, tuple):
        local: tuple[np.ndarray, np.ndarray] | np.ndarray = (sampling[0] - sx0, sampling[1] - sy0)
    else:
        local = np.array([[1.0, 0.0, -sx0], [0.0, 1.0, -sy0], [0.0, 0.0, 1.0]]) @ sampling
    rgb = warp(crop, local, (w, h), interpolation)
    valid = warp(keep, local, (w, h), cv2.INTER_NEAREST) > 0
    k = np.ones((2 * VALID_ERODE_PX + 1, 2 * VALID_ERODE_PX + 1), np.uint8)
    valid = cv2.erode(valid.astype(np.uint8), k) > 0
    return rgb, valid
