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


def composite_matte(quadmask: np.ndarray, dilate_px: int, feather_px: int) -> np.ndarray:
    """Float32 matte in [0, 1] from a (H, W) quadmask: 1 on remove/overlap/affected grown by
    ``dilate_px``, ramping smoothly to exactly 0 over ``feather_px`` more pixels."""
    region = quadmask != KEEP
    if not region.any():
        return np.zeros(quadmask.shape, np.float32)
    if dilate_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
        region = cv2.dilate(region.astype(np.uint8), k) > 0
    if feather_px <= 0:
        return region.astype(np.float32)
    # Distance (px) from each outside pixel to the region; inside is 0.
    dist = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    t = np.clip(1.0 - dist / float(feather_px), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # smoothstep: no visible edge at either end


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
