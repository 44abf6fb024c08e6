"""Camera motion between frames of a shot, measured on keep pixels only.

Everything here works on small grey images (the ROI crop reduced to ``align_long_side``): corners
of the target frame are tracked into the source frame with pyramidal Lucas-Kanade, checked forward
and backward, and a RANSAC homography is fitted to the tracks that start and end on keep pixels (so
the object being removed, and anything else the quadmask marks, cannot drag the estimate). The
source's brightness is matched to the target's first (a camera's exposure drifts), and frames apart
are tracked from the homography chained through the frames between them. An optional dense DIS
flow between the target and the homography-warped source refines what a plane cannot describe
(parallax, lens breathing); where the target frame does not show the background (inside the
matte) the refinement is carried in from the surrounding keep pixels.

Coordinates: a homography ``H`` maps target pixel coordinates to source pixel coordinates, which
is what ``cv2.warpPerspective(source, H, ..., flags=WARP_INVERSE_MAP)`` samples with.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_TRACKS = 12  # fewer surviving tracks than this: no trustworthy motion estimate
FB_TOLERANCE_PX = 1.0  # forward-backward disagreement beyond which a track is dropped
RANSAC_PX = 1.0
LK_WINDOW = 21
GUESSED_LEVELS = 2  # pyramid levels above the finest when tracking from a guess (its error: a few px)
RATIO_STEP_PX = 4  # the brightness ratio between two frames is measured on every 4th pixel each way
TRACKING_GAIN_TOLERANCE = 0.01  # a source this much brighter or darker than the target is tracked again, matched


@dataclass(frozen=True)
class Motion:
    """How to sample a source frame to line it up with a target frame (low-resolution units)."""

    homography: np.ndarray  # (3, 3) float64, target -> source coordinates
    tracks: int  # RANSAC inliers the homography rests on
    flow: np.ndarray | None = None  # (h, w, 2) float32 residual target -> warped-source flow, or None


def to_grey(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (h, w) uint8 grey image of linear RGB, at ``size`` (w, h), in a log-like encoding.

    The square root (clipped at 1) is a cheap perceptual encoding: feature tracking on linear values
    sees only the highlights.
    """
    small = cv2.resize(np.ascontiguousarray(rgb, np.float32), size, interpolation=cv2.INTER_AREA)
    return np.clip(np.sqrt(np.clip(_luma(small), 0.0, 1.0)) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def grey_level(rgb: np.ndarray) -> np.ndarray:
    """(h, w) float32 of linear RGB in the encoding :func:`to_grey` tracks in (square root of the
    luma), at full resolution and unclipped above 1, for sub-pixel alignment."""
    return np.sqrt(np.maximum(_luma(np.asarray(rgb, np.float32)), 0.0))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.25 + rgb[..., 1] * 0.6 + rgb[..., 2] * 0.15


def reduce_mask(mask: np.ndarray, size: tuple[int, int], erode_px: int = 2) -> np.ndarray:
    """A boolean mask at ``size`` (w, h) that is True only where every full-res pixel under it was
    True, eroded by ``erode_px`` low-res pixels (edges of keep regions are not trusted)."""
    small = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    if erode_px > 0:
        k = np.ones((2 * erode_px + 1, 2 * erode_px + 1), np.uint8)
        small = cv2.erode(small.astype(np.uint8), k) > 0
    return small


def find_corners(grey: np.ndarray, keep: np.ndarray, max_corners: int = 500) -> np.ndarray:
    """(N, 1, 2) float32 corners of ``grey`` worth tracking, on keep pixels only."""
    # A corner's whole tracking window must be keep pixels: the object's edge must not pull it.
    half = LK_WINDOW // 2
    usable = cv2.erode(keep.astype(np.uint8), np.ones((2 * half + 1, 2 * half + 1), np.uint8))
    corners = cv2.goodFeaturesToTrack(
        grey, maxCorners=max_corners, qualityLevel=0.005, minDistance=6, mask=usable * 255
    )
    return np.zeros((0, 1, 2), np.float32) if corners is None else corners


def estimate_motion(
    target: np.ndarray,
    source: np.ndarray,
    target_keep: np.ndarray,
    source_keep: np.ndarray,
    *,
    corners: np.ndarray | None = None,
    refine_flow: bool = False,
    guess: np.ndarray | None = None,
) -> Motion | None:
    """Homography (and optional dense refinement) taking ``target`` coordinates to ``source``.

    ``target``/``source`` are (h, w) uint8 grey images of one size; the keep masks are boolean at
    the same size; ``corners`` are :func:`find_corners` of the target (found here when None).
    ``guess``, a homography already close (e.g. chained from the frames between), starts the
    tracks where it puts them, so the pyramid needs only its finer levels.
    Returns None when too few keep-pixel tracks survive to trust a homography.

    Lucas-Kanade assumes a point keeps its brightness between the frames, and a camera's exposure
    drifts (auto exposure following a dark object, flicker): a few percent pulls low-contrast
    tracks off by pixels. So the source's brightness is matched to the target's first, on the
    keep pixels the guess (or a first tracking) lines up, and tracked again where it was off.
    """
    if corners is None:
        corners = find_corners(target, target_keep)
    if len(corners) < MIN_TRACKS:
        return None
    # Without a guess, the whole frames' keep pixels give a first brightness ratio.
    lined_up = np.eye(3) if guess is None else guess
    gain, motion = 1.0, None
    for _ in range(2):
        ratio = _brightness_ratio(target, source, target_keep, source_keep, lined_up, gain)
        if motion is not None and abs(ratio - 1.0) <= TRACKING_GAIN_TOLERANCE:
            break
        gain *= ratio
        matched = source if gain == 1.0 else _scaled(source, gain)
        tracked = _track(target, matched, target_keep, source_keep, corners, guess)
        if tracked is None:
            break
        motion, lined_up = tracked, tracked.homography
    if motion is None:
        return None
    flow = _residual_flow(target, source, target_keep, source_keep, motion.homography) if refine_flow else None
    return Motion(motion.homography, motion.tracks, flow)


def _track(
    target: np.ndarray,
    source: np.ndarray,
    target_keep: np.ndarray,
    source_keep: np.ndarray,
    corners: np.ndarray,
    guess: np.ndarray | None,
) -> Motion | None:
    """Corners tracked forward and back (pyramidal Lucas-Kanade), and the RANSAC homography of
    the tracks that agree both ways and land on keep pixels."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
    lk = dict(winSize=(LK_WINDOW, LK_WINDOW), maxLevel=4, criteria=criteria)
    if guess is None:
        moved, ok, _ = cv2.calcOpticalFlowPyrLK(target, source, corners, None, **lk)  # type: ignore[call-overload]
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(source, target, moved, None, **lk)  # type: ignore[call-overload]
    else:
        # Both ways from the guess (the way back from where the guess maps each track's end), so
        # the forward-backward check stays independent of the forward result.
        lk["maxLevel"] = GUESSED_LEVELS
        lk["flags"] = cv2.OPTFLOW_USE_INITIAL_FLOW
        start = cv2.perspectiveTransform(corners.astype(np.float32), guess)
        moved, ok, _ = cv2.calcOpticalFlowPyrLK(target, source, corners, start, **lk)  # type: ignore[call-overload]
        home = cv2.perspectiveTransform(moved, np.linalg.inv(guess))
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(source, target, moved, home, **lk)  # type: ignore[call-overload]
    p0, p1 = corners.reshape(-1, 2), moved.reshape(-1, 2)
    good = (ok.ravel() == 1) & (ok_back.ravel() == 1)
    good &= np.linalg.norm(back.reshape(-1, 2) - p0, axis=1) < FB_TOLERANCE_PX
    h, w = source.shape
    xi, yi = np.rint(p1[:, 0]).astype(int), np.rint(p1[:, 1]).astype(int)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    good &= inside
    good[inside] &= source_keep[yi[inside], xi[inside]]
    if good.sum() < MIN_TRACKS:
        return None
    homography, inliers = cv2.findHomography(p0[good], p1[good], cv2.RANSAC, RANSAC_PX, maxIters=500)
    if homography is None or inliers is None or int(inliers.sum()) < MIN_TRACKS:
        return None
    return Motion(homography, int(inliers.sum()))


def _scaled(grey: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(grey.astype(np.float32) * np.float32(gain) + np.float32(0.5), 0, 255).astype(np.uint8)


def _brightness_ratio(
    target: np.ndarray,
    source: np.ndarray,
    target_keep: np.ndarray,
    source_keep: np.ndarray,
    homography: np.ndarray,
    gain: float = 1.0,
) -> float:
    """Mean target brightness over the mean of the source (times ``gain``) lined up onto it by
    ``homography``, on the keep pixels of both (1.0 when they share too few). Measured on a grid
    of every RATIO_STEP_PX-th pixel: a mean needs no more."""
    h, w = target.shape
    ys, xs = np.mgrid[RATIO_STEP_PX // 2 : h : RATIO_STEP_PX, RATIO_STEP_PX // 2 : w : RATIO_STEP_PX]
    on = target_keep[ys, xs]
    ys, xs = ys[on], xs[on]
    if ys.size < 64:
        return 1.0
    points = np.stack([xs, ys], axis=-1).astype(np.float32).reshape(-1, 1, 2)
    mapped = cv2.perspectiveTransform(points, homography).reshape(-1, 2)
    mx, my = np.rint(mapped[:, 0]).astype(int), np.rint(mapped[:, 1]).astype(int)
    inside = (mx >= 0) & (mx < w) & (my >= 0) & (my < h)
    inside[inside] &= source_keep[my[inside], mx[inside]]
    if int(inside.sum()) < 64:
        return 1.0
    lit = float(source[my[inside], mx[inside]].mean()) * gain
    return float(target[ys[inside], xs[inside]].mean()) / lit if lit > 1.0 else 1.0


def _residual_flow(
    target: np.ndarray, source: np.ndarray, target_keep: np.ndarray, source_keep: np.ndarray, homography: np.ndarray
) -> np.ndarray:
    """DIS flow from ``target`` to the homography-warped ``source``, trusted only where both show
    keep pixels and carried into the rest by normalized convolution."""
    h, w = target.shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(source, homography, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    warped_keep = cv2.warpPerspective(source_keep.astype(np.uint8), homography, (w, h), flags=flags) > 0
    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(target, warped, np.zeros((h, w, 2), np.float32))
    trusted = (target_keep & warped_keep).astype(np.float32)
    # Normalized convolution: a smooth field from the trusted samples only, wide enough to cross a hole.
    sigma = max(h, w) / 16.0
    weight = cv2.GaussianBlur(trusted, (0, 0), sigma)
    out = np.empty_like(flow)
    for c in range(2):
        out[..., c] = cv2.GaussianBlur(flow[..., c] * trusted, (0, 0), sigma) / np.maximum(weight, 1e-6)
    # Keep DIS's own detail where it was trusted; the smooth field elsewhere.
    return np.where(trusted[..., None] > 0, flow, out).astype(np.float32)


def full_resolution_maps(
    motion: Motion, scale: float, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Sampling positions, in full-resolution source ROI pixels, for the target pixels of ``box``.

    ``scale`` is low-res pixels per full-res pixel; ``box`` is (x, y, w, h) in full-res ROI
    pixels. Returns a (3, 3) homography for ``warpPerspective`` (inverse map) when the motion has no
    dense refinement, else (map_x, map_y) float32 arrays for ``cv2.remap``.
    """
    x, y, w, h = box
    s = np.diag([scale, scale, 1.0])
    shift = np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])
    full = np.linalg.inv(s) @ motion.homography @ s @ shift
    if motion.flow is None:
        return full
    # Residual flow is defined in target coordinates: sample it at the box's pixels, in full-res units.
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    fx = cv2.remap(
        motion.flow[..., 0], (gx + x) * scale, (gy + y) * scale, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    fy = cv2.remap(
        motion.flow[..., 1], (gx + x) * scale, (gy + y) * scale, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    # The flow is in the homography-warped source's frame, i.e. target coordinates displaced before H.
    px, py = gx + fx / scale, gy + fy / scale
    hm = full.astype(np.float32)
    den = hm[2, 0] * px + hm[2, 1] * py + hm[2, 2]
    map_x = (hm[0, 0] * px + hm[0, 1] * py + hm[0, 2]) / den
    map_y = (hm[1, 0] * px + hm[1, 1] * py + hm[1, 2]) / den
    return map_x.astype(np.float32), map_y.astype(np.float32)


# How a candidate frame's full-resolution pixels are resampled onto the target frame: Lanczos keeps
# the fine texture and the grain a bicubic resampling would soften at sub-pixel shifts.
RESAMPLE = cv2.INTER_LANCZOS4


def warp(
    image: np.ndarray, sampling: tuple[np.ndarray, np.ndarray] | np.ndarray, size: tuple[int, int], interpolation: int
) -> np.ndarray:
    """``image`` sampled at ``sampling`` (a homography or remap maps from :func:`full_resolution_maps`);
    ``size`` is (w, h). Outside the source: 0."""
    if isinstance(sampling, tuple):
        return cv2.remap(image, sampling[0], sampling[1], interpolation, borderMode=cv2.BORDER_CONSTANT)
    return cv2.warpPerspective(
        image, sampling, size, flags=interpolation | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT
    )


def residual_shift(target: np.ndarray, source: np.ndarray, weight: np.ndarray) -> tuple[float, float] | None:
    """The sub-pixel translation ``d`` (dx, dy) with ``target(p) ≈ source(p + d)`` over the pixels
    where ``weight`` holds (both (h, w) float32, ``source`` aligned onto ``target`` already): one
    least-squares step of Lucas-Kanade, so a few tenths of a pixel are measured to a few hundredths.
    None when the texture cannot fix a shift (flat, or one-directional) or the shift is over a pixel.

    A homography fitted at the alignment size is good to a few tenths of a full-resolution pixel;
    where texture must cancel exactly (the grain measurement), that residue would count as grain."""
    if int(weight.sum()) < 4096:
        return None
    # Central differences along rows (y) and columns (x); cv2.Sobel's 3x3 smoothing is not wanted.
    src = source.astype(np.float32)
    gx, gy = np.zeros_like(src), np.zeros_like(src)
    gx[:, 1:-1] = 0.5 * (src[:, 2:] - src[:, :-2])
    gy[1:-1] = 0.5 * (src[2:] - src[:-2])
    e = (target - source)[weight].astype(np.float64)
    gxw, gyw = gx[weight].astype(np.float64), gy[weight].astype(np.float64)
    normal = np.array([[gxw @ gxw, gxw @ gyw], [gxw @ gyw, gyw @ gyw]])
    if np.linalg.cond(normal) > 1e4:
        return None
    dx, dy = np.linalg.solve(normal, np.array([gxw @ e, gyw @ e]))
    if abs(dx) > 1.0 or abs(dy) > 1.0:
        return None
    return float(dx), float(dy)
