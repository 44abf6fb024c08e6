"""A synthetic sample shot with ground truth: the demo's plate and the tests' yardstick.

A static camera looks at a textured wall and floor. A ball rolls across the frame and casts a
soft shadow on the floor. The generator writes, per frame:

- the plate (scene-linear ACEScg, half RGBA EXR),
- the remove matte (the ball) and the affected matte (its shadow), one-channel half EXRs,
- the ground-truth clean plate: the same scene without the ball and without its shadow.

The mattes cover the full support of the ball and of the shadow (every pixel the ball or its
shadow touches at all), so outside the mattes the plate and the clean plate are bit-identical.
Everything is a function of the seed, so a shot can be regenerated anywhere.

The background is band-limited on purpose (its finest detail is about ten pixels across at 1152
lines): the engine works on a resized region of interest, so detail finer than the model resolution
can hold would measure the resize rather than the removal. Detail near that limit is there, so the
figures do show what the resize costs.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

# Bumped whenever the picture changes, so a cached shot made by older code is regenerated.
GENERATOR_VERSION = 2
PLATE_COLOURSPACE = "ACEScg"
_MARKER = "sample_shot.json"


@dataclass(frozen=True)
class SampleShot:
    """Where a generated sample shot lives. Patterns use ``####`` frame padding."""

    root: Path
    plate: str  # RGBA half, scene-linear ACEScg
    remove_matte: str  # one channel (Y): 1 where the ball is, else 0
    affected_matte: str  # one channel (Y): 1 where the ball's shadow is, else 0
    clean_plate: str  # ground truth: RGBA half, no ball, no shadow
    frames: tuple[int, ...]
    width: int
    height: int
    seed: int
    colourspace: str = PLATE_COLOURSPACE

    @property
    def frame_range(self) -> str:
        """The frame range as a TD writes it, e.g. ``1001-1049``."""
        return f"{self.frames[0]}-{self.frames[-1]}"

    def path(self, pattern: str, frame: int) -> Path:
        """The file for ``frame`` of one of this shot's ``####`` patterns."""
        return Path(pattern.replace("####", f"{frame:04d}"))


@dataclass(frozen=True)
class SampleFrame:
    """One rendered frame of the sample scene, all float32 at (H, W[, C])."""

    plate: np.ndarray  # (H, W, 4) RGBA, already rounded to half precision
    clean: np.ndarray  # (H, W, 4) RGBA ground truth, rounded to half precision
    remove: np.ndarray  # (H, W) 0/1
    affected: np.ndarray  # (H, W) 0/1


class SampleScene:
    """The sample scene for one seed and size; ``render(i)`` draws frame index ``i``."""

    def __init__(self, seed: int = 7, width: int = 2048, height: int = 1152, frames: int = 49):
        if width < 64 or height < 36:
            raise ValueError(f"sample shot size {width}x{height} is too small (minimum 64x36)")
        if frames < 2:
            raise ValueError(f"sample shot needs at least 2 frames, got {frames}")
        self.seed, self.width, self.height, self.frames = int(seed), int(width), int(height), int(frames)
        rng = np.random.default_rng(self.seed)
        self.horizon = height * rng.uniform(0.50, 0.58)
        self.background = _background(rng, width, height, self.horizon)  # (H, W, 3) linear
        # Ball: radius, colour, path. The ball rolls on the floor across the whole frame so that
        # every background pixel it hides is visible in other frames.
        self.radius = height * rng.uniform(0.085, 0.105)
        self.ball_colour = np.array(
            [rng.uniform(0.45, 0.65), rng.uniform(0.06, 0.14), rng.uniform(0.03, 0.08)], np.float32
        )
        self.ground_y = height * rng.uniform(0.78, 0.84)  # where the ball touches the floor
        self.hop = height * rng.uniform(0.04, 0.08)  # a small bounce so the shadow separates from it
        self.x0 = width * rng.uniform(0.06, 0.12)
        self.x1 = width * rng.uniform(0.88, 0.94)
        self.shadow_dx = self.radius * rng.uniform(0.25, 0.45)  # light from the upper left
        self.shadow_strength = rng.uniform(0.72, 0.82)  # fraction of light the umbra removes
        self._yy, self._xx = np.mgrid[0:height, 0:width].astype(np.float32)

    def ball_centre(self, index: int) -> tuple[float, float]:
        """Centre (x, y) in pixels of the ball at frame index ``index``."""
        u = index / (self.frames - 1)
        x = self.x0 + (self.x1 - self.x0) * u
        lift = self.hop * abs(np.sin(np.pi * 3.0 * u))  # three hops across the shot
        return x, self.ground_y - self.radius - lift

    def render(self, index: int) -> SampleFrame:
        """Draw frame index ``index`` (0-based): plate, clean plate and both mattes."""
        if not 0 <= index < self.frames:
            raise IndexError(f"frame index {index} outside 0..{self.frames - 1}")
        cx, cy = self.ball_centre(index)
        r = self.radius
        # Work on the ball's and shadow's bounding boxes only: most of the frame is untouched.
        shadow_w, shadow_h = 1.35 * r, 0.28 * r
        lift = (self.ground_y - r) - cy
        soft = 0.18 * r + 0.4 * lift  # penumbra widens as the ball leaves the floor
        sx, sy = cx + self.shadow_dx, self.ground_y
        clean = self.background
        plate = clean.copy()

        # Shadow: an ellipse on the floor, darkening multiplicatively with a soft edge.
        x0, x1, y0, y1 = _box(sx, sy, shadow_w + soft + 2, shadow_h + soft + 2, self.width, self.height)
        xx, yy = self._xx[y0:y1, x0:x1], self._yy[y0:y1, x0:x1]
        d = np.sqrt(((xx - sx) / shadow_w) ** 2 + ((yy - sy) / shadow_h) ** 2)  # 1 on the ellipse
        edge = soft / shadow_w
        shade = np.clip((1.0 + edge - d) / (2.0 * edge), 0.0, 1.0)
        shade = shade * shade * (3.0 - 2.0 * shade)  # smoothstep
        shade *= self.shadow_strength * (1.0 - 0.25 * lift / max(self.hop, 1e-6))
        plate[y0:y1, x0:x1] *= (1.0 - shade)[..., None]
        affected = np.zeros((self.height, self.width), np.float32)
        affected[y0:y1, x0:x1] = shade > 0

        # Ball: a shaded sphere with an anti-aliased edge, lit from the upper left.
        bx0, bx1, by0, by1 = _box(cx, cy, r + 2, r + 2, self.width, self.height)
        xx, yy = self._xx[by0:by1, bx0:bx1], self._yy[by0:by1, bx0:bx1]
        dx, dy = (xx - cx) / r, (yy - cy) / r
        rho = np.sqrt(dx * dx + dy * dy)
        cover = np.clip((1.0 - rho) * r + 0.5, 0.0, 1.0)  # 1-pixel anti-aliased rim
        nz = np.sqrt(np.clip(1.0 - rho * rho, 0.0, 1.0))
        light = np.clip(-0.45 * dx - 0.55 * dy + 0.70 * nz, 0.0, 1.0)
        ball = self.ball_colour * (0.12 + 1.1 * light)[..., None]
        ball += (0.9 * np.clip(light, 0.0, 1.0) ** 24)[..., None]  # specular highlight
        region = plate[by0:by1, bx0:bx1]
        plate[by0:by1, bx0:bx1] = ball * cover[..., None] + region * (1.0 - cover)[..., None]
        remove = np.zeros((self.height, self.width), np.float32)
        remove[by0:by1, bx0:bx1] = cover > 0

        alpha = np.ones((self.height, self.width, 1), np.float32)
        return SampleFrame(
            plate=_to_half_precision(np.concatenate([plate, alpha], axis=2)),
            clean=_to_half_precision(np.concatenate([clean, alpha], axis=2)),
            remove=remove,
            affected=affected,
        )


def make_sample_shot(
    dir: str | os.PathLike[str],
    seed: int = 7,
    width: int = 2048,
    height: int = 1152,
    frames: int = 49,
    first_frame: int = 1001,
) -> SampleShot:
    """Write the sample shot under ``dir`` and return where it is.

    A shot already complete in ``dir`` with the same parameters is reused, not rewritten
    (the demo caches it). Files: ``plate/sample.####.exr``, ``matte_remove/remove.####.exr``,
    ``matte_affected/affected.####.exr``, ``clean/clean.####.exr``.
    """
    root = Path(dir)
    frame_numbers = tuple(range(first_frame, first_frame + frames))
    shot = SampleShot(
        root=root,
        plate=str(root / "plate" / "sample.####.exr"),
        remove_matte=str(root / "matte_remove" / "remove.####.exr"),
        affected_matte=str(root / "matte_affected" / "affected.####.exr"),
        clean_plate=str(root / "clean" / "clean.####.exr"),
        frames=frame_numbers,
        width=width,
        height=height,
        seed=seed,
    )
    wanted = {
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "width": width,
        "height": height,
        "frames": [frame_numbers[0], frame_numbers[-1]],
    }
    marker = root / _MARKER
    if marker.is_file() and _cached_matches(marker, wanted, shot):
        return shot

    scene = SampleScene(seed=seed, width=width, height=height, frames=frames)
    marker.unlink(missing_ok=True)  # a half-written shot must never look complete
    for pattern in (shot.plate, shot.remove_matte, shot.affected_matte, shot.clean_plate):
        Path(pattern).parent.mkdir(parents=True, exist_ok=True)
    attrs = {"void:sample_seed": str(seed), "void:sample_generator": str(GENERATOR_VERSION)}
    # Drawing is quick; compressing EXRs is the slow part, and OpenImageIO releases the GIL while
    # it writes, so frames are written by a small pool while the next one is drawn.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        pending = []
        for index, frame in enumerate(frame_numbers):
            drawn = scene.render(index)
            pending += [
                pool.submit(_write_exr, shot.path(shot.plate, frame), drawn.plate, ("R", "G", "B", "A"), attrs),
                pool.submit(_write_exr, shot.path(shot.clean_plate, frame), drawn.clean, ("R", "G", "B", "A"), attrs),
                pool.submit(_write_exr, shot.path(shot.remove_matte, frame), drawn.remove[..., None], ("Y",), attrs),
                pool.submit(
                    _write_exr, shot.path(shot.affected_matte, frame), drawn.affected[..., None], ("Y",), attrs
                ),
            ]
            if len(pending) > 16:  # bound the frames held in memory
                for job in pending[:-8]:
                    job.result()
                pending = pending[-8:]
        for job in pending:
            job.result()
    marker.write_text(json.dumps({**wanted, "shot": {k: str(v) for k, v in asdict(shot).items()}}, indent=1))
    return shot


def _cached_matches(marker: Path, wanted: dict, shot: SampleShot) -> bool:
    try:
        held = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    if any(held.get(k) != v for k, v in wanted.items()):
        return False
    return all(
        shot.path(p, f).is_file()
        for f in shot.frames
        for p in (shot.plate, shot.remove_matte, shot.affected_matte, shot.clean_plate)
    )


def _box(cx: float, cy: float, rx: float, ry: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer bounds (x0, x1, y0, y1) of a box around (cx, cy), clamped to the frame."""
    x0, x1 = max(int(np.floor(cx - rx)), 0), min(int(np.ceil(cx + rx)) + 1, width)
    y0, y1 = max(int(np.floor(cy - ry)), 0), min(int(np.ceil(cy + ry)) + 1, height)
    return x0, max(x1, x0), y0, max(y1, y0)


def _smooth_noise(rng: np.random.Generator, width: int, height: int, cell: float) -> np.ndarray:
    """Band-limited value noise in about [-1, 1] whose features are ``cell`` pixels across."""
    cell = max(cell, 2.0)  # finer than that is aliasing, not texture
    gw, gh = max(int(np.ceil(width / cell)) + 3, 4), max(int(np.ceil(height / cell)) + 3, 4)
    grid = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    return big[:height, :width]


def _background(rng: np.random.Generator, width: int, height: int, horizon: float) -> np.ndarray:
    """A textured wall above ``horizon`` and a tiled floor below it, scene-linear (H, W, 3)."""
    scale = height / 1152.0  # features keep their size relative to the frame
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)

    wall_tint = np.array([rng.uniform(0.30, 0.42), rng.uniform(0.26, 0.34), rng.uniform(0.18, 0.26)], np.float32)
    wall = (
        0.55
        + 0.25 * _smooth_noise(rng, width, height, 180 * scale)
        + 0.10 * _smooth_noise(rng, width, height, 40 * scale)
        + 0.05 * _smooth_noise(rng, width, height, 12 * scale)
    )  # plaster grain
    # Broad vertical panels give the fill something structured to get right.
    panel = 0.5 + 0.5 * np.cos(2 * np.pi * xx / (width / rng.uniform(5.0, 7.0)))
    wall = wall * (0.85 + 0.15 * panel)
    wall_rgb = wall[..., None] * wall_tint

    floor_tint = np.array([rng.uniform(0.20, 0.30), rng.uniform(0.22, 0.30), rng.uniform(0.24, 0.34)], np.float32)
    tile = 150 * scale * rng.uniform(0.9, 1.2)
    depth = np.clip((yy - horizon) / max(height - horizon, 1.0), 0.0, 1.0)
    persp = 0.35 + 0.65 * depth  # tiles grow towards the camera
    u = (xx - width / 2) / (tile * persp + 1e-6)
    v = np.log1p(4.0 * depth) * height / (tile * 2.2)
    # A smooth checker: product of two sines through a soft clip, band-limited by construction.
    check = np.tanh(2.0 * np.sin(np.pi * u) * np.sin(np.pi * v))
    floor = (
        0.60
        + 0.18 * check
        + 0.12 * _smooth_noise(rng, width, height, 60 * scale)
        + 0.05 * _smooth_noise(rng, width, height, 10 * scale)
    )
    floor = floor * (0.7 + 0.3 * depth)
    floor_rgb = floor[..., None] * floor_tint

    # Soft transition at the skirting line, and a broad light falloff from the upper left.
    blend = np.clip((yy - horizon) / (6.0 * scale + 1.0) + 0.5, 0.0, 1.0)[..., None]
    rgb = wall_rgb * (1.0 - blend) + floor_rgb * blend
    falloff = 1.15 - 0.45 * np.sqrt((xx / width) ** 2 + (yy / height) ** 2) / np.sqrt(2.0)
    return np.maximum(rgb * falloff[..., None], 0.0).astype(np.float32)


def _to_half_precision(pixels: np.ndarray) -> np.ndarray:
    """Round to half precision now, so what we hold equals what the EXR will hold."""
    return pixels.astype(np.float16).astype(np.float32)


def _write_exr(path: Path, pixels: np.ndarray, channels: tuple[str, ...], attrs: dict[str, str]) -> None:
    """Write a half-float, zip-compressed scanline EXR, via a temporary name then a rename."""
    import OpenImageIO as oiio

    height, width, nchannels = pixels.shape
    spec = oiio.ImageSpec(width, height, nchannels, oiio.HALF)
    spec.channelnames = channels
    if "A" in channels:
        spec.alpha_channel = channels.index("A")
    spec.attribute("compression", "zip")
    spec.attribute("oiio:ColorSpace", PLATE_COLOURSPACE if nchannels > 1 else "Raw")
    for key, value in attrs.items():
        spec.attribute(key, value)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.exr")
    out = oiio.ImageOutput.create(str(tmp))
    if out is None or not out.open(str(tmp), spec):
        raise OSError(f"cannot write {path}: {oiio.geterror()}")
    ok = out.write_image(np.ascontiguousarray(pixels.astype(np.float16)))
    out.close()
    if not ok:
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {path}: {oiio.geterror()}")
    os.replace(tmp, path)
