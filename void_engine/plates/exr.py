"""EXR (and other image) I/O that keeps everything a compositor put in the file.

Read the spec first, then the pixels; keep the spec with the pixels through the whole path and write
with it. Pixels are held as float32 over the *data window*: half and float channels both round-trip
exactly through float32 (half -> float32 -> half is lossless), so an untouched channel is written back
bit-identical in its own type.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import OpenImageIO as oiio

from .errors import CorruptPlateError, OutputExistsError, PlateError

# Reader hints that OIIO adds on read; they are not header attributes of the file.
_INTERNAL_PREFIXES = ("oiio:",)


@dataclass(frozen=True)
class Window:
    """A pixel rectangle, OIIO style: origin (x, y), y down, size width x height."""

    x: int
    y: int
    width: int
    height: int

    @property
    def x_end(self) -> int:
        return self.x + self.width

    @property
    def y_end(self) -> int:
        return self.y + self.height

    def intersect(self, other: "Window") -> "Window | None":
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x_end, other.x_end), min(self.y_end, other.y_end)
        if x1 <= x0 or y1 <= y0:
            return None
        return Window(x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True)
class Attribute:
    """One header attribute, with its OIIO type so it is written back exactly as read."""

    name: str
    type: str
    value: Any


@dataclass(frozen=True)
class PlateSpec:
    """Everything about a frame except its pixels."""

    data_window: Window
    display_window: Window
    channel_names: tuple[str, ...]
    channel_formats: tuple[str, ...]
    attributes: tuple[Attribute, ...] = ()
    tile_size: tuple[int, int] = (0, 0)

    def channel_index(self, name: str) -> int | None:
        try:
            return self.channel_names.index(name)
        except ValueError:
            return None

    @property
    def rgb_indices(self) -> tuple[int, int, int]:
        """Indices of the beauty R, G, B channels (error if the plate has none)."""
        idx = [self.channel_index(c) for c in ("R", "G", "B")]
        if any(i is None for i in idx):
            raise PlateError(f"plate has no R, G, B channels (channels: {', '.join(self.channel_names)})")
        return tuple(idx)  # type: ignore[return-value]

    @property
    def alpha_index(self) -> int | None:
        return self.channel_index("A")

    def attribute(self, name: str, default: Any = None) -> Any:
        for a in self.attributes:
            if a.name == name:
                return a.value
        return default

    def with_attributes(self, extra: dict[str, str]) -> "PlateSpec":
        """A copy with string attributes added or replaced (provenance)."""
        kept = tuple(a for a in self.attributes if a.name not in extra)
        added = tuple(Attribute(k, "string", str(v)) for k, v in extra.items())
        return replace(self, attributes=kept + added)


@dataclass
class Plate:
    """One frame: float32 pixels (H, W, C) over the data window, and the spec they came with."""

    pixels: np.ndarray
    spec: PlateSpec
    path: Path | None = field(default=None, compare=False)

    def display_canvas(
        self, channels: tuple[int, ...] | list[int], region: Window | None = None, fill: float = 0.0
    ) -> np.ndarray:
        """The given channels on the display canvas (or on ``region`` of it, in absolute pixel
        coordinates). Outside the data window is ``fill``: 0 as EXR defines it, but a caller for
        whom 0 means something (a quadmask's "remove") passes its own neutral value."""
        region = region or self.spec.display_window
        data = self.spec.data_window
        overlap = region.intersect(data)
        shape = (region.height, region.width, len(channels))
        # Filled only where the data does not cover the region (a 2K frame's fill costs as much as its copy).
        canvas = np.empty(shape, np.float32) if overlap == region else np.full(shape, fill, np.float32)
        if overlap is not None:
            src = self.pixels[overlap.y - data.y : overlap.y_end - data.y, overlap.x - data.x : overlap.x_end - data.x]
            first = channels[0] if len(channels) else 0
            # A run of channels (R, G, B) is a view; a list of indices would copy them first.
            run = list(channels) == list(range(first, first + len(channels)))
            canvas[overlap.y - region.y : overlap.y_end - region.y, overlap.x - region.x : overlap.x_end - region.x] = (
                src[..., first : first + len(channels)] if run else src[..., list(channels)]
            )
        return canvas


def set_io_threads(threads: int) -> None:
    """Let OpenEXR decode and encode each file on ``threads`` threads (process-wide; the engine
    sets it from the machine's cores when its worker starts)."""
    oiio.attribute("exr_threads", max(1, int(threads)))


def _spec_from_oiio(spec: "oiio.ImageSpec") -> PlateSpec:
    formats = spec.channelformats or tuple(spec.format for _ in range(spec.nchannels))
    attrs = tuple(
        Attribute(a.name, str(a.type), a.value) for a in spec.extra_attribs if not a.name.startswith(_INTERNAL_PREFIXES)
    )
    return PlateSpec(
        data_window=Window(spec.x, spec.y, spec.width, spec.height),
        display_window=Window(spec.full_x, spec.full_y, spec.full_width, spec.full_height),
        channel_names=tuple(spec.channelnames),
        channel_formats=tuple(str(f) for f in formats),
        attributes=attrs,
        tile_size=(spec.tile_width, spec.tile_height),
    )


def _open(path: Path) -> "oiio.ImageInput":
    if not path.is_file():
        raise PlateError(f"{path}: no such file")
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise CorruptPlateError(f"{path}: cannot be read as an image ({oiio.geterror() or 'unknown format'})")
    return inp


def read_spec(path: str | Path) -> PlateSpec:
    """The header of ``path`` without reading pixels."""
    path = Path(path)
    inp = _open(path)
    try:
        return _spec_from_oiio(inp.spec())
    finally:
        inp.close()


def read_plate(path: str | Path) -> Plate:
    """Read a whole frame (first part of a multi-part EXR) as float32 with its spec.

    Raises PlateError / CorruptPlateError naming the file when it is missing, truncated or unreadable.
    """
    path = Path(path)
    inp = _open(path)
    try:
        spec = inp.spec()
        if inp.spec(1, 0) is not None and inp.spec(1, 0).nchannels:  # a second part exists
            raise PlateError(f"{path}: multi-part EXR files are not supported yet; write the plate as one part")
        pixels = inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
        if pixels is None:
            raise CorruptPlateError(f"{path}: pixel data is unreadable ({inp.geterror() or 'truncated file?'})")
        err = inp.geterror()
        if err:
            raise CorruptPlateError(f"{path}: {err}")
        pixels = np.asarray(pixels, np.float32).reshape(spec.height, spec.width, spec.nchannels)
        return Plate(pixels, _spec_from_oiio(spec), path)
    finally:
        inp.close()


def read_plate_rows(path: str | Path, rows: Window, channels: tuple[str, ...]) -> Plate:
    """Read only the rows of ``rows`` (absolute pixel coordinates; its x extent is ignored) and the
    smallest run of channels holding those of ``channels`` it has, as float32.

    For the model's region of interest: a zip EXR decodes in blocks of scanlines, so reading the
    ROI's rows decodes a fraction of the frame, and the other AOVs are never converted. The plate
    that comes back describes what was read: its spec's data window is the rows read (full data
    width; tiled files round out to whole tiles) and its channels the run read, so
    :meth:`Plate.display_canvas` works on it as on a whole frame. Raises as :func:`read_plate`.
    """
    path = Path(path)
    inp = _open(path)
    try:
        spec = inp.spec()
        if inp.spec(1, 0) is not None and inp.spec(1, 0).nchannels:
            raise PlateError(f"{path}: multi-part EXR files are not supported yet; write the plate as one part")
        names = tuple(spec.channelnames)
        # Channels the file lacks are not read; when none is there, all are, so the caller's own
        # check (e.g. PlateSpec.rgb_indices) names every channel the file has.
        idx = [names.index(c) for c in channels if c in names] or [0, len(names) - 1]
        ch0, ch1 = min(idx), max(idx) + 1
        y0, y1 = max(rows.y, spec.y), min(rows.y_end, spec.y + spec.height)
        if spec.tile_width and spec.tile_height:  # tiles are read whole
            th = spec.tile_height
            y0 = spec.y + (max(y0 - spec.y, 0) // th) * th
            y1 = min(spec.y + spec.height, spec.y + -(-(y1 - spec.y) // th) * th)
        full = _spec_from_oiio(spec)
        read = replace(
            full,
            data_window=Window(spec.x, y0, spec.width, max(y1 - y0, 0)),
            channel_names=names[ch0:ch1],
            channel_formats=full.channel_formats[ch0:ch1],
        )
        if y1 <= y0:
            return Plate(np.zeros((0, spec.width, ch1 - ch0), np.float32), read, path)
        if spec.tile_width and spec.tile_height:
            pixels = inp.read_tiles(0, 0, spec.x, spec.x + spec.width, y0, y1, spec.z, spec.z + 1, ch0, ch1, oiio.FLOAT)
        else:
            pixels = inp.read_scanlines(0, 0, y0, y1, spec.z, ch0, ch1, oiio.FLOAT)
        if pixels is None:
            raise CorruptPlateError(f"{path}: pixel data is unreadable ({inp.geterror() or 'truncated file?'})")
        err = inp.geterror()
        if err:
            raise CorruptPlateError(f"{path}: {err}")
        return Plate(np.asarray(pixels, np.float32).reshape(y1 - y0, spec.width, ch1 - ch0), read, path)
    finally:
        inp.close()


def read_image_channel(path: str | Path, channel: int | str = 0) -> np.ndarray:
    """One channel of an image on its display window, float32 (H, W) — for mattes and quadmasks.

    ``channel`` is an index or a name ("A", "R", ...). 8-bit files come back normalised to [0, 1].
    """
    plate = read_plate(path)
    if isinstance(channel, str):
        idx = plate.spec.channel_index(channel)
        if idx is None:
            raise PlateError(f"{path}: no channel {channel!r} (channels: {', '.join(plate.spec.channel_names)})")
    else:
        idx = channel
        if not 0 <= idx < len(plate.spec.channel_names):
            raise PlateError(f"{path}: no channel {idx} (the file has {len(plate.spec.channel_names)})")
    return plate.display_canvas((idx,))[..., 0]


def _oiio_spec(spec: PlateSpec) -> "oiio.ImageSpec":
    dw, fw = spec.data_window, spec.display_window
    formats = tuple(oiio.TypeDesc(f) for f in spec.channel_formats)
    # OIIO writes per-channel formats only when they differ; otherwise the base format decides,
    # so it must be the plate's own type (an all-half plate must not come back as float).
    out = oiio.ImageSpec(dw.width, dw.height, len(spec.channel_names), formats[0])
    out.x, out.y = dw.x, dw.y
    out.full_x, out.full_y, out.full_width, out.full_height = fw.x, fw.y, fw.width, fw.height
    out.channelnames = spec.channel_names
    if len(set(spec.channel_formats)) > 1:
        out.channelformats = formats
    if spec.tile_size[0] and spec.tile_size[1]:
        out.tile_width, out.tile_height = spec.tile_size
    for a in spec.attributes:
        out.attribute(a.name, oiio.TypeDesc(a.type), a.value)
    return out


def write_plate(path: str | Path, plate: Plate, *, replace: bool = False) -> Path:
    """Write ``plate`` to ``path`` atomically, never replacing an existing file.

    The frame goes to a hidden temporary file in the same folder, is flushed to disk, then
    hard-linked to its final name (which fails if the name exists), so a reader never sees a
    partial frame and a crash leaves at most a temporary file. ``replace=True`` is for derived
    files the engine owns (e.g. a rebuilt quadmask), never for plates or results: the temporary
    file is then renamed over the old one, still atomically.
    """
    path = Path(path)
    dw = plate.spec.data_window
    expected = (dw.height, dw.width, len(plate.spec.channel_names))
    if plate.pixels.shape != expected:
        raise PlateError(f"{path}: pixels have shape {plate.pixels.shape}, the spec wants {expected}")

    def write(tmp: Path) -> None:
        out = oiio.ImageOutput.create(str(tmp))
        if out is None:
            raise PlateError(f"{path}: no writer for this file type ({oiio.geterror()})")
        ok = out.open(str(tmp), _oiio_spec(plate.spec)) and out.write_image(
            np.ascontiguousarray(plate.pixels, np.float32)
        )
        err = out.geterror()
        out.close()
        if not ok:
            raise PlateError(f"{path}: write failed ({err})")

    return write_atomically(path, write, replace=replace)


def write_atomically(path: str | Path, write: Callable[[Path], None], *, replace: bool = False) -> Path:
    """Make ``path`` by ``write(tmp)`` as :func:`write_plate` does: into a hidden temporary file in
    the same folder, flushed, then linked to ``path`` (an error if it exists) or, with ``replace``,
    renamed over it."""
    path = Path(path)
    if path.exists() and not replace:
        raise OutputExistsError(f"{path}: already exists; outputs never replace a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            if replace:
                os.replace(tmp, path)
            else:
                os.link(tmp, path)
        except FileExistsError:
            raise OutputExistsError(f"{path}: appeared while writing; outputs never replace a file") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
