"""Nodes: the graph of one script, its root, and the functions that make and find nodes."""

from __future__ import annotations

import shlex
from typing import Any

import numpy as np

from ._knobs import (
    Array_Knob,
    Boolean_Knob,
    Double_Knob,
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
_CLASS_KNOBS: dict[str, dict[str, tuple[type, Any]]] = {
    "Read": {
        "file": (File_Knob, ""),
        "first": (Int_Knob, 1),
        "last": (Int_Knob, 1),
        "origfirst": (Int_Knob, 1),
        "origlast": (Int_Knob, 1),
        "colorspace": (String_Knob, "default"),
        "raw": (Boolean_Knob, False),
        "on_error": (String_Knob, "error"),
        "before": (String_Knob, "hold"),
        "after": (String_Knob, "hold"),
        "frame_mode": (String_Knob, "expression"),
        "frame": (String_Knob, ""),
        "format": (Format_Knob, None),
        "premultiplied": (Boolean_Knob, False),
    },
    "Write": {
        "file": (File_Knob, ""),
        "file_type": (String_Knob, ""),
        "channels": (String_Knob, "rgb"),
        "colorspace": (String_Knob, "default"),
        "datatype": (String_Knob, "16 bit half"),
        "compression": (String_Knob, "Zip (1 scanline)"),
        "create_directories": (Boolean_Knob, False),
        "raw": (Boolean_Knob, False),
        "use_limit": (Boolean_Knob, False),
        "first": (Int_Knob, 1),
        "last": (Int_Knob, 1),
    },
    "Roto": {"output": (String_Knob, "alpha"), "format": (Format_Knob, None), "curves": (Knob, None)},
    "RotoPaint": {"output": (String_Knob, "alpha"), "format": (Format_Knob, None), "curves": (Knob, None)},
    "Rectangle": {"output": (String_Knob, "alpha"), "area": (Array_Knob, [0, 0, 1, 1]), "format": (Format_Knob, None)},
    "Constant": {
        "color": (Array_Knob, [0.0, 0.0, 0.0, 0.0]),
        "format": (Format_Knob, None),
        "first": (Int_Knob, 1),
        "last": (Int_Knob, 1),
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
    "OCIO_config": (String_Knob, "nuke-default"),
    "workingSpaceLUT": (String_Knob, "linear"),
}


class Node:
    """A node in the graph: knobs by name, inputs, a position; renders itself for the fake."""

    def __init__(self, cls: str, **knobs: Any) -> None:
        self._class = cls
        self._knobs: dict[str, Knob] = {}
        self._inputs: list[Node | None] = []
        for name, (kcls, default) in {**_COMMON, **_CLASS_KNOBS.get(cls, {})}.items():
            knob = kcls(name, name)
            knob._value = list(default) if isinstance(default, list) else default
            knob._node = self
            self._knobs[name] = knob
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
        if "format" in self._knobs and self._knobs["format"]._value is not None and self._class != "Read":
            return self._knobs["format"]._value
        src = self._inputs[0] if self._inputs else None
        return src.format() if src is not None else session().root.format()

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
            out["rgba.alpha"] = (
                np.maximum(planes.get("rgba.alpha", 0), alpha).astype(np.float32)
                if "rgba.alpha" in planes and cls != "Rectangle"
                else alpha
            )
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
        for name, (kcls, default) in _ROOT_KNOBS.items():
            knob = kcls(name, name)
            knob._value = default
            knob._node = self
            self._knobs[name] = knob
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
    """Records the script name only: the fake cannot parse .nk files (tests build graphs in code)."""
    session().root._knobs["name"]._value = str(filename or "")


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
    k = node.knob("file")
    return None if k is None else str(k.value())
