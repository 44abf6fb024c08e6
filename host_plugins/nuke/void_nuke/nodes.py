"""Node-graph work: where a plate's frames are, temporary Writes for mattes, the result Read.

Every function here touches the node graph and must run on Nuke's main thread; the job thread
reaches them through :mod:`void_nuke.ui`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

import nuke
from bridge.sequences import has_frame_token

#: node classes that draw mattes (shapes over their input)
MATTE_CLASSES = frozenset({"Roto", "RotoPaint"})


@dataclass(frozen=True)
class Source:
    """A node's frames as files: a Read's own sequence, or ``None`` when it must be rendered."""

    pattern: Optional[str]
    colorspace: str


def read_source(node: nuke.Node) -> Source:
    """Where a Read's frames are on disk (with its colourspace); ``pattern`` None for other nodes.

    A Read is used as it is only for EXR sequences that are not reformatted on read (``raw``,
    proxies and non-EXR files are rendered like any other node).
    """
    if node.Class() != "Read":
        return Source(None, "")
    colorspace = str(node["colorspace"].value())
    if renumbers_frames(node):
        # Its files' numbers are not the script's frames, in which the mattes are rendered:
        # render it too, so plate and mattes line up frame for frame.
        return Source(None, colorspace)
    path = nuke.filename(node) or str(node["file"].value())
    if not path.lower().endswith(".exr") or not has_frame_token(os.path.basename(path)):
        return Source(None, colorspace)
    return Source(path, colorspace)


# This system's path separator; Nuke's file knobs want '/' on every OS (a '\' is an escape
# there: C:\temp\plate.exr reads as C:<tab>emp...).
_SEP = os.sep


def nuke_path(path: str) -> str:
    """``path`` as a Nuke file knob wants it: forward slashes, also on Windows."""
    return path.replace(_SEP, "/") if _SEP != "/" else path


def renumbers_frames(read: nuke.Node) -> bool:
    """Whether a Read shifts its files' frame numbers (``frame_mode`` start at / offset / expression)."""
    knob = read.knob("frame")
    return knob is not None and bool(str(knob.value()).strip())


def make_temp_write(source_name: str, pattern: str, channels: str) -> str:
    """A Write fed by node ``source_name`` that renders ``channels`` to ``pattern``; returns its name."""
    node = nuke.toNode(source_name)
    if node is None:
        raise RuntimeError(f"node {source_name} was deleted before VOID could render it")
    write = nuke.nodes.Write(file=nuke_path(pattern))
    write["file_type"].setValue("exr")  # first: the EXR writer's knobs (datatype) exist only after it
    write["channels"].setValue(channels)
    write["datatype"].setValue("32 bit float")  # never lose precision on the way to the engine
    write["create_directories"].setValue(True)
    write.setInput(0, node)
    write.setXYpos(node.xpos(), node.ypos() + 2 * node.screenHeight() + 40)
    write["label"].setValue("VOID: temporary render")
    return write.name()


def write_colorspace(write_name: str) -> str:
    write = nuke.toNode(write_name)
    return "" if write is None else str(write["colorspace"].value())


def render_frame(write_name: str, frame: int, matte: Optional[str] = None) -> None:
    """Render one frame of the temporary Write (one short main-thread hop per frame).

    ``matte``: the Roto/RotoPaint the Write renders. Nuke composites a Roto's shapes over its
    input, so a plate with alpha 1 would make the matte solid; the Roto's ``replace`` is on for
    this render (its output channels then hold the shapes only) and set back before the hop ends.
    """
    write = nuke.toNode(write_name)
    if write is None:
        raise RuntimeError(f"the temporary Write {write_name} was deleted while rendering")
    replace = _replace_knob(matte)
    was = replace.value() if replace is not None else None
    if replace is not None:
        replace.setValue(True)
    try:
        nuke.execute(write, frame, frame)
    finally:
        if replace is not None:
            replace.setValue(was)


def _replace_knob(matte: Optional[str]) -> Optional[nuke.Knob]:
    """The ``replace`` knob of a Roto/RotoPaint with an input (None when its output is its own)."""
    node = nuke.toNode(matte) if matte else None
    if node is None or node.Class() not in MATTE_CLASSES or node.input(0) is None:
        return None
    return node.knob("replace")


def delete_node(name: str) -> None:
    node = nuke.toNode(name)
    if node is not None:
        nuke.delete(node)


def node_name(node: nuke.Node) -> str:
    return node.name()


def create_result_read(plate_name: str, pattern: str, frames: Sequence[int], colorspace: str, label: str) -> str:
    """A Read of the result sequence placed beside the plate; returns the new node's name."""
    first, last = min(frames), max(frames)
    read = nuke.nodes.Read(file=nuke_path(pattern))
    for knob, value in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        read[knob].setValue(value)
    if colorspace:
        read["colorspace"].setValue(colorspace)
    read["label"].setValue(label)
    read["on_error"].setValue("black")  # a missing frame shows as black, not as an error in the comp
    plate = nuke.toNode(plate_name)
    if plate is not None:
        read.setXYpos(plate.xpos() + plate.screenWidth() + 60, plate.ypos())
    read.setName("VOID_result")
    for other in nuke.selectedNodes():
        other.setSelected(False)
    read.setSelected(True)
    return read.name()
