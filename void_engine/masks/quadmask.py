"""Quadmasks: VOID's four-level mask, built from mattes, validated, stored as EXR sequences.

Levels (raw uint8, their numbers in :mod:`void_engine.levels`): REMOVE (the object), OVERLAP (the
object over a region it affected), AFFECTED (what the object did to the scene: shadow, reflection,
things it moved), KEEP.

Storage: an EXR quadmask holds level/255 in its first channel (KEEP is 1.0) at the plate's
display-window size; an 8-bit image holds the raw levels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from void_engine.levels import AFFECTED, KEEP, LEVELS, OVERLAP, REMOVE
from void_engine.plates.errors import PlateError
from void_engine.plates.sequence import FrameSequence

from ._image_io import read_mask_channel, write_grey_exr

# Codecs and 8-bit round trips move levels by a few codes; a level is still recognised within
# this distance. The closest pair (0, 63) is 63 apart, so snapping can never be ambiguous.
DEFAULT_TOLERANCE = 4


class QuadmaskError(PlateError, ValueError):
    """A quadmask or matte is unusable; the message names the frame and/or file."""


# ---------------------------------------------------------------------------------------------
# building


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow a boolean mask by ``px`` pixels (a disc, so corners are not squared off)."""
    if px <= 0:
        return mask
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _as_plane(matte: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(matte)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise QuadmaskError(f"{name} matte must be (H, W), got shape {arr.shape}")
    if arr.dtype == np.uint8:  # 8-bit mattes are 0..255 coverage
        return arr.astype(np.float32) / 255.0
    return arr.astype(np.float32)


def quadmask_from_mattes(
    remove: np.ndarray,
    affected: np.ndarray | None = None,
    threshold: float = 0.5,
    dilate_px: int = 0,
) -> np.ndarray:
    """Combine a remove matte and an optional affected matte into a quadmask (uint8 (H, W)).

    A pixel belongs to a matte where its coverage is > ``threshold`` (float mattes in [0, 1];
    uint8 mattes are read as coverage/255). Both regions are grown by ``dilate_px`` first.
    remove only -> REMOVE, affected only -> AFFECTED, both -> OVERLAP, neither -> KEEP.
    """
    rem = dilate(_as_plane(remove, "remove") > threshold, dilate_px)
    out = np.full(rem.shape, KEEP, dtype=np.uint8)
    if affected is not None:
        aff_plane = _as_plane(affected, "affected")
        if aff_plane.shape != rem.shape:
            raise QuadmaskError(
                f"affected matte is {aff_plane.shape[1]}x{aff_plane.shape[0]}, remove matte is "
                f"{rem.shape[1]}x{rem.shape[0]} (W x H)"
            )
        aff = dilate(aff_plane > threshold, dilate_px)
        out[aff] = AFFECTED
        out[rem & aff] = OVERLAP
        out[rem & ~aff] = REMOVE
    else:
        out[rem] = REMOVE
    return out


def split_quadmask(quadmask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`quadmask_from_mattes`: boolean (remove, affected) regions."""
    q = np.asarray(quadmask)
    return (q == REMOVE) | (q == OVERLAP), (q == AFFECTED) | (q == OVERLAP)


# ---------------------------------------------------------------------------------------------
# validation


def _where(frame: int | None, path: str | os.PathLike | None) -> str:
    parts = []
    if frame is not None:
        parts.append(f"frame {frame}")
    if path is not None:
        parts.append(str(path))
    return " (" + ", ".join(parts) + ")" if parts else ""


def validate_quadmask(
    arr: np.ndarray,
    frame: int | None = None,
    expected_size: tuple[int, int] | None = None,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    path: str | os.PathLike | None = None,
) -> np.ndarray:
    """Check one quadmask frame and return it snapped to the four levels (uint8 (H, W)).

    ``expected_size`` is (H, W) — the plate's display window. Raises :class:`QuadmaskError`
    naming the frame (and file, when given) for a wrong shape or size, or for pixels further than
    ``tolerance`` codes from every level (reporting how many, one example value and where).
    """
    where = _where(frame, path)
    q = np.asarray(arr)
    if q.ndim == 3 and q.shape[2] == 1:
        q = q[..., 0]
    if q.ndim != 2:
        raise QuadmaskError(f"quadmask{where} must be one channel (H, W), got shape {q.shape}")
    if expected_size is not None and tuple(q.shape) != tuple(expected_size):
        eh, ew = expected_size
        raise QuadmaskError(
            f"quadmask{where} is {q.shape[1]}x{q.shape[0]}, expected {ew}x{eh} (the plate's display window, W x H)"
        )
    if q.dtype.kind == "f" and not np.all(np.isfinite(q)):
        raise QuadmaskError(f"quadmask{where} contains NaN or infinite values")
    values = q.astype(np.int32) if q.dtype.kind in "iub" else np.rint(q).astype(np.int32)
    levels = np.array(LEVELS, dtype=np.int32)
    dist = np.abs(values[..., None] - levels)  # (H, W, 4)
    nearest = dist.argmin(axis=-1)
    bad = dist.min(axis=-1) > tolerance
    if bad.any():
        ys, xs = np.nonzero(bad)
        raise QuadmaskError(
            f"quadmask{where}: {int(bad.sum())} pixel(s) are not one of the levels {LEVELS} "
            f"(tolerance {tolerance}); e.g. value {int(values[ys[0], xs[0]])} at x={xs[0]}, "
            f"y={ys[0]}"
        )
    return levels[nearest].astype(np.uint8)


def validate_quadmask_sequence(
    masks: Sequence[np.ndarray],
    frames: Sequence[int],
    expected_size: tuple[int, int] | None = None,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
) -> list[np.ndarray]:
    """Validate a whole sequence: one mask per frame, each valid, all the same size."""
    if len(masks) != len(frames):
        raise QuadmaskError(
            f"quadmask sequence has {len(masks)} frame(s) but the plate range has {len(frames)} "
            f"({frames[0] if frames else '-'}..{frames[-1] if frames else '-'})"
        )
    out: list[np.ndarray] = []
    for frame, mask in zip(frames, masks):
        size = expected_size if expected_size is not None else (out[0].shape if out else None)
        out.append(validate_quadmask(mask, frame, size, tolerance=tolerance))
    return out


# ---------------------------------------------------------------------------------------------
# files


def read_quadmask(path: str | os.PathLike, *, frame: int | None = None, channel: str | int = 0) -> np.ndarray:
    """Read a quadmask image as raw levels, uint8 (H, W) on the display window (not validated).

    8-bit files hold raw levels; any other pixel type (half/float EXR) holds level/255. Pixels of
    the display window outside the data window count as keep (255): nothing stored there, so
    nothing is touched there.
    """
    try:
        img = read_mask_channel(path, channel, outside=1.0)
    except (PlateError, ValueError) as exc:
        raise QuadmaskError(f"quadmask{_where(frame, None)}: {exc}") from exc
    # 8-bit files come back normalised to [0, 1] too, so one scale serves both: level = v * 255
    vals = img.pixels * 255.0
    if not np.all(np.isfinite(vals)):
        raise QuadmaskError(f"quadmask{_where(frame, path)} contains NaN or infinite values")
    return np.clip(np.rint(vals), 0, 255).astype(np.uint8)


def read_matte(path: str | os.PathLike, channel: str | int | None = None, *, frame: int | None = None) -> np.ndarray:
    """Read a roto matte as float32 coverage (H, W) on the display window.

    Takes alpha when the file has one, else luminance (or the only channel); float, half and
    8-bit files all give coverage in [0, 1]. Outside the data window coverage is 0.
    """
    try:
        return read_mask_channel(path, channel, outside=0.0).pixels
    except (PlateError, ValueError) as exc:
        raise QuadmaskError(f"matte{_where(frame, None)}: {exc}") from exc


def write_quadmask(
    path: str | os.PathLike, quadmask: np.ndarray, *, overwrite: bool = False, frame: int | None = None
) -> Path:
    """Write one quadmask frame as a half-float EXR holding level/255 (validated first)."""
    q = validate_quadmask(quadmask, frame, path=path, tolerance=0)
    try:
        return write_grey_exr(
            path, q.astype(np.float32) / 255.0, overwrite=overwrite, attributes={"void:content": "quadmask level/255"}
        )
    except (PlateError, ValueError) as exc:
        raise QuadmaskError(f"quadmask{_where(frame, None)}: {exc}") from exc


def write_quadmask_sequence(seq: FrameSequence, masks: Sequence[np.ndarray], *, overwrite: bool = False) -> list[Path]:
    """Write one quadmask per frame of ``seq`` (EXR, level/255); returns the paths written.

    The masks must match ``seq.frames`` in count and all share one size.
    """
    frames = tuple(seq.frames)
    checked = validate_quadmask_sequence(masks, frames, tolerance=0)
    return [write_quadmask(seq.path(f), q, overwrite=overwrite, frame=f) for f, q in zip(frames, checked)]


def read_quadmask_sequence(
    seq: FrameSequence,
    expected_size: tuple[int, int] | None = None,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
) -> list[np.ndarray]:
    """Read and validate a quadmask per frame of ``seq``: a list of uint8 (H, W) raw levels.

    Missing files are reported all at once; each frame must be a valid quadmask of
    ``expected_size`` (H, W) when given, else of the first frame's size.
    """
    frames = tuple(seq.frames)
    missing = [f for f in frames if not Path(seq.path(f)).is_file()]
    if missing:
        shown = ", ".join(str(f) for f in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise QuadmaskError(
            f"quadmask sequence is missing {len(missing)} frame(s): {shown} (e.g. {seq.path(missing[0])})"
        )
    out: list[np.ndarray] = []
    for f in frames:
        path = seq.path(f)
        size = expected_size if expected_size is not None else (out[0].shape if out else None)
        out.append(validate_quadmask(read_quadmask(path, frame=f), f, size, tolerance=tolerance, path=path))
    return out
