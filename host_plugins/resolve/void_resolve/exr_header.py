"""The display window of an OpenEXR file, read from its header with the standard library.

Resolve's Python has no OpenImageIO; the plugin only needs to know how big a rendered plate
is (its mattes must be rendered to the same size), and that is in the first header's
``displayWindow`` attribute (a ``box2i``: xMin, yMin, xMax, yMax, inclusive).
"""

from __future__ import annotations

import struct
from pathlib import Path

_MAGIC = 20000630
_MAX_HEADER = 1 << 20  # a header larger than this is not one a renderer wrote


class ExrHeaderError(ValueError):
    """The file is not an EXR whose header we can read; the message names the file."""


def _cstring(data: bytes, at: int, path: Path) -> tuple[str, int]:
    end = data.find(b"\0", at)
    if end < 0:
        raise ExrHeaderError(f"{path}: EXR header is cut short")
    return data[at:end].decode("latin-1"), end + 1


def display_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of the display window of the EXR at ``path``."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_HEADER)
    except OSError as exc:
        raise ExrHeaderError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) < 8 or struct.unpack("<i", data[:4])[0] != _MAGIC:
        raise ExrHeaderError(f"{path} is not an OpenEXR file")
    at = 8
    while at < len(data):
        name, at = _cstring(data, at, path)
        if not name:
            break
        kind, at = _cstring(data, at, path)
        if at + 4 > len(data):
            break
        (size,) = struct.unpack("<i", data[at : at + 4])
        at += 4
        if name == "displayWindow" and kind == "box2i" and size == 16 and at + 16 <= len(data):
            x0, y0, x1, y1 = struct.unpack("<4i", data[at : at + 16])
            return x1 - x0 + 1, y1 - y0 + 1
        at += size
    raise ExrHeaderError(f"{path}: the EXR header has no display window")
