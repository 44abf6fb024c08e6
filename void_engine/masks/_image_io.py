"""Single-channel mask images (mattes and quadmasks) on top of the plate layer.

Private to ``void_engine.masks``: mattes and quadmasks need one channel placed on the display
window, the way a compositor sees them, plus whether the file is 8-bit (8-bit files hold raw
quadmask levels, float/half files hold level/255). Reading and atomic writing are the plate layer's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..plates import Attribute, Plate, PlateSpec, Window, read_plate, write_plate


@dataclass(frozen=True)
class MaskImage:
    """One channel of an image placed on its display window."""

    pixels: np.ndarray  # float32 (H, W), the file's values (8-bit files normalised to [0, 1])
    channel: str  # name of the channel that was read
    is_uint8: bool  # the file stores 8-bit integers (raw quadmask levels)


# Channel preference when the caller does not name one: a matte's coverage lives in alpha; a
# luminance-only file (Y) or a greyscale one holds it in its only channel.
_ALPHA_NAMES = ("A", "alpha", "a")


def read_mask_channel(
    path: str | os.PathLike,
    channel: str | int | None = None,
    *,
    outside: float = 0.0,
    prefer_alpha: bool = True,
) -> MaskImage:
    """Read one channel of ``path`` onto the display window (PlateError names the file).

    ``channel``: a name, an index, or None (alpha if present and ``prefer_alpha``, else
    Rec.709 luminance of R,G,B when all three are present, else the first channel).
    Pixels of the display window outside the data window get ``outside``.
    """
    plate = read_plate(Path(path))
    names = list(plate.spec.channel_names)
    if channel is None:
        alpha = next((n for n in _ALPHA_NAMES if n in names), None)
        if prefer_alpha and alpha is not None:
            plane, used = plate.display_canvas((names.index(alpha),), fill=outside)[..., 0], alpha
        elif all(n in names for n in ("R", "G", "B")):
            rgb = plate.display_canvas(plate.spec.rgb_indices, fill=outside)
            plane, used = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32), "luminance(R,G,B)"
        else:
            plane, used = plate.display_canvas((0,), fill=outside)[..., 0], names[0]
    else:
        idx = names.index(channel) if isinstance(channel, str) and channel in names else channel
        if not isinstance(idx, int) or not 0 <= idx < len(names):
            raise ValueError(f"{path}: no channel {channel!r} (channels {names})")
        plane, used = plate.display_canvas((idx,), fill=outside)[..., 0], names[idx]
    is_uint8 = all(f == "uint8" for f in plate.spec.channel_formats)
    return MaskImage(pixels=plane.astype(np.float32), channel=used, is_uint8=is_uint8)


def write_grey_exr(
    path: str | os.PathLike, values: np.ndarray, *, overwrite: bool = False, attributes: dict[str, str] | None = None
) -> Path:
    """Write ``values`` (float, (H, W)) as a half-float R,G,B zip EXR, atomically.

    R=G=B so every viewer shows it as grey and every reader's "first channel" is the value.
    Refuses to replace an existing file unless ``overwrite``.
    """
    h, w = values.shape
    window = Window(0, 0, w, h)
    spec = PlateSpec(
        data_window=window,
        display_window=window,
        channel_names=("R", "G", "B"),
        channel_formats=("half",) * 3,
        attributes=(Attribute("compression", "string", "zip"),)
        + tuple(Attribute(k, "string", v) for k, v in (attributes or {}).items()),
    )
    rgb = np.repeat(values.astype(np.float32)[..., None], 3, axis=2)
    return write_plate(Path(path), Plate(rgb, spec), replace=overwrite)
