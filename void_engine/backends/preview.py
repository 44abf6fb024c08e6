"""The preview backend: a CPU fill that runs in seconds, for machines without a GPU or weights.

It answers the question VOID answers — what is behind the object and its effects — with the
classic compositor's trick instead of a diffusion model:

1. temporal propagation: for a pixel to be replaced in frame t, take the background from the
   nearest frames before and after t where that pixel is clean (not in the quadmask), blended by
   distance in time. With a static camera and a moving object this recovers the true background;
2. spatial inpainting (OpenCV, Telea) for what no frame of the shot ever shows.

Both the object (remove and overlap) and what it affected (its shadow, reflection) are replaced:
under a shadow the background is visible, but darkened, so it is no clean source either.

It takes and returns the same arrays as the VOID pipeline (model space, [0, 1]), so it goes through
the same plate path (colour, ROI, composite) and the same protocol.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..levels import KEEP, LEVELS_TEXT
from ..progress import CancelFn, Cancelled, ProgressFn

# Quadmask edges are snapped at model resolution, so the ring of pixels just outside them can
# still carry a little of the object or its shadow. Those pixels are neither trusted as sources
# nor kept: they are filled like the masked ones.
DEFAULT_GROW_PX = 3
INPAINT_RADIUS_PX = 6


def preview_inpaint(
    video: np.ndarray,
    quadmask: np.ndarray,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    *,
    grow_px: int = DEFAULT_GROW_PX,
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
    prev_idx, next_idx = _nearest_clean_frames(clean)  # (T, H, W) int, -1 where none
    never_clean = ~np.asarray(clean.any(axis=0))  # (H, W) background no frame shows

    out = video.copy()
    total = frames
    for t in range(frames):
        if cancel is not None and cancel():
            raise Cancelled(f"preview cancelled before frame index {t} of {frames}")
        todo = fill[t]
        if todo.any():
            out[t] = _fill_frame(video, t, todo, prev_idx[t], next_idx[t], never_clean, out[t])
        if progress is not None:
            progress(0, t + 1, total)
    return out


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


def _nearest_clean_frames(clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame and pixel, the index of the last clean frame <= t and the first clean frame >= t."""
    frames = clean.shape[0]
    prev_idx = np.empty(clean.shape, np.int32)
    next_idx = np.empty(clean.shape, np.int32)
    last = np.full(clean.shape[1:], -1, np.int32)
    for t in range(frames):
        last = np.where(clean[t], t, last)
        prev_idx[t] = last
    nxt = np.full(clean.shape[1:], -1, np.int32)
    for t in range(frames - 1, -1, -1):
        nxt = np.where(clean[t], t, nxt)
        next_idx[t] = nxt
    return prev_idx, next_idx


def _fill_frame(
    video: np.ndarray,
    t: int,
    todo: np.ndarray,
    prev_t: np.ndarray,
    next_t: np.ndarray,
    never_clean: np.ndarray,
    frame: np.ndarray,
) -> np.ndarray:
    """Frame ``t`` with ``todo`` pixels taken from clean frames, or inpainted where there are none."""
    frame = frame.copy()
    ys, xs = np.nonzero(todo & ~never_clean)
    if ys.size:
        p, n = prev_t[ys, xs], next_t[ys, xs]
        has_p, has_n = p >= 0, n >= 0
        # Weight each side by closeness in time; a missing side gets weight 0.
        dp = np.where(has_p, t - p, 1).astype(np.float32)
        dn = np.where(has_n, n - t, 1).astype(np.float32)
        wp = np.where(has_p & has_n, dn / (dp + dn), has_p.astype(np.float32))
        before = video[np.where(has_p, p, 0), ys, xs]
        after = video[np.where(has_n, n, 0), ys, xs]
        frame[ys, xs] = before * wp[:, None] + after * (1.0 - wp)[:, None]
    hole = todo & never_clean
    if hole.any():
        frame = _inpaint(frame, hole)
    return frame


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
