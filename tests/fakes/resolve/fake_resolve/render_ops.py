"""The pixels behind the fake hosts' renders: real EXR files written with OpenImageIO.

Resolve renders in its own engine, not in the script's Python. Likewise, when the script runs
in an interpreter without OpenImageIO (the install test's bare interpreter), these operations
run in a child process of ``VOID_FAKE_RENDER_PYTHON`` (a Python that has OpenImageIO), fed one
JSON batch on stdin: ``python -m fake_resolve.render_ops``.

Operations (plain data, so they cross the process boundary):
- ``{"op": "copy", "src": path, "dst": path, "channels": [names] | null}``: re-encode a frame
  as half-float EXR (what a Saver/the render queue writes from a pass-through plate);
- ``{"op": "polygon", "points": [[x, y], ...], "width": W, "height": H, "dst": path,
  "channels": ["A"]}``: rasterise a Fusion polygon mask (points normalised 0..1, y up) to a
  matte, 1 inside, 0 outside.

Either may carry ``"size": [W, H]``: the image is resampled to that size before it is written
(the render queue's output resolution, a Resize tool); an image already that size is unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

try:
    import numpy as np
    import OpenImageIO as oiio
except ImportError:  # the bare interpreter of the install test: run in a child process instead
    np = None  # type: ignore[assignment]
    oiio = None  # type: ignore[assignment]


def _write(dst: str, pixels: Any, channels: list[str]) -> None:
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    h, w = pixels.shape[:2]
    spec = oiio.ImageSpec(w, h, len(channels), oiio.HALF)
    spec.channelnames = tuple(channels)
    spec.attribute("compression", "zip")
    if "A" in channels:
        spec.alpha_channel = channels.index("A")
    out = oiio.ImageOutput.create(dst)
    if out is None or not out.open(dst, spec):
        raise OSError(f"fake render: cannot write {dst}: {oiio.geterror()}")
    out.write_image(pixels.reshape(h, w, len(channels)).astype(np.float32))
    out.close()


def _resized(pixels: Any, size: list[int] | None) -> Any:
    if not size or (pixels.shape[1], pixels.shape[0]) == (int(size[0]), int(size[1])):
        return pixels
    h, w, n = pixels.shape
    src = oiio.ImageBuf(oiio.ImageSpec(w, h, n, oiio.FLOAT))
    src.set_pixels(oiio.ROI(0, w, 0, h, 0, 1, 0, n), np.ascontiguousarray(pixels, dtype=np.float32))
    out = oiio.ImageBufAlgo.resize(src, roi=oiio.ROI(0, int(size[0]), 0, int(size[1]), 0, 1, 0, n))
    return out.get_pixels(oiio.FLOAT).reshape(int(size[1]), int(size[0]), n)


def _copy(src: str, dst: str, channels: list[str] | None, size: list[int] | None = None) -> None:
    buf = oiio.ImageBuf(src)
    if buf.has_error:
        raise OSError(f"fake render: cannot read {src}: {buf.geterror()}")
    pixels = buf.get_pixels(oiio.FLOAT)
    names = list(buf.spec().channelnames)
    if channels:
        pixels = np.stack([pixels[..., names.index(c)] for c in channels], axis=-1)
        names = channels
    _write(dst, _resized(pixels, size), names)


def _polygon(
    points: list[list[float]], width: int, height: int, dst: str, channels: list[str], size: list[int] | None = None
) -> None:
    # Even-odd rule at pixel centres; Fusion's mask coordinates run 0..1 with y up.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    px = (xs + 0.5) / width
    py = 1.0 - (ys + 0.5) / height
    inside = np.zeros((height, width), dtype=bool)
    n = len(points)
    for i in range(n):
        x1, y1 = points[i]
        x2, y2 = points[(i + 1) % n]
        if y1 == y2:
            continue
        crosses = (py >= min(y1, y2)) & (py < max(y1, y2))
        x_at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (px < x_at)
    matte = inside.astype(np.float32)
    _write(dst, _resized(np.stack([matte] * len(channels), axis=-1), size), channels)


def run_ops(ops: list[dict[str, Any]]) -> None:
    """Do every operation here, or in a child Python with OpenImageIO when this one has none."""
    if not ops:
        return
    if oiio is None:
        python = os.environ.get("VOID_FAKE_RENDER_PYTHON")
        if not python:
            raise RuntimeError("fake render needs OpenImageIO: set VOID_FAKE_RENDER_PYTHON to a Python that has it")
        here = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": here}
        done = subprocess.run(
            [python, "-m", "fake_resolve.render_ops"],
            input=json.dumps(ops),
            text=True,
            env=env,
            capture_output=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise OSError(f"fake render child failed: {done.stderr[-2000:]}")
        return
    for op in ops:
        if op["op"] == "copy":
            _copy(op["src"], op["dst"], op.get("channels"), op.get("size"))
        elif op["op"] == "polygon":
            _polygon(
                op["points"],
                int(op["width"]),
                int(op["height"]),
                op["dst"],
                op.get("channels") or ["A"],
                op.get("size"),
            )
        else:
            raise ValueError(f"fake render: unknown op {op['op']!r}")


if __name__ == "__main__":
    run_ops(json.loads(sys.stdin.read()))
