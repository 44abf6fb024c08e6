"""Region of interest: where on the plate the model looks, and the resizes in and out of it.

The model sees a 384x672 (H x W) box. A 2K plate is much larger, so we crop around the union of the
masks over the shot, with context, at the model's aspect, and resize that crop — the model's result is
scaled back only for that region.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .exr import Window


def mask_bbox(active: np.ndarray) -> Window | None:
    """Bounding box (display-canvas coordinates from 0) of the True pixels of (T,H,W) or (H,W)."""
    if active.ndim == 3:
        active = np.asarray(active.any(axis=0))  # asarray: numpy types any() as "bool or array"
    rows, cols = np.flatnonzero(active.any(axis=1)), np.flatnonzero(active.any(axis=0))
    if rows.size == 0:
        return None
    return Window(int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


def fit_roi(
    bbox: Window | None,
    canvas: tuple[int, int],
    model_size: tuple[int, int],
    margin_px: int,
    margin_fraction: float,
    pixel_aspect: float = 1.0,
) -> Window:
    """Grow ``bbox`` by its context margin, fit it to the model aspect, keep it inside the canvas.

    ``canvas`` and ``model_size`` are (H, W). The box is never smaller than the model size (so the
    model never sees an upscaled crop) unless the canvas itself is smaller. With no bbox (an all-keep
    mask) the largest model-aspect box centred on the canvas is used. The aspect is the picture's:
    on a plate with non-square pixels (``pixel_aspect`` = pixel width / height) the box is that much
    narrower in pixels. If the grown box cannot keep the aspect inside the canvas, it is clipped to
    the canvas and the resize stretches slightly.
    """
    ch, cw = canvas
    mh, mw = model_size
    # The model's aspect is of the picture, not of pixels: an anamorphic plate (``pixel_aspect`` 2)
    # needs a box half as wide in pixels, which the resize then de-squeezes for the model.
    aspect = mw / mh / (pixel_aspect if pixel_aspect > 0 else 1.0)
    if bbox is None:
        w = min(cw, round(ch * aspect))
        h = min(ch, round(w / aspect))
        return Window((cw - w) // 2, (ch - h) // 2, w, h)
    grow = max(margin_px, math.ceil(margin_fraction * max(bbox.width, bbox.height)))
    x0, y0 = bbox.x - grow, bbox.y - grow
    w, h = bbox.width + 2 * grow, bbox.height + 2 * grow
    # Widen the short side about the centre to reach the model aspect, and at least the model size.
    w_fit = max(w, math.ceil(h * aspect), mw)
    h_fit = max(h, math.ceil(w_fit / aspect), mh)
    w_fit = max(w_fit, math.ceil(h_fit * aspect))
    cx, cy = x0 + w / 2, y0 + h / 2
    w, h = min(w_fit, cw), min(h_fit, ch)
    # Shift (not shrink) into the canvas, so context lost at one edge is taken from the other.
    x = int(min(max(round(cx - w / 2), 0), cw - w))
    y = int(min(max(round(cy - h / 2), 0), ch - h))
    return Window(x, y, int(w), int(h))


def resize_to_model(image: np.ndarray, model_size: tuple[int, int]) -> np.ndarray:
    """Area-resample an (H, W[, C]) float32 crop to the model size (H, W) — as the reference does."""
    mh, mw = model_size
    return cv2.resize(np.ascontiguousarray(image, np.float32), (mw, mh), interpolation=cv2.INTER_AREA)


def resize_from_model(image: np.ndarray, roi: Window, box: Window | None = None, *, dering: bool = False) -> np.ndarray:
    """Scale the model's (H, W, 3) [0, 1] result back to the ROI size with Lanczos, clamped to [0, 1];
    with ``box`` (in the ROI's coordinates), only that part of it, with the values it has in the whole.

    With ``dering`` each pixel is also clamped to the range of the model pixels around it, so
    Lanczos cannot overshoot next to a highlight: through the soft-knee highlight encoding a small
    overshoot near 1.0 would decode as a large one.
    """
    image = np.ascontiguousarray(image, np.float32)
    size = (roi.width, roi.height)
    out = cv2.resize(image, size, interpolation=cv2.INTER_LANCZOS4)
    if box is not None:
        out = out[box.y : box.y_end, box.x : box.x_end]
    if dering:
        kernel = np.ones((3, 3), np.uint8)
        low = cv2.resize(cv2.erode(image, kernel), size, interpolation=cv2.INTER_LINEAR)
        high = cv2.resize(cv2.dilate(image, kernel), size, interpolation=cv2.INTER_LINEAR)
        if box is not None:
            low, high = low[box.y : box.y_end, box.x : box.x_end], high[box.y : box.y_end, box.x : box.x_end]
        out = np.minimum(np.maximum(out, low), high)
    return np.clip(out, 0.0, 1.0)
