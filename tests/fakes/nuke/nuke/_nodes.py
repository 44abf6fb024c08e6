"""Nodes: the graph of one script, its root, and the functions that make and find nodes."""

from __future__ import annotations

import re
import shlex
from typing import Any

import numpy as np

from ._knobs import (
    Array_Knob,
    Boolean_Knob,
    Double_Knob,
    Enumeration_Knob,
    File_Knob,
    Format,
    Format_Knob,
    FrameRange,
    Int_Knob,
    Knob,
    Multiline_Eval_String_Knob,
    String_Knob,
)
from ._render import fake_frame_path, read_exr
from ._state import require_main, session

# Fixed lists Nuke's enumeration knobs choose from (a value outside them is refused).
FILE_TYPES = ["", "cin", "dpx", "exr", "hdr", "jpeg", "mov", "null", "pic", "png", "sgi", "targa", "tiff", "xpm", "yuv"]
EXR_DATATYPES = ["16 bit half", "32 bit float"]
EXR_COMPRESSIONS = [
    "none",
    "Zip (1 scanline)",
    "Zip (16 scanlines)",
    "PIZ Wavelet (32 scanlines)",
    "RLE",
    "B44",
    "DWAA",
]
CHANNEL_SETS = ["none", "rgb", "rgba", "alpha", "depth", "motion", "forward", "backward", "all"]
ON_ERROR = ["error", "black", "checkerboard", "nearest frame"]
#: colourspaces a Read/Write offers, per the project's OCIO config (root ``OCIO_config``)
COLORSPACES = {
    "nuke-default": [
        "default",
        "linear",
        "sRGB",
        "rec709",
        "Cineon",
        "Gamma1.8",
        "Gamma2.2",
        "Gamma2.4",
        "Panalog",
        "REDLog",
        "ViperLog",
        "AlexaV3LogC",
        "PLogLin",
        "SLog",
        "raw",
    ],
    "aces_1.2": [
        "default",
        "ACES - ACES2065-1",
        "ACES - ACEScg",
        "ACES - ACEScct",
        "Utility - Linear - sRGB",
        "Utility - sRGB - Texture",
        "Output - sRGB",
        "Output - Rec.709",
        "raw",
    ],
}
#: stands for the colourspace list of the project's OCIO config, looked up when a node is made
_COLORSPACE = object()


class _Enum:
    """An enumeration knob's items and default in the tables below."""

    def __init__(self, items: Any, default: str) -> None:
        self.items, self.default = items, default


# Knobs per node class: name -> (knob class, default). Only what plugins commonly touch.
_COMMON: dict[str, tuple[type, Any]] = {
    "name": (String_Knob, ""),
    "label": (Multiline_Eval_String_Knob, ""),
    "disable": (Boolean_Knob, False),
    "xpos": (Int_Knob, 0),
    "ypos": (Int_Knob, 0),
    "selected": (Boolean_Knob, False),
    "tile_color": (Int_Knob, 0),
    "note_font": (String_Knob, ""),
}
_ROTO_KNOBS: dict[str, tuple[type, Any]] = {
    "output": (Enumeration_Knob, _Enum(CHANNEL_SETS, "alpha")),
    # Off (Nuke's default): the shapes are composited over the input's channels; on: the output
    # channels are cleared first, so they hold the shapes only.
    "replace": (Boolean_Knob, False),
    "format": (Format_Knob, None),
    "curves": (Knob, None),
}
_CLASS_KNOBS: dict[str, dict[str, tuple[type, Any]]] = {
    "Read": {
        "file": (File_Knob, ""),
        "first": (Int_Knob, 1),
        "last": (Int_Knob, 1),
        "origfirst": (Int_Knob, 1),
        "origlast": (Int_Knob, 1),
        "colorspace": (Enumeration_Knob, _Enum(_COLORSPACE, "default")),
        "raw": (Boolean_Knob, False),
        "on_error": (Enumeration_Knob, _Enum(ON_ERROR, "error")),
        "before": (String_Knob, "hold"),
        "after": (String_Knob, "hold"),
        "frame_mode": (String_Knob, "expression"),
        "frame": (String_Knob, ""),
        "format": (Format_Knob, None),
        "premultiplied": (Boolean_Knob, False),
    },
    "Write": {
        "file": (File_Knob, ""),
        # Choosing "exr" adds the EXR writer's knobs (datatype, compression): see _WRITER_KNOBS.
        "file_type": (Enumeration_Knob, _Enum(FILE_TYPES, "")),
        "channels": (Enumeration_Knob, _Enum(CHANNEL_SETS, "rgb")),
        "colorspace": (Enumeration_Knob, _Enum(_COLORSPACE, "default")),
        "create_directories": (Boolean_Knob, False),
        "raw": (Boolean_Knob, False),
        "use_limit": (Boolean_Knob, False),
        "first": (Int_Knob, 1),
        "last": (Int_Knob, 1),
    },
    "Roto": _ROTO_KNOBS,
    "RotoPaint": _ROTO_KNOBS,
    "Rectangle": {"output": (String_Knob, "alpha"), "area": (Array_Knob, [0, 0, 1, 1]), "format": (Format_Knob, None)},
    "Constant": {
        "color": (Array_Knob, [0.0, 0.0, 0.0, 0.0]),
        "format": (Format_Knob, None),
        "first": (Int_Knob, 1),
        "last": (Int_Knob, 1),
    },
}
#: a Write's knobs that exist only while its file_type is the key (Nuke swaps them with the writer)
_WRITER_KNOBS: dict[str, dict[str, tuple[type, Any]]] = {
    "exr": {
        "datatype": (Enumeration_Knob, _Enum(EXR_DATATYPES, "16 bit half")),
        "compression": (Enumeration_Knob, _Enum(EXR_COMPRESSIONS, "Zip (1 scanline)")),
    },
}
_ROOT_KNOBS: dict[str, tuple[type, Any]] = {
    "name": (File_Knob, ""),
    "first_frame": (Int_Knob, 1),
    "last_frame": (Int_Knob, 100),
    "frame": (Int_Knob, 1),
    "format": (Format_Knob, None),
    "fps": (Double_Knob, 24.0),
    "colorManagement": (String_Knob, "Nuke"),
    "OCIO_config": (Enumeration_Knob, _Enum(list(COLORSPACES), "nuke-default")),
    "workingSpaceLUT": (String_Knob, "linear"),
}


def _make_knob(owner: Any, name: str, kcls: type, default: Any) -> Knob:
    """A knob of a node class's table, with its default (lists copied, enumerations filled)."""
    if isinstance(default, _Enum):
        items = default.items
        if items is _COLORSPACE:
            items = COLORSPACES[str(session().root._knobs["OCIO_config"]._value)]
        knob: Knob = Enumeration_Knob(name, name, list(items))
        knob._value = default.default
    else:
        knob = kcls(name, name)
        knob._value = list(default) if isinstance(default, list) else default
    knob._node = owner
    return knob


class Node:
    """A node in the graph: knobs by name, inputs, a position; renders itself for the fake."""

    def __init__(self, cls: str, **knobs: Any) -> None:
        self._class = cls
        self._knobs: dict[str, Knob] = {}
        self._inputs: list[Node | None] = []
        for name, (kcls, default) in {**_COMMON, **_CLASS_KNOBS.get(cls, {})}.items():
            self._knobs[name] = _make_knob(self, name, kcls, default)
        n = session().counters.get(cls, 0) + 1
        session().counters[cls] = n
        self._knobs["name"]._value = f"{cls}{n}"
        if "format" in self._knobs and self._knobs["format"]._value is None:
            self._knobs["format"]._value = session().root.format()
        #: fake-only: the box a Roto/RotoPaint draws per frame, (x, y, r, t) in Nuke's pixel
        #: coordinates (y up), or a callable frame -> box.
        self.fake_shape: Any = (0, 0, 1, 1)
        for k, v in knobs.items():
            if k == "inputs":
                continue
            self[k].setValue(v)

    # -- identity ------------------------------------------------------------------------------

    def Class(self) -> str:
        require_main("Node.Class")
        return self._class

    def name(self) -> str:
        require_main("Node.name")
        return str(self._knobs["name"]._value)

    def fullName(self) -> str:
        return self.name()

    def setName(self, name: str, uncollide: bool = True, updateExpressions: bool = False) -> None:
        require_main("Node.setName")
        base, n = name, 1
        while uncollide and any(o is not self and o._knobs["name"]._value == name for o in session().nodes):
            n += 1
            name = f"{base}{n}"
        self._knobs["name"]._value = name

    # -- knobs -----------------------------------------------------------------------------------

    def knob(self, p: str | int, follow_link: bool = True) -> Knob | None:
        require_main("Node.knob")
        if isinstance(p, int):
            return list(self._knobs.values())[p]
        return self._knobs.get(p)

    def knobs(self) -> dict[str, Knob]:
        require_main("Node.knobs")
        return dict(self._knobs)

    def allKnobs(self) -> list[Knob]:
        return list(self.knobs().values())

    def addKnob(self, knob: Knob) -> None:
        require_main("Node.addKnob")
        knob._node = self
        self._knobs[knob.name()] = knob

    def removeKnob(self, knob: Knob) -> None:
        self._knobs.pop(knob.name(), None)

    def fake_knob_changed(self, knob: Knob) -> None:
        """What Nuke does when a knob is set: a Write's file_type swaps in its writer's knobs."""
        if self._class != "Write" or knob.name() != "file_type":
            return
        for ftype, knobs in _WRITER_KNOBS.items():
            for name, (kcls, default) in knobs.items():
                if ftype == knob._value and name not in self._knobs:
                    self._knobs[name] = _make_knob(self, name, kcls, default)
                elif ftype != knob._value:
                    self._knobs.pop(name, None)

    def __getitem__(self, name: str) -> Knob:
        k = self.knob(name)
        if k is None:
            raise NameError(f"knob {name} does not exist")
        return k

    # -- graph -----------------------------------------------------------------------------------

    def input(self, index: int) -> Node | None:
        require_main("Node.input")
        return self._inputs[index] if index < len(self._inputs) else None

    def inputs(self) -> int:
        return len(self._inputs)

    def setInput(self, i: int, node: Node | None) -> bool:
        require_main("Node.setInput")
        while len(self._inputs) <= i:
            self._inputs.append(None)
        self._inputs[i] = node
        return True

    def dependent(self, mask: int, forceEvaluate: bool = True) -> list[Node]:
        return [n for n in session().nodes if self in n._inputs]

    def isSelected(self) -> bool:
        return bool(self["selected"].value())

    def setSelected(self, selected: bool) -> None:
        self["selected"].setValue(bool(selected))

    def selectOnly(self) -> None:
        for n in session().nodes:
            n._knobs["selected"]._value = n is self

    def xpos(self) -> int:
        return int(self["xpos"].value())

    def ypos(self) -> int:
        return int(self["ypos"].value())

    def setXYpos(self, x: int, y: int) -> None:
        self["xpos"].setValue(int(x))
        self["ypos"].setValue(int(y))

    def setXpos(self, x: int) -> None:
        self["xpos"].setValue(int(x))

    def setYpos(self, y: int) -> None:
        self["ypos"].setValue(int(y))

    def screenWidth(self) -> int:
        require_main("Node.screenWidth")
        return 80

    def screenHeight(self) -> int:
        require_main("Node.screenHeight")
        return 18

    def autoplace(self) -> None:
        pass

    # -- time and format -------------------------------------------------------------------------

    def firstFrame(self) -> int:
        return self.frameRange().first()

    def lastFrame(self) -> int:
        return self.frameRange().last()

    def frameRange(self) -> FrameRange:
        require_main("Node.frameRange")
        if self._class in ("Read", "Constant"):
            first, last = int(self._knobs["first"]._value), int(self._knobs["last"]._value)
            shift = 0
            if self._class == "Read" and str(self._knobs["frame"]._value).strip():
                # frame_mode "offset": script frame = file frame + N; "start at": first file frame at N.
                n = int(str(self._knobs["frame"]._value))
                shift = n if self._knobs["frame_mode"]._value == "offset" else n - first
            return FrameRange(first + shift, last + shift)
        src = self._inputs[0] if self._inputs else None
        if src is not None:
            return src.frameRange()
        root = session().root
        return FrameRange(int(root._knobs["first_frame"]._value), int(root._knobs["last_frame"]._value))

    def format(self) -> Format:
        require_main("Node.format")
        if self._class == "Read":
            shape = self._read_size()
            if shape is not None:
                return Format(shape[1], shape[0])
        src = self._inputs[0] if self._inputs else None
        if src is not None and self._class not in ("Read", "Constant"):
            return src.format()  # a connected node (a Roto too) works in its input's format
        if "format" in self._knobs and self._knobs["format"]._value is not None and self._class != "Read":
            return self._knobs["format"]._value
        return session().root.format()

    def metadata(self, key: str | None = None, time: float = 0.0, view: str = "") -> Any:
        return {} if key is None else None

    def error(self) -> bool:
        return False

    def hasError(self) -> bool:
        return False

    def showControlPanel(self, forceFloat: bool = False) -> None:
        pass

    # -- fake rendering --------------------------------------------------------------------------

    def _read_size(self) -> tuple[int, int] | None:
        import OpenImageIO as oiio

        path = fake_frame_path(str(self._knobs["file"]._value), int(self._knobs["first"]._value))
        inp = oiio.ImageInput.open(path)
        if inp is None:
            return None
        spec = inp.spec()
        inp.close()
        return (spec.full_height or spec.height, spec.full_width or spec.width)

    def fake_render(self, frame: int) -> dict[str, np.ndarray]:
        """This node's image at ``frame``: channel name (rgba.red...) -> float32 (H, W), top row first."""
        fmt = self.format()
        h, w = fmt.height(), fmt.width()
        cls = self._class
        if self["disable"].value() and self._inputs and self._inputs[0] is not None:
            return self._inputs[0].fake_render(frame)
        if cls == "Read":
            return read_exr(self, frame)
        if cls in ("Roto", "RotoPaint", "Rectangle"):
            planes = self._inputs[0].fake_render(frame) if self._inputs and self._inputs[0] else {}
            if cls == "Rectangle":
                x, y, r, t = (float(v) for v in self["area"].value())
            else:
                box = self.fake_shape(frame) if callable(self.fake_shape) else self.fake_shape
                x, y, r, t = (float(v) for v in box)
            alpha = np.zeros((h, w), np.float32)
            # Nuke's y axis points up; row 0 of the array is the top of the image.
            rows = slice(max(0, int(h - t)), max(0, int(h - y)))
            alpha[rows, max(0, int(x)) : max(0, int(r))] = 1.0
            out = dict(planes)
            below = planes.get("rgba.alpha")
            if below is not None and cls != "Rectangle" and not self["replace"].value():
                # Nuke composites the shapes over the input: A + B * (1 - A) in the output channels.
                alpha = (alpha + below * (1.0 - alpha)).astype(np.float32)
            out["rgba.alpha"] = alpha
            if str(self["output"].value()) == "rgba":
                for c in ("red", "green", "blue"):
                    out[f"rgba.{c}"] = alpha.copy()
            return out
        if cls == "Constant":
            color = [float(c) for c in self["color"].value()]
            return {
                f"rgba.{c}": np.full((h, w), v, np.float32) for c, v in zip(("red", "green", "blue", "alpha"), color)
            }
        src = self._inputs[0] if self._inputs else None
        if src is None:
            return {f"rgba.{c}": np.zeros((h, w), np.float32) for c in ("red", "green", "blue", "alpha")}
        return src.fake_render(frame)

    def __repr__(self) -> str:
        return f"<{self._class} {self._knobs['name']._value}>"


class Group(Node):
    def nodes(self) -> list[Node]:
        return list(session().nodes)

    def begin(self) -> "Group":
        return self

    def end(self) -> None:
        pass

    def __enter__(self) -> "Group":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class Root(Group):
    def __init__(self) -> None:
        self._class = "Root"
        self._inputs = []
        self._knobs = {}
        self._knobs["OCIO_config"] = Enumeration_Knob("OCIO_config", "OCIO config", list(COLORSPACES))
        self._knobs["OCIO_config"]._node = self
        for name, (kcls, default) in _ROOT_KNOBS.items():
            if name != "OCIO_config":
                self._knobs[name] = _make_knob(self, name, kcls, default)
        self._knobs["format"]._value = Format(2048, 1556, "2K_Super_35(full-ap)")
        self.fake_shape = None

    def format(self) -> Format:
        return self._knobs["format"]._value

    def firstFrame(self) -> int:
        return int(self["first_frame"].value())

    def lastFrame(self) -> int:
        return int(self["last_frame"].value())

    def fps(self) -> int:
        return int(self["fps"].value())

    def fake_set_format(self, width: int, height: int) -> None:
        self._knobs["format"]._value = Format(width, height)


def root() -> Root:
    return session().root


def frame(f: int | None = None) -> int:
    """The current frame (the root's ``frame`` knob); with ``f``, moves there first, as Nuke does."""
    if f is not None:
        session().root._knobs["frame"]._value = int(f)
    return int(session().root._knobs["frame"]._value)


def scriptName() -> str:
    name = str(session().root._knobs["name"]._value)
    if not name:
        raise RuntimeError("no script name")  # Nuke raises for an unsaved script
    return name


def scriptOpen(filename: str | None = None) -> None:
    """Load a script saved by :func:`scriptSaveAs` into this session, as Nuke does.

    A missing file raises RuntimeError naming it (Nuke's "No such file or directory"). The fake
    reads back only what it writes (node classes, their knobs, inputs); Roto shapes are not kept.
    """
    import os

    path = str(filename or "")
    if not path or not os.path.isfile(path):
        raise RuntimeError(f"{path}: No such file or directory")
    from ._script import load_script

    load_script(path)
    session().root._knobs["name"]._value = path


def scriptSave(filename: str | None = None) -> bool:
    """Save the script to ``filename``, else to its own name (an unsaved script raises)."""
    path = str(filename or session().root._knobs["name"]._value or "")
    if not path:
        raise RuntimeError("the script has no name yet: use scriptSaveAs")
    from ._script import save_script

    save_script(path)
    return True


def scriptSaveAs(filename: str | None = None, overwrite: int | bool = -1) -> None:
    """Save under a new name, which the script then takes; refuses to replace a file unless ``overwrite``."""
    import os

    path = str(filename or "")
    if not path:
        raise RuntimeError("scriptSaveAs: no file name")
    if os.path.exists(path) and overwrite is not True and overwrite != 1:
        raise RuntimeError(f"{path} already exists")
    from ._script import save_script

    save_script(path)
    session().root._knobs["name"]._value = path


def _add_node(cls: str, knobs: dict[str, Any]) -> Node:
    require_main(f"creating a {cls} node")
    node = Node(cls, **knobs)
    session().nodes.append(node)
    return node


class _NodeConstructor:
    def __init__(self, cls: str) -> None:
        self._cls = cls

    def __call__(self, **knobs: Any) -> Node:
        node = _add_node(self._cls, knobs)
        for i, n in enumerate(knobs.get("inputs", ()) or ()):
            node.setInput(i, n)
        return node


class _Nodes:
    """``nuke.nodes.Read(file=..., first=...)``: make a node without connecting or selecting it."""

    def __getattr__(self, cls: str) -> _NodeConstructor:
        if cls.startswith("_"):
            raise AttributeError(cls)
        return _NodeConstructor(cls)


nodes = _Nodes()


def _parse_knob_script(text: str) -> dict[str, Any]:
    words = shlex.split(text.replace("{", '"').replace("}", '"'))
    out: dict[str, Any] = {}
    for name, value in zip(words[0::2], words[1::2]):
        try:
            out[name] = int(value)
        except ValueError:
            out[name] = value
    return out


def createNode(typ: str, knobs: str = "", inpanel: bool = True) -> Node:
    """Like the Node menu: the new node connects to and replaces the selection."""
    selected = selectedNodes()
    new = _add_node(typ, _parse_knob_script(knobs) if knobs else {})
    if selected:
        new.setInput(0, selected[-1])
        new.setXYpos(selected[-1].xpos(), selected[-1].ypos() + 60)
    new.selectOnly()
    return new


def toNode(s: str) -> Node | None:
    require_main("nuke.toNode")
    if s == "root":
        return session().root
    return next((n for n in session().nodes if n._knobs["name"]._value == s), None)


def allNodes(filter: str | None = None, group: Any = None, recurseGroups: bool = False) -> list[Node]:
    require_main("nuke.allNodes")
    return [n for n in session().nodes if filter is None or n._class == filter]


def selectedNodes(filter: str | None = None) -> list[Node]:
    require_main("nuke.selectedNodes")
    return [n for n in session().nodes if n._knobs["selected"]._value and (filter is None or n._class == filter)]


def selectedNode() -> Node:
    sel = selectedNodes()
    if not sel:
        raise ValueError("no node selected")
    return sel[-1]


def delete(n: Node | None) -> None:
    require_main("nuke.delete")
    if n is not None and n in session().nodes:
        session().nodes.remove(n)
        for other in session().nodes:
            other._inputs = [None if i is n else i for i in other._inputs]


def filename(node: Node, i: int = 0) -> str | None:
    """The node's file name as Nuke evaluates it: ``####`` becomes ``%04d`` (no file: None).

    With ``i`` = ``REPLACE`` the current frame's number replaces the token.
    """
    k = node.knob("file")
    if k is None or not str(k.value()):
        return None
    text = _HASH_RUN.sub(lambda m: f"%0{len(m.group(0))}d", str(k.value()))
    if i == REPLACE:
        return fake_frame_path(text, frame())
    return text


REPLACE = 1
_HASH_RUN = re.compile(r"#+")
