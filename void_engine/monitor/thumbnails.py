"""Contact-strip thumbnails: small JPEGs the engine makes from a job's EXRs, cached on disk.

Plate and result frames go through the OCIO display/view transform (:class:`DisplayView`), after
shrinking in scene-linear (an area average of light, as a camera would see it). Quadmasks are
data, not pictures: each of the four levels gets a flat colour. Files are read with the plate
layer (OpenImageIO) and every path is checked against the engine's roots, as a job's are.

Rendering happens on the HTTP server's worker threads, one frame at a time per engine (the GPU
worker needs the CPU more than a page does), never on the socket loop's thread. A thumbnail is
kept under ``<state_dir>/monitor/thumbs/<job>/`` named after its source file's size and mtime,
so a re-rendered plate gets a new one; when the source is gone (a by-value job's uploaded
inputs are deleted when it ends) the last one made is served.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bridge.protocol import TERMINAL_STATES, ProtocolError
from bridge.transfer import default_output_name

from ..levels import AFFECTED, KEEP, OVERLAP, REMOVE, snap_quadmask
from ..service.runner import QUADMASK_FOLDER
from ..service.security import check_path, check_pattern, expand_frame
from .tracker import JobSummary

log = logging.getLogger("void_engine.monitor.thumbnails")

KINDS = ("plate", "quadmask", "result")

# Quadmask levels as the page shows them (RGB): remove red, overlap orange, affected blue, keep grey.
QUADMASK_COLOURS = {REMOVE: (230, 57, 70), OVERLAP: (244, 162, 54), AFFECTED: (69, 123, 230), KEEP: (48, 52, 58)}


class ThumbnailMissing(LookupError):
    """This job has no such frame to show (yet, or any more); the message says why."""


@dataclass(frozen=True)
class StripFrames:
    """The frames a job's contact strip shows and which kinds can be shown now."""

    frames: tuple[int, ...]
    available: dict[str, bool]


def strip_frames(frames: Sequence[int], count: int) -> tuple[int, ...]:
    """Up to ``count`` frames spread evenly over ``frames`` (first and last included)."""
    frames = sorted(frames)
    if len(frames) <= count:
        return tuple(frames)
    if count == 1:
        return (frames[0],)
    return tuple(frames[round(i * (len(frames) - 1) / (count - 1))] for i in range(count))


class Thumbnails:
    """Makes, caches and finds the thumbnails of a job's plate, quadmask and result frames."""

    def __init__(
        self,
        *,
        state_dir: Path,
        roots: Sequence[Path],
        max_side: int,
        strip_count: int,
        display: str | None = None,
        view: str | None = None,
    ):
        self.state_dir = Path(state_dir)
        self.cache_dir = self.state_dir / "monitor" / "thumbs"
        self.roots = list(roots)
        self.max_side = max_side
        self.strip_count = strip_count
        self.display, self.view = display or None, view or None
        self._display_view: Any = None
        # One render at a time: a page full of 4K frames must not starve the GPU worker's CPU.
        self._render_lock = threading.Lock()
        self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="void-monitor-thumbs")
        self._prefetched: set[str] = set()

    def close(self) -> None:
        self._prefetcher.shutdown(wait=True, cancel_futures=True)

    # -- what a strip holds --------------------------------------------------------------------

    def strip(self, job: JobSummary) -> StripFrames:
        frames = strip_frames(job.spec.frames, self.strip_count)
        available = {}
        for kind in KINDS:
            try:
                self._source(job, kind, frames[0])
                available[kind] = True
            except ThumbnailMissing:
                available[kind] = self._cached_any(job.id, kind, frames[0]) is not None
        return StripFrames(frames, available)

    def _source(self, job: JobSummary, kind: str, frame: int) -> Path:
        """The checked EXR path of ``kind`` at ``frame``; ThumbnailMissing when there is none now."""
        spec = job.spec
        if kind not in KINDS:
            raise ThumbnailMissing(f"no thumbnail kind {kind!r} (kinds: {', '.join(KINDS)})")
        if frame not in spec.frames:
            raise ThumbnailMissing(f"frame {frame} is not one of job {job.id}'s frames")
        by_value = spec.upload is not None
        try:
            if kind == "plate":
                inputs = self.state_dir / "jobs" / job.id / "inputs"
                if by_value and not inputs.is_dir():
                    raise ThumbnailMissing(f"job {job.id}'s uploaded plate was deleted when it ended")
                pattern = check_pattern(
                    spec.plate,
                    (frame,),
                    [inputs] if by_value else self.roots,
                    "job.plate",
                    relative_to=inputs if by_value else None,
                )
                path = Path(expand_frame(pattern, frame))
            else:
                if job.state != "done" or not job.result:
                    raise ThumbnailMissing(f"job {job.id} is {job.state}: its {kind} frames come with its result")
                version_dir = Path(job.result["version_dir"])
                if not by_value:
                    version_dir = check_path(str(version_dir), self.roots, "result")
                if kind == "result":
                    path = version_dir / Path(expand_frame(job.result["pattern"], frame)).name
                else:
                    name = output_name(job)
                    path = version_dir / QUADMASK_FOLDER / Path(expand_frame(f"{name}_quadmask.####.exr", frame)).name
        except ProtocolError as exc:
            raise ThumbnailMissing(exc.message) from None
        if not path.is_file() or path.is_symlink():
            raise ThumbnailMissing(f"job {job.id} has no {kind} file for frame {frame} ({path.name})")
        return path

    # -- cache -----------------------------------------------------------------------------------

    def _cache_path(self, jid: str, kind: str, frame: int, source: Path) -> Path:
        st = source.stat()
        return self.cache_dir / jid / f"{kind}.{frame}.{self.max_side}.{st.st_size}-{st.st_mtime_ns}.jpg"

    def _cached_any(self, jid: str, kind: str, frame: int) -> Path | None:
        folder = self.cache_dir / jid
        found = sorted(folder.glob(f"{kind}.{frame}.{self.max_side}.*.jpg")) if folder.is_dir() else []
        return found[-1] if found else None

    def get(self, job: JobSummary, kind: str, frame: int) -> bytes:
        """The JPEG bytes of ``kind`` at ``frame``, made now if not cached. Raises ThumbnailMissing."""
        try:
            source = self._source(job, kind, frame)
        except ThumbnailMissing:
            cached = self._cached_any(job.id, kind, frame)
            if cached is None:
                raise
            return cached.read_bytes()
        target = self._cache_path(job.id, kind, frame, source)
        if target.is_file():
            return target.read_bytes()
        with self._render_lock:
            if not target.is_file():  # another request may have made it while this one waited
                self._render(kind, source, target)
        return target.read_bytes()

    def prefetch_plate(self, job: JobSummary) -> None:
        """Make a by-value job's plate thumbnails in the background while its upload still exists."""
        if job.spec.upload is None or job.state in TERMINAL_STATES or job.id in self._prefetched:
            return
        self._prefetched.add(job.id)
        for frame in strip_frames(job.spec.frames, self.strip_count):
            self._prefetcher.submit(self._quietly, job, "plate", frame)

    def _quietly(self, job: JobSummary, kind: str, frame: int) -> None:
        try:
            self.get(job, kind, frame)
        except Exception as exc:  # the page asks again and shows the reason then
            log.info("thumbnail %s/%s/%s not made: %s", job.id, kind, frame, exc)

    def forget(self, keep: set[str]) -> None:
        """Delete the thumbnails of jobs not in ``keep`` (no longer listed by the page)."""
        if not self.cache_dir.is_dir():
            return
        for folder in self.cache_dir.iterdir():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)
        self._prefetched &= keep

    # -- rendering -------------------------------------------------------------------------------

    def _render(self, kind: str, source: Path, target: Path) -> None:
        pixels = render_quadmask(source, self.max_side) if kind == "quadmask" else self._render_picture(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Older thumbnails of the same frame (a re-rendered source) go; the new one appears atomically.
        for old in target.parent.glob(target.name.rsplit(".", 2)[0] + ".*.jpg"):
            old.unlink(missing_ok=True)
        write_jpeg(pixels, target)

    def _render_picture(self, source: Path) -> np.ndarray:
        from void_engine.plates.colour import DisplayView

        if self._display_view is None:
            self._display_view = DisplayView(display=self.display, view=self.view)
        return render_picture(source, self.max_side, self._display_view)


def output_name(job: JobSummary) -> str:
    """The base name the runner gave the job's files (``<plate>_void`` unless the job names it)."""
    return job.spec.name or default_output_name(job.spec.plate)


def render_picture(path: Path, max_side: int, display_view: Any) -> np.ndarray:
    """A plate or result frame as display-referred uint8 RGB, its long side at most ``max_side``."""
    from void_engine.masks.frames import resize_plane, working_size
    from void_engine.plates import PlateError, read_plate

    plate = read_plate(path)
    try:
        channels: tuple[int, ...] = plate.spec.rgb_indices
    except PlateError:  # a greyscale image
        channels = (0, 0, 0)
    rgb = plate.display_canvas(channels)
    small = resize_plane(rgb, working_size(rgb.shape[:2], max_side))
    return to_uint8(display_view.apply(small))


def render_quadmask(path: Path, max_side: int) -> np.ndarray:
    """A quadmask frame as uint8 RGB, one flat colour per level (:data:`QUADMASK_COLOURS`)."""
    from void_engine.masks.frames import resize_plane, working_size
    from void_engine.plates import read_image_channel

    values = read_image_channel(path, 0)
    small = resize_plane(values, working_size(values.shape, max_side))
    levels = snap_quadmask(np.clip(small, 0.0, 1.0) * 255.0)
    out = np.empty((*levels.shape, 3), np.uint8)
    for level, colour in QUADMASK_COLOURS.items():
        out[levels == level] = colour
    return out


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_jpeg(pixels: np.ndarray, target: Path, quality: int = 85) -> None:
    """Write uint8 RGB (H, W, 3) as a JPEG, atomically (a reader sees the old file or the whole new one)."""
    import OpenImageIO as oiio

    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.jpg")
    out = oiio.ImageOutput.create(str(tmp))
    if out is None:
        raise OSError(f"{tmp}: cannot write JPEG ({oiio.geterror()})")
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], 3, oiio.UINT8)
    spec.attribute("Compression", f"jpeg:{quality}")
    try:
        if not out.open(str(tmp), spec) or not out.write_image(np.ascontiguousarray(pixels)):
            raise OSError(f"{tmp}: cannot write JPEG ({out.geterror()})")
    finally:
        out.close()
    os.replace(tmp, target)
