"""The finish on real footage: a published VOID sample shot made into a studio plate, filled by the
preview backend and finished at plate resolution, next to the plain Lanczos upscale.

Decodes the first ``--frames`` frames of a shot from ``../shared/footage`` (``pillow``: 3840x2160
sRGB mp4, a kettlebell lowered onto a pillow, a slow camera zoom and an auto exposure that drifts
about 4% over 16 frames), converts them to ACEScg with OpenColorIO, writes half EXRs numbered from
1001 and snaps the quadmask video's levels, as a studio would receive the shot. Then, through the
plate layer, the preview backend fills it and the result is written twice: with the finish and
without it (the model's result scaled back with Lanczos alone), one after the other.

There is no ground truth, so the figures compare the fill with the plate just around it
(display-encoded luma, every frame), for each of the two results:
- ``hf_ratio_*``: Laplacian RMS inside the matte ÷ that of the untouched plate in a ring around it
  (detail and grain: a fill that is soft and grainless next to 4K pixels scores far below 1);
- ``seam_step_*``: where the matte's edge crosses 64 px tiles, the mean |difference| between the
  σ = 4 px low-passed fill just inside the edge and the plate just outside it (a patch lighter or
  darker than its surroundings, e.g. pixels brought in from a frame exposed differently);
- ``finish_s_per_frame``: wall-clock seconds of the finish per frame.

It prints one ``name: value`` line per figure. There are no targets: the written frames are the
check (``--keep DIR`` keeps them, with a contact sheet ``contact.png`` of the middle frame: plate,
Lanczos, finish).

    .venv/bin/python bench/footage_bench.py [--shot ../shared/footage/pillow] [--frames 16] [--keep DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from void_engine.backends.preview import preview_inpaint
from void_engine.levels import KEEP, snap_quadmask
from void_engine.plates import (
    ColourConverter,
    FrameSequence,
    OutputSequence,
    Plate,
    PlateSpec,
    Shot,
    ShotSettings,
    Window,
    read_plate,
    write_plate,
)

FOOTAGE = Path(__file__).resolve().parents[1].parent / "shared" / "footage"
PLATE_SPACE = "ACEScg"
VIDEO_SPACE = "sRGB Encoded Rec.709 (sRGB)"
RING_PX = (40, 104)  # the untouched plate around the matte: this far from the quadmask's hole (px)
EDGE_PX = 12  # the seam is compared this deep either side of the composite matte's edge
TILE_PX = 64


def make_plate(shot: Path, root: Path, frames: int) -> tuple[FrameSequence, list[np.ndarray]]:
    """The mp4 shot as ACEScg half EXRs in ``root`` and its quadmask (snapped, full size)."""
    video = cv2.VideoCapture(str(shot / "input_video.mp4"))
    masks = sorted(shot.glob("*quadmask*.mp4"))
    if not masks:
        raise SystemExit(f"{shot}: no quadmask video (*quadmask*.mp4)")
    mask_video = cv2.VideoCapture(str(masks[0]))
    colour = ColourConverter(PLATE_SPACE, VIDEO_SPACE)
    quadmasks = []
    for i in range(frames):
        ok, bgr = video.read()
        ok_mask, mask = mask_video.read()
        if not (ok and ok_mask):
            raise SystemExit(f"{shot}: only {i} frames could be read (wanted {frames})")
        linear = colour.from_model(bgr[..., ::-1].astype(np.float32) / 255.0)
        h, w = linear.shape[:2]
        window = Window(0, 0, w, h)
        plate = Plate(linear, PlateSpec(window, window, ("R", "G", "B"), ("half",) * 3))
        write_plate(root / f"plate.{1001 + i}.exr", plate, replace=True)
        level = mask[..., 0] if mask.ndim == 3 else mask
        if level.shape != (h, w):
            level = cv2.resize(level, (w, h), interpolation=cv2.INTER_NEAREST)
        quadmasks.append(snap_quadmask(level.astype(np.float32)))
    return FrameSequence(str(root / "plate.####.exr"), tuple(range(1001, 1001 + frames))), quadmasks


def luma(rgb: np.ndarray, colour: ColourConverter) -> np.ndarray:
    return np.clip(colour.to_model(rgb), 0.0, 1.0).mean(axis=-1).astype(np.float32)


def measure(
    result: OutputSequence, plate: FrameSequence, quadmasks: list[np.ndarray], matte_px: int
) -> dict[str, float]:
    colour = ColourConverter(PLATE_SPACE, VIDEO_SPACE)
    hf_in, hf_ring, steps = [], [], []
    for t, frame in enumerate(plate.frames):
        hole = (quadmasks[t] != KEEP).astype(np.uint8)
        if not hole.any():
            continue
        out = luma(read_plate(result.path(frame)).pixels[..., :3], colour)
        original = luma(read_plate(plate.path(frame)).pixels[..., :3], colour)
        outside = cv2.distanceTransform(1 - hole, cv2.DIST_L2, 3)
        inside = cv2.distanceTransform(hole, cv2.DIST_L2, 3)
        lap_out = cv2.Laplacian(out, cv2.CV_32F, ksize=1)
        lap_plate = cv2.Laplacian(original, cv2.CV_32F, ksize=1)
        core, ring = inside > 8, (outside > RING_PX[0]) & (outside <= RING_PX[1])
        hf_in.append(float(np.sqrt(np.mean(np.square(lap_out[core], dtype=np.float64)))))
        hf_ring.append(float(np.sqrt(np.mean(np.square(lap_plate[ring], dtype=np.float64)))))
        # Either side of the composite matte's edge (the quadmask grown by its dilation and feather).
        soft = cv2.GaussianBlur(out, (0, 0), 4.0)
        fill_side = (outside > 0) & (outside <= matte_px) | (inside > 0) & (inside <= EDGE_PX)
        plate_side = (outside > matte_px) & (outside <= matte_px + EDGE_PX)
        h, w = hole.shape
        for y in range(0, h, TILE_PX):
            for x in range(0, w, TILE_PX):
                a, b = fill_side[y : y + TILE_PX, x : x + TILE_PX], plate_side[y : y + TILE_PX, x : x + TILE_PX]
                if a.sum() > 200 and b.sum() > 200:
                    tile = soft[y : y + TILE_PX, x : x + TILE_PX]
                    steps.append(abs(float(tile[a].mean()) - float(tile[b].mean())))
    return {
        "hf_ratio": float(np.mean(hf_in) / np.mean(hf_ring)),
        "seam_step": float(np.mean(steps)) if steps else float("nan"),
    }


def contact(path: Path, plate: FrameSequence, results: list[OutputSequence], quadmask: np.ndarray, t: int) -> None:
    """Plate | Lanczos | finish of frame index ``t``, 1:1 around the matte's centre."""
    colour = ColourConverter(PLATE_SPACE, VIDEO_SPACE)
    ys, xs = np.nonzero(quadmask != KEEP)
    cy, cx = int(ys.mean()), int(xs.mean())
    frame = plate.frames[t]
    images = [read_plate(plate.path(frame)).pixels] + [read_plate(r.path(frame)).pixels for r in results]
    h, w = images[0].shape[:2]
    y0, x0 = min(max(0, cy - 300), max(0, h - 600)), min(max(0, cx - 400), max(0, w - 800))
    crops = [np.clip(colour.to_model(im[y0 : y0 + 600, x0 : x0 + 800, :3]), 0, 1) for im in images]
    cv2.imwrite(str(path), (np.concatenate(crops, axis=1)[..., ::-1] * 255 + 0.5).astype(np.uint8))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shot", type=Path, default=FOOTAGE / "pillow")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--keep", type=Path, help="keep the plate, the results and contact.png in this folder")
    args = ap.parse_args()
    if not (args.shot / "input_video.mp4").is_file():
        print(f"{args.shot}: no input_video.mp4 (the footage lives in shared/footage)", file=sys.stderr)
        return 2
    root = args.keep or Path(tempfile.mkdtemp(prefix="footage-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    plate, quadmasks = make_plate(args.shot, root, args.frames)
    settings = ShotSettings()
    shot = Shot.load(plate, quadmasks, settings)
    started = time.perf_counter()
    video = preview_inpaint(shot.model_video, shot.model_quadmask)
    print(
        f"# {args.shot.name}: {args.frames} frames, ROI {shot.roi}, preview fill {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    figures: dict[str, float] = {}
    results: list[OutputSequence] = []
    for label, finish in (("lanczos", False), ("finish", True)):
        run = Shot.load(
            plate, quadmasks, dataclasses.replace(settings, finish=dataclasses.replace(settings.finish, enabled=finish))
        )
        started = time.perf_counter()
        out = run.write_result(video, root / label, "fill", seed=1)
        seconds = time.perf_counter() - started
        results.append(out)
        for note in out.notes:
            print(f"# {label}: {note}", file=sys.stderr)
        print(f"# {label}: written in {seconds:.1f} s", file=sys.stderr)
        for name, value in measure(out, plate, quadmasks, settings.dilate_px + settings.feather_px).items():
            figures[f"{name}_{label}"] = value
        if finish and out.finish is not None:
            figures["finish_s_per_frame"] = out.finish.seconds / args.frames
            figures["upscale"] = out.finish.upscale
            figures["revealed_fraction"] = out.finish.revealed_fraction
    if args.keep:
        contact(root / "contact.png", plate, results, quadmasks[args.frames // 2], args.frames // 2)
    print(f"# load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; results in {root}", file=sys.stderr)
    for name, value in figures.items():
        print(f"{name}: {value:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
