"""A scanline EXR rewritten chunk by chunk: the chunks a composite changes are encoded again, the
others are copied as they are in the source file.

OpenEXR stores a scanline file as independent chunks of 1 (no compression, ZIPS) or 16 (ZIP)
scanlines. A removal changes the pixels of a few of them; re-encoding the whole frame, as a
whole-image writer must, costs most of a write's time. :class:`ScanlineExr` reads the header and
the chunk table, decodes just the chunks asked for (:meth:`ScanlineExr.read_rows`) and writes a
copy of the file with those chunks replaced and string attributes added (:meth:`ScanlineExr.write`).
Every chunk it copies is inflated once to check it, so a corrupt frame is still an error.

Only what this module can rewrite exactly opens (:func:`open_scanline_exr` returns None
otherwise, and the caller takes the whole-image path): one part, scanlines in increasing y, no
compression, ZIPS or ZIP, half or float channels sampled at every pixel.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CorruptPlateError

_MAGIC = 20000630
_TILED, _LONG_NAMES, _NON_IMAGE, _MULTIPART = 0x200, 0x400, 0x800, 0x1000
# compression attribute value -> scanlines per chunk, for those rewritten here
_LINES_PER_CHUNK = {0: 1, 2: 1, 3: 16}
_NO_COMPRESSION = 0
_DTYPES: dict[int, np.dtype] = {1: np.dtype("<f2"), 2: np.dtype("<f4")}  # EXR pixel type -> its bytes (HALF, FLOAT)
# Bytes read first to parse a header (most are a few hundred bytes; a plate that carries more is read whole).
_HEADER_PROBE = 1 << 16
# zlib level for re-encoded chunks: OpenEXR's default for ZIP/ZIPS.
_ZIP_LEVEL = 4


@dataclass(frozen=True)
class _Channel:
    name: str
    dtype: np.dtype


@dataclass(frozen=True)
class _Attribute:
    name: str
    type: str
    value: bytes


class ScanlineExr:
    """One scanline EXR file's header and chunk table (build with :func:`open_scanline_exr`)."""

    def __init__(
        self,
        path: Path,
        data: bytes,
        version: int,
        attributes: tuple[_Attribute, ...],
        channels: tuple[_Channel, ...],
        window: tuple[int, int, int, int],
        compression: int,
        chunks: tuple[tuple[int, int], ...],
    ):
        self.path = path
        self._data = data
        self._version = version
        self._attributes = attributes
        self.channels = channels  # in the file's order (sorted by name)
        self.x, self.y, self.width, self.height = window
        self._compression = compression
        self.lines_per_chunk = _LINES_PER_CHUNK[compression]
        self._chunks = chunks  # (start of its pixel data, its byte count), one per chunk
        self._row_bytes = self.width * sum(c.dtype.itemsize for c in channels)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    def chunk_rows(self, y0: int, y1: int) -> tuple[int, int]:
        """The rows (absolute y) of the whole chunks that hold rows ``y0``..``y1`` of the data window."""
        n = self.lines_per_chunk
        first = (max(y0, self.y) - self.y) // n
        last = -(-(min(y1, self.y + self.height) - self.y) // n)
        return self.y + first * n, min(self.y + last * n, self.y + self.height)

    def read_rows(self, y0: int, y1: int) -> dict[str, np.ndarray]:
        """Rows ``y0``..``y1`` (absolute, on chunk boundaries: :meth:`chunk_rows`) as each
        channel's own type, (rows, width) arrays by channel name; they are this call's own copies."""
        n = self.lines_per_chunk
        raw = b"".join(self._decode(i) for i in range((y0 - self.y) // n, -(-(y1 - self.y) // n)))
        rows = np.frombuffer(raw, np.uint8).reshape(y1 - y0, self._row_bytes)
        out, offset = {}, 0
        for c in self.channels:
            size = self.width * c.dtype.itemsize
            out[c.name] = rows[:, offset : offset + size].copy().view(c.dtype)
            offset += size
        return out

    def write(
        self,
        target: Path,
        attrs: dict[str, str],
        rows: dict[str, np.ndarray] | None = None,
        y0: int = 0,
        decoded: tuple[int, int] | None = None,
    ) -> None:
        """Write the file to ``target`` (created; the caller makes it atomic) with the string
        attributes ``attrs`` added or replacing those of the same name, and the chunks from row
        ``y0`` (absolute, on a chunk boundary) replaced by ``rows`` (as :meth:`read_rows` returns
        them: whole chunks, every channel). Every other chunk is copied after checking that it
        inflates whole (zlib's checksum), as a whole-image read would, except those holding any of
        the rows ``decoded`` (absolute y0, y1), which the caller has read from this file already."""
        n = self.lines_per_chunk
        first = last = 0
        band = np.zeros((0, self._row_bytes), np.uint8)
        if rows:
            count = next(iter(rows.values())).shape[0]
            first = (y0 - self.y) // n
            last = first + -(-count // n)
            band = np.concatenate([np.ascontiguousarray(rows[c.name]).view(np.uint8) for c in self.channels], axis=1)
        header = self._header(attrs)
        position = len(header) + 8 * len(self._chunks)
        offsets, pieces = [], []
        for i in range(len(self._chunks)):
            if first <= i < last:
                data = self._encode(band[(i - first) * n : (i - first + 1) * n].tobytes())
            else:
                if not (decoded and decoded[0] < self.y + (i + 1) * n and self.y + i * n < decoded[1]):
                    self._inflate(i)
                start, size = self._chunks[i]
                data = self._data[start : start + size]
            piece = struct.pack("<ii", self.y + i * n, len(data)) + data
            offsets.append(position)
            pieces.append(piece)
            position += len(piece)
        with open(target, "wb") as f:
            f.write(header)
            f.write(struct.pack(f"<{len(offsets)}Q", *offsets))
            for piece in pieces:
                f.write(piece)

    def _header(self, attrs: dict[str, str]) -> bytes:
        kept = [a for a in self._attributes if a.name not in attrs]
        added = [_Attribute(k, "string", str(v).encode()) for k, v in attrs.items()]
        version = self._version
        out = [b""]
        for a in kept + added:
            if max(len(a.name), len(a.type)) > 31:
                version |= _LONG_NAMES
            out.append(a.name.encode() + b"\0" + a.type.encode() + b"\0" + struct.pack("<i", len(a.value)) + a.value)
        out[0] = struct.pack("<ii", _MAGIC, version)
        return b"".join(out) + b"\0"

    def _chunk_size(self, i: int) -> int:
        """Uncompressed bytes of chunk ``i`` (the last one may hold fewer scanlines)."""
        n = self.lines_per_chunk
        return min(n, self.height - i * n) * self._row_bytes

    def _inflate(self, i: int) -> tuple[bytes, bool]:
        """Chunk ``i``'s bytes, inflated when they were compressed, and whether they were."""
        start, size = self._chunks[i]
        expected = self._chunk_size(i)
        data = self._data[start : start + size]
        if self._compression == _NO_COMPRESSION or size == expected:  # stored: it did not compress
            if size != expected:
                raise CorruptPlateError(f"{self.path}: chunk {i} holds {size} bytes, its scanlines need {expected}")
            return data, False
        try:
            packed = zlib.decompress(data)
        except zlib.error as exc:
            raise CorruptPlateError(
                f"{self.path}: chunk {i} (row {self.y + i * self.lines_per_chunk}): {exc}"
            ) from None
        if len(packed) != expected:
            raise CorruptPlateError(f"{self.path}: chunk {i} decodes to {len(packed)} bytes, expected {expected}")
        return packed, True

    def _decode(self, i: int) -> bytes:
        packed, compressed = self._inflate(i)
        if not compressed:
            return packed
        # Undo OpenEXR's predictor (each byte stored as the difference to the one before, + 128)
        # and its split of the even and odd bytes into two halves.
        diff = np.frombuffer(packed, np.uint8).copy()
        diff[1:] -= 128  # uint8 arithmetic wraps: every step is modulo 256, as the format's
        flat = np.cumsum(diff, dtype=np.uint8)
        out = np.empty_like(flat)
        half = (len(flat) + 1) // 2
        out[0::2], out[1::2] = flat[:half], flat[half:]
        return out.tobytes()

    def _encode(self, raw: bytes) -> bytes:
        if self._compression == _NO_COMPRESSION:
            return raw
        src = np.frombuffer(raw, np.uint8)
        split = np.concatenate([src[0::2], src[1::2]])
        pred = np.empty_like(split)
        if len(split):
            pred[0] = split[0]
            np.subtract(split[1:], split[:-1], out=pred[1:])  # modulo 256, as the format's
            pred[1:] += 128
        packed = zlib.compress(pred.tobytes(), _ZIP_LEVEL)
        return packed if len(packed) < len(raw) else raw  # OpenEXR stores a chunk that grows as it is


def open_scanline_exr(path: str | Path) -> ScanlineExr | None:
    """``path``'s header and chunk table, or None when the file is not one this module rewrites
    exactly (tiled, multi-part, deep, another compression, another line order, a subsampled or
    uint channel, a header it does not follow). A readable file with a broken chunk table raises
    CorruptPlateError naming it."""
    path = Path(path)
    if not path.is_file():
        return None  # the whole-image path names the missing file
    with open(path, "rb") as f:
        data = f.read(_HEADER_PROBE)
        try:
            parsed = _parse_header(data)
        except (IndexError, struct.error, UnicodeDecodeError, ValueError):
            parsed = None
            if len(data) == _HEADER_PROBE:  # a header longer than the probe: read on
                data += f.read()
                try:
                    parsed = _parse_header(data)
                except (IndexError, struct.error, UnicodeDecodeError, ValueError):
                    pass
        if parsed is None:
            return None
        version, attributes, end = parsed
        if not _rewritable(attributes):
            return None
        data += f.read()
    by_name = {a.name: a for a in attributes}
    compression = by_name["compression"].value[0]
    channels = _channels(by_name["channels"].value)
    if channels is None:  # _rewritable has checked; this tells the type checker
        return None
    x0, y0, x1, y1 = struct.unpack("<4i", by_name["dataWindow"].value)
    width, height = x1 - x0 + 1, y1 - y0 + 1
    if width <= 0 or height <= 0:
        return None
    n = _LINES_PER_CHUNK[compression]
    count = -(-height // n)
    if end + 8 * count > len(data):
        raise CorruptPlateError(f"{path}: truncated (its chunk table is incomplete)")
    chunks = []
    for i, offset in enumerate(struct.unpack_from(f"<{count}Q", data, end)):
        if offset + 8 > len(data):
            raise CorruptPlateError(f"{path}: truncated (chunk {i} is missing)")
        y, size = struct.unpack_from("<ii", data, offset)
        if y != y0 + i * n or size < 0 or offset + 8 + size > len(data):
            raise CorruptPlateError(f"{path}: chunk {i} is damaged or missing (row {y0 + i * n})")
        chunks.append((offset + 8, size))
    return ScanlineExr(
        path, data, version, tuple(attributes), channels, (x0, y0, width, height), compression, tuple(chunks)
    )


def _rewritable(attributes: list[_Attribute]) -> bool:
    """Whether a header's layout is one :class:`ScanlineExr` rewrites exactly."""
    by_name = {a.name: a for a in attributes}
    needed = ("channels", "compression", "dataWindow", "lineOrder")
    if any(n not in by_name for n in needed) or by_name["lineOrder"].value != b"\0":
        return False
    if len(by_name["dataWindow"].value) != 16 or len(by_name["compression"].value) != 1:
        return False
    try:
        channels = _channels(by_name["channels"].value)
    except (IndexError, struct.error, UnicodeDecodeError, ValueError):
        return False
    return by_name["compression"].value[0] in _LINES_PER_CHUNK and channels is not None


def _parse_header(data: bytes) -> tuple[int, list[_Attribute], int] | None:
    magic, version = struct.unpack_from("<ii", data, 0)
    if magic != _MAGIC or version & 0xFF != 2 or version & (_TILED | _NON_IMAGE | _MULTIPART):
        return None
    pos, attributes = 8, list[_Attribute]()
    while True:
        if data[pos] == 0:
            return version, attributes, pos + 1
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", data, type_end + 1)
        start = type_end + 5
        if size < 0 or start + size > len(data):
            raise ValueError("attribute runs past the end of the file")
        attributes.append(
            _Attribute(data[pos:name_end].decode(), data[name_end + 1 : type_end].decode(), data[start : start + size])
        )
        pos = start + size


def _channels(value: bytes) -> tuple[_Channel, ...] | None:
    """The chlist attribute's channels, or None when one is not a fully sampled half or float."""
    out, pos = list[_Channel](), 0
    while pos < len(value) and value[pos] != 0:
        end = value.index(b"\0", pos)
        name = value[pos:end].decode()
        pixel_type, _linear, x_sampling, y_sampling = struct.unpack_from("<iB3xii", value, end + 1)
        if pixel_type not in _DTYPES or (x_sampling, y_sampling) != (1, 1):
            return None
        out.append(_Channel(name, _DTYPES[pixel_type]))
        pos = end + 17
    return tuple(out) if out else None
