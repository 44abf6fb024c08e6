"""Rendering: file-knob frame patterns, EXR frames read for Read nodes, Write nodes executed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from ._state import require_main, session

if TYPE_CHECKING:
    from ._nodes import Node

_HASHES = re.compile(r"#+")
_PRINTF = re.compile(r"%0?(\d*)d")


def fake_frame_path(pattern: str, frame: int) -> str:
    """Expand ``####`` / ``%04d`` the way Nuke's file knobs do."""
    if _HASHES.search(pattern):
        return _HASHES.sub(lambda m: f"{frame:0{len(m.group(0))}d}", pattern, count=1)
    if _PRINTF.search(pattern):
        return _PRINTF.sub(lambda m: f"{frame:0{int(m.group(1) or 0)}d}", pattern, count=1)
    return pattern


_EXR_TO_NUKE = {"R": "rgba.red", "G": "rgba.green", "B": "rgba.blue", "A": "rgba.alpha"}
_NUKE_TO_EXR = {v: k for k, v in _EXR_TO_NUKE.items()}


def read_exr(node: Node, frame: int) -> dict[str, np.ndarray]:
    import OpenImageIO as oiio

    first, last = int(node["first"].value()), int(node["last"].value())
    frame = min(max(frame, first), last)  # before/after: hold
    path = fake_frame_path(str(node["file"].value()), frame)
    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise RuntimeError(f"Read {node.name()}: cannot open {path} ({oiio.geterror()})")
    spec = inp.spec()
    data = np.asarray(inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT), np.float32)
    inp.close()
    data = data.reshape(spec.height, spec.width, spec.nchannels)
    fw, fh = spec.full_width or spec.width, spec.full_height or spec.height
    out: dict[str, np.ndarray] = {}
    for i, cname in enumerate(spec.channelnames):
        plane = np.zeros((fh, fw), np.float32)
        x0, y0 = spec.x - spec.full_x, spec.y - spec.full_y
        plane[max(0, y0) : y0 + spec.height, max(0, x0) : x0 + spec.width] = data[max(0, -y0) :, max(0, -x0) :, i][
            : fh - max(0, y0), : fw - max(0, x0)
        ]
        out[_EXR_TO_NUKE.get(cname, cname)] = plane
    return out


_CHANNEL_SETS = {
    "rgb": ("rgba.red", "rgba.green", "rgba.blue"),
    "rgba": ("rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"),
    "alpha": ("rgba.alpha",),
}


def write_frame(node: Node, frame: int) -> str:
    import os

    import OpenImageIO as oiio

    src = node.input(0)
    if src is None:
        raise RuntimeError(f"{node.name()}: Write has no input")
    ftype = str(node["file_type"].value()) or os.path.splitext(str(node["file"].value()))[1].lstrip(".")
    if ftype != "exr":
        raise RuntimeError(f"{node.name()}: the fake renders EXR only, not {ftype!r}")
    planes = src.fake_render(frame)
    wanted = str(node["channels"].value())
    names = list(planes) if wanted == "all" else [c for c in _CHANNEL_SETS[wanted]]
    h, w = next(iter(planes.values())).shape if planes else (src.format().height(), src.format().width())
    data = np.stack([planes.get(c, np.zeros((h, w), np.float32)) for c in names], axis=-1)
    path = fake_frame_path(str(node["file"].value()), frame)
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        if not node["create_directories"].value():
            raise RuntimeError(f"{node.name()}: Can't write {path}: No such file or directory")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:  # Nuke's words: the Write, the folder and the OS reason
            raise RuntimeError(f"{node.name()}: Can't create directory {folder}: {exc.strerror}") from None
    datatype = node.knob("datatype")  # only there once file_type is exr
    pixel = oiio.HALF if datatype is None or "half" in str(datatype.value()) else oiio.FLOAT
    spec = oiio.ImageSpec(w, h, len(names), pixel)
    spec.channelnames = tuple(_NUKE_TO_EXR.get(c, c) for c in names)
    spec.attribute("compression", "zip")
    spec.attribute("nuke/node", node.name())
    out = oiio.ImageOutput.create(path)
    if out is None or not out.open(path, spec):
        reason = "Permission denied" if not os.access(folder or ".", os.W_OK) else oiio.geterror()
        raise RuntimeError(f"{node.name()}: Can't write {path}: {reason}")
    out.write_image(np.ascontiguousarray(data, np.float32))
    out.close()
    return path


def execute(
    nameOrNode: Node | str, start: int, end: int, incr: int = 1, views: Any = None, continueOnError: bool = False
) -> None:
    """Render a Write node over ``start``..``end`` (main thread only, like Nuke)."""
    from ._nodes import toNode  # the nodes module imports this one

    require_main("nuke.execute")
    node = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if node is None or node.Class() != "Write":
        raise ValueError(f"execute: {nameOrNode!r} is not a Write node")
    for frame in range(int(start), int(end) + 1, int(incr)):
        write_frame(node, frame)
    session().executed.append((node.name(), int(start), int(end)))
