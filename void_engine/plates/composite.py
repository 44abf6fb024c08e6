"""Compositing the model's result back over the plate.

``out = model * m + plate * (1 - m)`` in linear, unpremultiplied, where ``m`` is the dilated and
feathered union of the remove/affected regions. ``m`` falls to exactly 0 at the end of the feather (a
distance ramp, not a Gaussian with infinite tails), and pixels where ``m == 0`` are copied from the
plate untouched — so outside the matte the output is bit-identical to the plate.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..levels import KEEP
from .exr import Window
from .roi import mask_bbox


def composite_matte(quadmask: np.ndarray, dilate_px: int, feather_px: int) -> np.ndarray:
    """Float32 matte in [0, 1] from a (H, W) quadmask: 1 on remove/overlap/affected grown by
    ``dilate_px``, ramping smoothly to exactly 0 over ``feather_px`` more pixels."""
    matte = np.zeros(quadmask.shape, np.float32)
    box_matte, box = composite_matte_box(quadmask, dilate_px, feather_px)
    if box is not None:
        matte[box.y : box.y_end, box.x : box.x_end] = box_matte
    return matte


def composite_matte_box(quadmask: np.ndarray, dilate_px: int, feather_px: int) -> tuple[np.ndarray, Window | None]:
    """:func:`composite_matte` on the box (in ``quadmask``'s coordinates) that holds all of its
    nonzero pixels, and that box; (an empty array, None) for an all-keep quadmask. The matte is 0
    everywhere outside the box, so a frame's composite need look at the box alone."""
    region = quadmask != KEEP
    bbox = mask_bbox(region)
    if bbox is None:
        return np.zeros((0, 0), np.float32), None
    # Beyond the dilation and the feather of the region's box the matte is 0.
    grow = max(dilate_px, 0) + max(feather_px, 0) + 1
    h, w = region.shape
    x0, y0 = max(bbox.x - grow, 0), max(bbox.y - grow, 0)
    box = Window(x0, y0, min(bbox.x_end + grow, w) - x0, min(bbox.y_end + grow, h) - y0)
    region = region[box.y : box.y_end, box.x : box.x_end]
    if dilate_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
        region = cv2.dilate(region.astype(np.uint8), k) > 0
    if feather_px <= 0:
        return region.astype(np.float32), box
    dist = _distance_within(region, feather_px)
    t = np.clip(1.0 - dist / float(feather_px), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32), box  # smoothstep: no visible edge at either end


def _distance_within(region: np.ndarray, limit: int) -> np.ndarray:
    """Float32 Euclidean distance (px) from each pixel to the nearest True pixel of ``region``
    (0 inside it), exact where it is below ``limit``; elsewhere some value >= ``limit``.

    Exact means sqrt, correctly rounded to float32, of the integer squared distance: what OpenCV's
    own precise transform (cv2.DIST_MASK_PRECISE) computes. Its Intel IPP variant, which OpenCV
    picks for small images, rounds differently, so a matte computed on a box by it would not match
    the same matte computed on the whole region of interest."""
    h, w = region.shape
    cap = limit + 1
    # Vertical distance to the nearest region pixel in the same column, capped at ``cap``.
    rows = np.arange(h, dtype=np.int64)[:, None]
    above = np.maximum.accumulate(np.where(region, rows, -(cap + h)), axis=0)
    below = np.minimum.accumulate(np.where(region, rows, cap + 2 * h)[::-1], axis=0)[::-1]
    dy = np.minimum(np.minimum(rows - above, below - rows), cap)
    dy2 = dy * dy
    # Then along each row: the nearest candidate within ``limit`` columns either side (a nearer
    # pixel than ``limit`` lies within ``limit`` columns).
    d2 = dy2.copy()
    for dx in range(1, min(limit, w - 1) + 1):
        np.minimum(d2[:, dx:], dy2[:, :-dx] + dx * dx, out=d2[:, dx:])
        np.minimum(d2[:, :-dx], dy2[:, dx:] + dx * dx, out=d2[:, :-dx])
    return np.sqrt(np.minimum(d2, cap * cap).astype(np.float32))


def composite_rgb(
    plate_rgb: np.ndarray,
    model_rgb: np.ndarray,
    matte: np.ndarray,
    alpha: np.ndarray | None = None,
) -> np.ndarray:
    """Blend ``model_rgb`` over ``plate_rgb`` (both linear, (H, W, 3)) by ``matte``.

    With ``alpha`` the plate is taken as premultiplied: it is unpremultiplied for the blend and
    premultiplied again after, by the plate's own alpha. Pixels with matte 0 keep their exact bits.
    """
    out = plate_rgb.copy()
    inside = matte > 0
    if not inside.any():
        return out
    m = matte[inside][:, None]
    plate_px = plate_rgb[inside]
    model_px = model_rgb[inside]
    if alpha is not None:
        a = alpha[inside][:, None]
        safe = np.where(a > 0, a, 1.0)
        unpremult = np.where(a > 0, plate_px / safe, plate_px)
        blended = model_px * m + _finite_or(unpremult, model_px) * (1.0 - m)
        # Fully transparent pixels stay as the plate has them: there is nothing to premultiply by.
        out[inside] = np.where(a > 0, blended * a, plate_px)
    else:
        out[inside] = model_px * m + _finite_or(plate_px, model_px) * (1.0 - m)
    return out


def _finite_or(plate_px: np.ndarray, model_px: np.ndarray) -> np.ndarray:
    """The plate's values, except NaN/inf ones (a dead pixel, a CG render's overflow), which take the
    model's: ``inf * 0`` is NaN, so one such pixel would otherwise come out NaN even where m == 1."""
    return np.where(np.isfinite(plate_px), plate_px, model_px)
