"""Plate-path throughput: read -> to-model (colour + ROI + resize) -> back -> composite -> write.

Generates a 2048x1152 half RGBA scene-linear sequence with a moving mask, then times the two halves of
the round-trip the engine runs around the model (the model itself is replaced by its input, so only
plate work is measured). Prints frames/s per stage and overall.

    .venv/bin/python bench/plates_bench.py [--frames 24] [--width 2048] [--height 1152]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from void_engine.finish import FinishSettings
from void_engine.levels import KEEP, REMOVE
from void_engine.plates import FrameSequence, Shot, ShotSettings

# The plate path alone (read, colour, ROI, composite, write): the finish stage, which runs
# between the model and the composite, has its own benchmark (bench/finish_bench.py).
PLATE_PATH = ShotSettings(finish=FinishSettings(enabled=False))


def make_sequence(folder: Path, frames: range, width: int, height: int) -> str:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [0.2 + 0.1 * np.sin(xx / 37.0), 0.15 + 0.1 * np.cos(yy / 23.0), 0.1 + 0.05 * np.sin((xx + yy) / 51.0)], -1
    )
    for i, f in enumerate(frames):
        px = np.empty((height, width, 4), np.float32)
        px[..., :3] = base + rng.normal(0, 0.01, base.shape).astype(np.float32) + 0.01 * i
        px[..., 3] = 1.0
        spec = oiio.ImageSpec(width, height, 4, oiio.HALF)
        spec.channelnames = ("R", "G", "B", "A")
        spec.attribute("compression", "zip")
        out = oiio.ImageOutput.create(str(folder / f"plate.{f:04d}.exr"))
        out.open(str(folder / f"plate.{f:04d}.exr"), spec)
        out.write_image(px)
        out.close()
    return str(folder / "plate.####.exr")


def moving_quadmasks(n: int, width: int, height: int) -> list[np.ndarray]:
    masks = []
    for i in range(n):
        q = np.full((height, width), KEEP, np.uint8)
        x = int(width * 0.3 + i * 6)
        q[height // 3 : height // 3 + 220, x : x + 160] = REMOVE
        masks.append(q)
    return masks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--height", type=int, default=1152)
    args = ap.parse_args()
    frames = range(1001, 1001 + args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "src").mkdir()
        pattern = make_sequence(tmp_path / "src", frames, args.width, args.height)
        seq = FrameSequence.parse(pattern, f"{frames[0]}-{frames[-1]}")
        masks = moving_quadmasks(args.frames, args.width, args.height)

        t0 = time.perf_counter()
        shot = Shot.load(seq, masks, PLATE_PATH)
        t1 = time.perf_counter()
        shot.write_result(shot.model_video, tmp_path / "out", "bench")
        t2 = time.perf_counter()

    n = args.frames
    model_h, model_w = shot.model_video.shape[1:3]
    print(
        f"plate: {args.width}x{args.height} half RGBA, {n} frames, "
        f"ROI {shot.roi.width}x{shot.roi.height} -> model {model_w}x{model_h}"
    )
    print(f"read + to-model (colour, ROI, resize):        {n / (t1 - t0):7.2f} frames/s")
    print(f"back + composite + write (atomic, versioned): {n / (t2 - t1):7.2f} frames/s")
    print(f"round-trip:                                   {n / (t2 - t0):7.2f} frames/s")


if __name__ == "__main__":
    main()
