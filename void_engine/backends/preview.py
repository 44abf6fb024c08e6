"""The preview backend: a CPU fill that runs in seconds, for machines without a GPU or weights.

It answers the question VOID answers — what is behind the object and its effects — with the
classic compositor's trick instead of a diffusion model:

1. temporal propagation, with the finish stage's alignment and robust estimate
   (void_engine.finish): for frame t, the frames within ``radius`` that best show what the mask
   hides are aligned to t on keep pixels (tracked corners + RANSAC homography, so a panning camera
   is followed), warped, and vote per pixel; a candidate that disagrees with the others' median —
   a hand passing behind the object in one frame — is dropped there instead of pasted, and the
   survivors are averaged (smoothly weighted, so no block edges);
2. spatial inpainting (OpenCV, Telea) for what no candidate frame shows.

Both the object (remove and overlap) and what it affected (its shadow, reflection) are replaced:
under a shadow the background is visible, but darkened, so it is no clean source either.

It takes and returns the same arrays as the VOID pipeline (model space, [0, 1]), so it goes through
the same plate path (colour, ROI, composite) and the same protocol.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..finish.align import estimate_motion, find_corners, reduce_mask, warp
from ..finish.reveal import choose_candidates, exposure_gain, robust_background
from ..levels import KEEP, LEVELS_TEXT
from ..progress import CancelFn, Cancelled, ProgressFn

# Quadmask edges are snapped at model resolution, so the ring of pixels just outside them can
# still carry a little of the object or its shadow. Those pixels are neither trusted as sources
# nor kept: they are filled like the masked ones.
DEFAULT_GROW_PX = 3
INPAINT_RADIUS_PX = 6
DEFAULT_RADIUS = 16  # frames either side searched for the background (a slow crossing needs them)
DEFAULT_CANDIDATES = 6  # frames that vote per output frame
VOTE_TOLERANCE_STOPS = 0.25  # a candidate this far (log2) from the median vote is dropped
EXPOSURE_REACH_PX = 24  # clean pixels this close to the hole's box measure a candidate's exposure
STATIC_PX = 0.05  # a homography that moves no corner further than this is the identity


def preview_inpaint(
    video: np.ndarray,
    quadmask: np.ndarray,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    *,
    grow_px: int = DEFAULT_GROW_PX,
    radius: int = DEFAULT_RADIUS,
    candidates: int = DEFAULT_CANDIDATES,
) -> np.ndarray:
    """Fill the quadmask's remove and affected regions of ``video`` with the background.

    ``video`` is float32 (T, H, W, 3) in [0, 1]; ``quadmask`` is uint8 (T, H, W) with raw levels
    (:mod:`void_engine.levels`; KEEP keeps). Returns a new float32 (T, H, W, 3) array. Pixels further than
    ``grow_px`` from every masked pixel are returned unchanged (bit-identical).
    ``progress(window, step, total)`` is called once per frame (window is always 0);
    ``cancel()`` is polled before each frame and a true answer raises :class:`Cancelled`, as a
    cancelled VOID run does.
    """
    video, quadmask = _check_inputs(video, quadmask)
    frames, height, width = quadmask.shape
    fill = _grow(quadmask != KEEP, grow_px)  # (T, H, W) pixels to replace
    clean = ~fill  # pixels trusted as background samples
    aligner = _Aligner(video, clean)

    out = video.copy()
    total = frames
    for t in range(frames):
        if cancel is not None and cancel():
            raise Cancelled(f"preview cancelled before frame index {t} of {frames}")
        todo = fill[t]
        if todo.any():
            out[t] = _fill_frame(video, clean, t, todo, aligner, radius, candidates)
        if progress is not None:
            progress(0, t + 1, total)
    return out


class _Aligner:
    """Per-frame grey images, keep masks and corners, and the homography between two frames."""

    def __init__(self, video: np.ndarray, clean: np.ndarray):
        self.grey = [np.clip(f.mean(axis=-1) * 255.0 + 0.5, 0, 255).astype(np.uint8) for f in video]
        size = (video.shape[2], video.shape[1])
        self.keep = [reduce_mask(c, size, erode_px=1) for c in clean]
        self.corners = [find_corners(g, k) for g, k in zip(self.grey, self.keep)]

    def homography(self, t: int, s: int) -> np.ndarray | None:
        """Target-t to source-s coordinates; None for the identity (a static camera, or too little
        texture to tell: then nothing better than the identity can be said)."""
        motion = estimate_motion(self.grey[t], self.grey[s], self.keep[t], self.keep[s], corners=self.corners[t])
        if motion is None:
            return None
        h, w = self.grey[t].shape
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
        mapped = motion.homography @ corners
        moved = np.abs(mapped[:2] / mapped[2] - corners[:2]).max()
        return None if moved < STATIC_PX else motion.homography


def _check_inputs(video: np.ndarray, quadmask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    video = np.asarray(video)
    quadmask = np.asarray(quadmask)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"video must be (T, H, W, 3), got shape {video.shape}")
    if quadmask.ndim != 3 or quadmask.shape != video.shape[:3]:
        raise ValueError(f"quadmask must be (T, H, W) = {video.shape[:3]}, got shape {quadmask.shape}")
    if quadmask.dtype != np.uint8:
        raise ValueError(f"quadmask must be uint8 raw levels {LEVELS_TEXT}, got dtype {quadmask.dtype}")
    if video.shape[0] == 0:
        raise ValueError("video has no frames")
    return video.astype(np.float32, copy=False), quadmask


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return np.stack([cv2.dilate(m.astype(np.uint8), kernel).astype(bool) for m in mask])


def _fill_frame(
    video: np.ndarray,
    clean: np.ndarray,
    t: int,
    todo: np.ndarray,
    aligner: _Aligner,
    radius: int,
    candidates: int,
) -> np.ndarray:
    """Frame ``t`` with ``todo`` pixels taken from aligned clean frames by a robust vote, or
    inpainted where no candidate shows them."""
    frames, h, w = clean.shape
    frame = video[t].copy()
    warped = []  # (frame, rgb, valid) of every frame in the radius, aligned onto t
    for s in range(max(0, t - radius), min(frames, t + radius + 1)):
        if s == t:
            continue
        hom = aligner.homography(t, s)
        if hom is None:
            rgb, valid = video[s], clean[s]
        else:
            rgb = warp(video[s], hom, (w, h), cv2.INTER_CUBIC)
            valid = warp(clean[s].astype(np.uint8), hom, (w, h), cv2.INTER_NEAREST) > 0
            valid = cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        warped.append((s, rgb, valid))
    picks = choose_candidates(todo, [c[2] for c in warped], [abs(c[0] - t) for c in warped], candidates)
    around = _around(todo, EXPOSURE_REACH_PX)
    chosen = [_exposure_matched(warped[i], frame, clean[t], around) for i in picks]
    seen = np.zeros((h, w), bool)
    if chosen:
        background = robust_background(
            [c[1] for c in chosen],
            [c[2] for c in chosen],
            vote_factor=2,
            tolerance_stops=VOTE_TOLERANCE_STOPS,
        )
        seen = todo & (background.weight > 0)
        frame[seen] = np.clip(background.rgb[seen], 0.0, 1.0)
    hole = todo & ~seen
    if hole.any():
        frame = _inpaint(frame, hole)
    return frame


def _around(todo: np.ndarray, reach: int) -> tuple[slice, slice]:
    """The box (rows, columns) of ``todo``'s pixels grown by ``reach``, inside the frame."""
    ys, xs = np.nonzero(todo)
    h, w = todo.shape
    rows = slice(max(0, int(ys.min()) - reach), min(h, int(ys.max()) + reach + 1))
    return rows, slice(max(0, int(xs.min()) - reach), min(w, int(xs.max()) + reach + 1))


def _exposure_matched(
    candidate: tuple[int, np.ndarray, np.ndarray], frame: np.ndarray, clean: np.ndarray, around: tuple[slice, slice]
) -> tuple[int, np.ndarray, np.ndarray]:
    """The candidate with its exposure matched to ``frame``'s on the clean pixels of both around the
    hole (``around``: the hole's box grown by EXPOSURE_REACH_PX): the camera's exposure drifts over
    a shot."""
    s, rgb, valid = candidate
    gain = exposure_gain(rgb[around], valid[around], frame[around], clean[around])
    return s, rgb * gain, valid


def _inpaint(frame: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Telea inpainting of ``hole``, per channel at 16 bits so the fill keeps its gradations.

    Not float: OpenCV 5.0's Telea returns wrong values for 32-bit float input (NS is fine, but
    Telea follows edges into the hole better).
    """
    mask8 = hole.astype(np.uint8)
    out = frame.copy()
    for c in range(frame.shape[2]):
        channel = np.rint(np.clip(frame[..., c], 0.0, 1.0) * 65535.0).astype(np.uint16)
        filled = cv2.inpaint(channel, mask8, INPAINT_RADIUS_PX, cv2.INPAINT_TELEA)
        out[..., c][hole] = filled[hole].astype(np.float32) / 65535.0
    return out
