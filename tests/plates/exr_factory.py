"""Write test EXRs straight through OpenImageIO (not through the code under test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio


def write_exr(
    path: Path,
    pixels: np.ndarray,
    channels: tuple[str, ...],
    formats: tuple[str, ...],
    data_window: tuple[int, int] = (0, 0),
    display: tuple[int, int, int, int] | None = None,
    attributes: dict[str, object] | None = None,
    compression: str = "zip",
) -> Path:
    """``pixels`` (H, W, C) over the data window at origin ``data_window``; display (x, y, w, h)."""
    h, w, c = pixels.shape
    spec = oiio.ImageSpec(w, h, c, oiio.TypeDesc(formats[0]))
    spec.x, spec.y = data_window
    dx, dy, dw, dh = display or (0, 0, w + data_window[0], h + data_window[1])
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = dx, dy, dw, dh
    spec.channelnames = channels
    if len(set(formats)) > 1:  # OIIO honours per-channel formats only when they differ
        spec.channelformats = tuple(oiio.TypeDesc(f) for f in formats)
    spec.attribute("compression", compression)
    for k, v in (attributes or {}).items():
        spec.attribute(k, v)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), out.geterror()
    assert out.write_image(np.ascontiguousarray(pixels, np.float32)), out.geterror()
    out.close()
    return path


def read_raw(path: Path) -> tuple[np.ndarray, "oiio.ImageSpec"]:
    """Pixels as float32 plus the raw OIIO spec, for bit-level comparisons."""
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, oiio.geterror()
    spec = inp.spec()
    px = inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
    inp.close()
    return np.asarray(px, np.float32).reshape(spec.height, spec.width, spec.nchannels), spec


def make_shot(
    folder: Path,
    frames: range,
    size: tuple[int, int] = (96, 160),
    data_window: tuple[int, int, int, int] | None = None,
    seed: int = 0,
    extra_layers: bool = True,
) -> str:
    """A random scene-linear sequence (half RGBA + float depth.Z + half N.x); returns its pattern.

    ``size`` is the display (H, W); ``data_window`` (x, y, w, h) defaults to the display window.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    x, y, dw, dh = data_window or (0, 0, w, h)
    channels = ("R", "G", "B", "A") + (("N.x", "depth.Z") if extra_layers else ())
    formats = ("half",) * 4 + (("half", "float") if extra_layers else ())
    folder.mkdir(parents=True, exist_ok=True)
    for f in frames:
        px = np.empty((dh, dw, len(channels)), np.float32)
        px[..., :3] = rng.uniform(0.0, 4.0, (dh, dw, 3))  # scene-linear, highlights above 1
        px[..., 3] = 1.0
        if extra_layers:
            px[..., 4] = rng.uniform(-1, 1, (dh, dw))
            px[..., 5] = rng.uniform(1, 1000, (dh, dw))
        write_exr(
            folder / f"plate.{f:04d}.exr",
            px,
            channels,
            formats,
            (x, y),
            (0, 0, w, h),
            attributes={"studio:shot": "sh010", "PixelAspectRatio": 1.0},
        )
    return str(folder / "plate.####.exr")
