"""Shared helpers for the masks tests: tiny real EXR plates and mattes, a moving square."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio

FIRST = 1001


def write_exr(
    path: Path,
    pixels: np.ndarray,
    channels: tuple[str, ...],
    *,
    pixel_type=oiio.HALF,
    data_window: tuple[int, int, int, int] | None = None,
    display: tuple[int, int] | None = None,
) -> Path:
    """Write ``pixels`` (h, w, C) as an EXR; ``data_window`` (x, y, w, h) inside ``display``
    (W, H) for files whose data window is smaller than their display window."""
    h, w, c = pixels.shape
    spec = oiio.ImageSpec(w, h, c, pixel_type)
    spec.channelnames = channels
    if data_window is not None:
        spec.x, spec.y = data_window[0], data_window[1]
    if display is not None:
        spec.full_x, spec.full_y = 0, 0
        spec.full_width, spec.full_height = display
    spec.attribute("compression", "zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), oiio.geterror()
    assert out.write_image(np.ascontiguousarray(pixels, dtype=np.float32))
    out.close()
    return path


def square_masks(n: int, h: int, w: int, size: int = 16, step: int = 6) -> np.ndarray:
    """bool (n, h, w): a square moving right by ``step`` px a frame."""
    m = np.zeros((n, h, w), dtype=bool)
    for t in range(n):
        x = 8 + t * step
        m[t, h // 2 - size // 2 : h // 2 + size // 2, x : x + size] = True
    return m


def write_plate_sequence(root: Path, n: int = 6, h: int = 48, w: int = 80) -> tuple[str, np.ndarray]:
    """A synthetic ACEScg RGB plate: grey ground, an orange square moving right. Returns the
    pattern and the square's true masks."""
    masks = square_masks(n, h, w)
    for t in range(n):
        img = np.full((h, w, 3), 0.18, np.float32)
        img[masks[t]] = (0.9, 0.35, 0.05)
        write_exr(root / f"plate.{FIRST + t:04d}.exr", img, ("R", "G", "B"))
    return str(root / "plate.####.exr"), masks


def write_matte(path: Path, matte: np.ndarray, *, channel: str = "A") -> Path:
    """A roto matte EXR, coverage in the named channel (alpha by default, as Nuke writes it)."""
    if channel == "A":
        rgba = np.zeros((*matte.shape, 4), np.float32)
        rgba[..., 3] = matte
        return write_exr(path, rgba, ("R", "G", "B", "A"))
    return write_exr(path, matte[..., None].astype(np.float32), (channel,))
