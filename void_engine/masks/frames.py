"""Plate frames as the mask stages see them: display-referred RGB, at a working size.

SAM2 works at 1024 px and the VLM sees pictures of about that size, so a 4K plate is read, put
on its display window, converted to the display space with OCIO and shrunk before the next frame
is read: 100 frames of 4K as float would be 10 GB; at a 1024 px working size they are 0.6 GB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from void_engine.plates import ColourConverter, FrameSequence, read_plate, read_spec
from void_engine.progress import CancelFn, Cancelled


@dataclass(frozen=True)
class DisplayFrames:
    """Frames (T, h, w, 3) float32 in [0, 1] at the working size, and the plate's display size."""

    pixels: np.ndarray
    display_size: tuple[int, int]  # (H, W) of the plate's display window
    frames: tuple[int, ...]  # plate frame numbers, one per row of ``pixels``

    @property
    def working_size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[2])


def display_size(plate: FrameSequence) -> tuple[int, int]:
    """(H, W) of the display window of the plate's first frame — the size of its quadmasks."""
    win = read_spec(plate.path(plate.frames[0])).display_window
    return win.height, win.width


def working_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` (H, W) scaled so its long side is at most ``max_side`` (never enlarged)."""
    h, w = size
    scale = min(1.0, max_side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_plane(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float (H, W) or (H, W, C) array to ``size`` (H, W): area when shrinking."""
    import cv2

    h, w = size
    if plane.shape[:2] == (h, w):
        return plane
    interp = cv2.INTER_AREA if h < plane.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(plane, dtype=np.float32), (w, h), interpolation=interp)


def resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool (T, h, w) -> bool (T, H, W): linear upsampling of coverage, cut at one half, so
    edges stay smooth rather than blocky."""
    if masks.shape[1:] == tuple(size):
        return masks.astype(bool)
    return np.stack([resize_plane(m.astype(np.float32), size) > 0.5 for m in masks])


def load_display_frames(
    plate: FrameSequence,
    *,
    max_side: int = 1024,
    plate_space: str = "ACEScg",
    model_space: str = "sRGB Encoded Rec.709 (sRGB)",
    ocio_config: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelFn | None = None,
) -> DisplayFrames:
    """Read every plate frame, on its display window, to display-referred RGB at a working size.

    ``progress(done, total)`` is called per frame; ``cancel()`` is checked before each frame.

    Frames must share one display window (a quadmask sequence has one size). Greyscale plates
    are repeated into R, G, B.
    """
    from void_engine.plates import PlateError

    plate.require_complete()
    colour = ColourConverter(plate_space, model_space, ocio_config)
    size = display_size(plate)
    wsize = working_size(size, max_side)
    out = np.empty((len(plate.frames), *wsize, 3), dtype=np.float32)
    for i, f in enumerate(plate.frames):
        if cancel is not None and cancel():
            raise Cancelled("cancelled while reading plate frames")
        p = read_plate(plate.path(f))
        win = p.spec.display_window
        if (win.height, win.width) != size:
            raise PlateError(
                f"{plate.path(f)} (frame {f}): display window {win.width}x{win.height} differs "
                f"from the first frame's {size[1]}x{size[0]}"
            )
        try:
            channels: tuple[int, ...] = p.spec.rgb_indices
        except PlateError:
            channels = (0, 0, 0)
        rgb = p.display_canvas(channels)
        out[i] = resize_plane(colour.to_model(rgb), wsize)
        if progress is not None:
            progress(i + 1, len(plate.frames))
    return DisplayFrames(np.clip(out, 0.0, 1.0), size, tuple(plate.frames))
