"""A small, faithful fake of Foundry Nuke's ``nuke`` Python module, for tests.

Real names and argument shapes (checked against the ``types-nuke`` stubs): ``nodes.Read(...)``,
``createNode``, ``toNode``, ``selectedNodes``, ``allNodes``, ``delete``, ``execute(node, start,
end)``, ``root()``, knobs with ``value/setValue/getValue``, ``ProgressTask``, ``message``,
``executeInMainThread[WithResult]``, ``GUI``, ``menu``/``toolbar``.

What makes it useful rather than a stub:
- Nodes render: a Read reads its EXR frames, a Roto/RotoPaint/Rectangle draws a box into alpha,
  Constant fills its colour, other nodes pass input 0 through. A Write node executed with
  ``execute`` writes real EXRs through OpenImageIO, honouring ``file``, ``channels`` and
  ``datatype``.
- Threading like Nuke's: with ``GUI`` true, touching nodes, knobs or ``message`` from any thread
  but the main one raises, and ``executeInMainThread`` queues the call until the test pumps the
  "event loop" with :func:`fake_process_events`. ``ProgressTask`` may be used from any thread.

Everything that is not Nuke API is prefixed ``fake_``.
"""

from __future__ import annotations

import queue
import re
import shlex
import threading
import time
from typing import Any, Callable

import numpy as np

GUI: bool = True
NUKE_VERSION_MAJOR = 15
NUKE_VERSION_MINOR = 1
NUKE_VERSION_STRING = "15.1v1"
env: dict[str, Any] = {"gui": True, "NukeVersionMajor": 15}

# ---------------------------------------------------------------------------------------------
# fake-only state and controls


class _FakeState:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.root = Root()
        self.messages: list[str] = []
        self.progress_tasks: list[ProgressTask] = []
        self.main_queue: "queue.Queue[tuple[Callable[..., Any], tuple, dict, _Result | None]]" = queue.Queue()
        self.executed: list[tuple[str, int, int]] = []
        self.menus: dict[str, Menu] = {}
        self.toolbars: dict[str, ToolBar] = {}
        self.counters: dict[str, int] = {}
        self.main_thread_calls: list[str] = []


class _Result:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


def fake_reset(gui: bool = True) -> None:
    """A new empty script; ``gui`` sets ``nuke.GUI``."""
    global GUI, fake_state
    GUI = gui
    env["gui"] = gui
    fake_state = _FakeState()


def fake_process_events(until: Callable[[], bool] | None = None, timeout: float = 30.0) -> None:
    """Run queued main-thread calls (Nuke's event loop) until ``until()`` or ``timeout``.

    Raises TimeoutError when ``until`` never turns true.
    """
    _require_main("fake_process_events")
    deadline = time.monotonic() + timeout
    while True:
        if until is not None and until():
            return
        left = deadline - time.monotonic()
        if left <= 0:
            if until is None:
                return
            raise TimeoutError("fake_process_events: condition not met in time")
        try:
            call, args, kwargs, result = fake_state.main_queue.get(timeout=min(left, 0.02))
        except queue.Empty:
            continue
        try:
            value = call(*args, **kwargs)
            if result is not None:
                result.value = value
        except BaseException as exc:  # handed back to the caller that waits, like Nuke does
            if result is None:
                raise
            result.error = exc
        finally:
            if result is not None:
                result.done.set()


def _require_main(what: str) -> None:
    if GUI and threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"{what} called from thread {threading.current_thread().name!r}: "
            "Nuke's node graph and UI may only be touched from the main thread"
        )


# ---------------------------------------------------------------------------------------------
# threads


def executeInMainThread(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> None:
    """Queue ``call`` for the main thread; returns at once."""
    if not isinstance(args, tuple):
        args = (args,)
    if not GUI or threading.current_thread() is threading.main_thread():
        # Without a GUI Nuke has no event loop to queue on.
        call(*args, **(kwargs or {}))
        return
    fake_state.main_queue.put((call, args, kwargs or {}, None))


def executeInMainThreadWithResult(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> Any:
    """Run ``call`` on the main thread and wait for its result."""
    if not isinstance(args, tuple):
        args = (args,)
    if not GUI or threading.current_thread() is threading.main_thread():
        return call(*args, **(kwargs or {}))
    result = _Result()
    fake_state.main_queue.put((call, args, kwargs or {}, result))
    result.done.wait()
    if result.error is not None:
        raise result.error
    return result.value


class ProgressTask:
    """Nuke's progress bar with a cancel button; safe to use from any thread."""

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.messages: list[str] = []
        self.progress: list[int] = []
        self.fake_cancelled = False
        self.fake_closed = False
        fake_state.progress_tasks.append(self)

    def setMessage(self, message: str) -> None:
        self.messages.append(str(message))

    def setProgress(self, percent: int) -> None:
        if not isinstance(percent, int):
            raise TypeError(f"setProgress expects an int percentage, got {type(percent).__name__}")
        self.progress.append(percent)

    def isCancelled(self) -> bool:
        return self.fake_cancelled

    def fake_cancel(self) -> None:
        """What the artist's click on the task's cancel button does."""
        self.fake_cancelled = True

    def __del__(self) -> None:
        self.fake_closed = True


def message(prompt: str) -> None:
    _require_main("nuke.message")
    fake_state.messages.append(str(prompt))


def tprint(*args: Any) -> None:
    print(*args)


def warning(message: str) -> None:
    print(f"Warning: {message}")


def error(message: str) -> None:
    print(f"Error: {message}")


# ---------------------------------------------------------------------------------------------
# knobs


class Knob:
    """A named value on a node or panel."""

    def __init__(self, name: str, label: str | None = None, value: Any = None) -> None:
        self._name = name
        self._label = label if label is not None else name
        self._value = value
        self._tooltip = ""
        self._flags = 0
        self._enabled = True
        self._visible = True
        self._node: Node | None = None

    def Class(self) -> str:
        return type(self).__name__

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def setLabel(self, label: str) -> None:
        self._label = label

    def node(self) -> Node:
        assert self._node is not None
        return self._node

    def _touch(self) -> None:
        if self._node is not None:
            _require_main(f"knob {self._name!r}")

    def value(self, *args: Any) -> Any:
        self._touch()
        return self._value

    def getValue(self, *args: Any) -> Any:
        return self.value()

    def setValue(self, val: Any, *args: Any) -> bool:
        self._touch()
        self._value = val
        return True

    def setTooltip(self, tooltip: str) -> None:
        self._tooltip = tooltip

    def tooltip(self) -> str:
        return self._tooltip

    def setFlag(self, flag: int) -> None:
        self._flags |= flag

    def clearFlag(self, flag: int) -> None:
        self._flags &= ~flag

    def getFlag(self, flag: int) -> bool:
        return bool(self._flags & flag)

    def setEnabled(self, enabled: bool) -> None:
        self._enabled = enabled

    def enabled(self) -> bool:
        return self._enabled

    def setVisible(self, visible: bool) -> None:
        self._visible = visible

    def visible(self) -> bool:
        return self._visible

    def toScript(self, *args: Any) -> str:
        return str(self.value())

    def fromScript(self, script: str) -> None:
        self.setValue(script)

    def __repr__(self) -> str:
        return f"<{self.Class()} {self._name}={self._value!r}>"


class String_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, value: str = "") -> None:
        super().__init__(name, label, str(value))

    def setValue(self, val: Any, *args: Any) -> bool:
        if not isinstance(val, str):
            raise TypeError(f"{self._name}: a string knob takes a string, got {type(val).__name__}")
        return super().setValue(val)

    def getText(self) -> str:
        return str(self.value())


class EvalString_Knob(String_Knob):
    pass


class File_Knob(EvalString_Knob):
    def getEvaluatedValue(self) -> str:
        return str(self.value())


class Multiline_Eval_String_Knob(EvalString_Knob):
    pass


class Text_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, text: str = "") -> None:
        super().__init__(name, label, text)


class Tab_Knob(Knob):
    pass


class PyScript_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, command: str = "") -> None:
        super().__init__(name, label, command)


class Array_Knob(Knob):
    pass


class Int_Knob(Array_Knob):
    def __init__(self, name: str, label: str | None = None, value: int = 0) -> None:
        super().__init__(name, label, int(value))

    def setValue(self, val: Any, *args: Any) -> bool:
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise TypeError(f"{self._name}: an int knob takes a number, got {type(val).__name__}")
        return super().setValue(int(val))


class Double_Knob(Array_Knob):
    def __init__(self, name: str, label: str | None = None, value: float = 0.0) -> None:
        super().__init__(name, label, float(value))

    def setValue(self, val: Any, *args: Any) -> bool:
        return super().setValue(float(val))


class Boolean_Knob(Array_Knob):
    def __init__(self, name: str, label: str | None = None, value: bool = False) -> None:
        super().__init__(name, label, bool(value))

    def setValue(self, val: Any, *args: Any) -> bool:
        return super().setValue(bool(val))


class Enumeration_Knob(Knob):
    """``value()`` is the chosen item's name; ``setValue`` takes a name or an index."""

    def __init__(self, name: str, label: str | None = None, items: list[str] | None = None) -> None:
        self._items = [str(i) for i in (items or [])]
        super().__init__(name, label, self._items[0] if self._items else "")

    def values(self) -> list[str]:
        return list(self._items)

    def setValues(self, items: list[str]) -> None:
        self._items = [str(i) for i in items]

    def numValues(self) -> int:
        return len(self._items)

    def enumName(self, n: int) -> str:
        return self._items[n]

    def setValue(self, val: Any, *args: Any) -> bool:
        if isinstance(val, int) and not isinstance(val, bool):
            val = self._items[val]
        if self._items and val not in self._items:
            raise ValueError(f"{self._name}: {val!r} is not one of {self._items}")
        return super().setValue(val)

    def getValue(self, *args: Any) -> Any:
        return float(self._items.index(self.value())) if self._items else 0.0


class Format:
    def __init__(self, width: int, height: int, name: str = "") -> None:
        self._w, self._h, self._name = width, height, name

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h

    def name(self) -> str:
        return self._name

    def pixelAspect(self) -> float:
        return 1.0

    def x(self) -> int:
        return 0

    def y(self) -> int:
        return 0

    def r(self) -> int:
        return self._w

    def t(self) -> int:
        return self._h


class Format_Knob(Knob):
    def value(self, *args: Any) -> Any:
        return self._value


class FrameRange:
    def __init__(self, first: int, last: int) -> None:
        self._first, self._last = first, last

    def first(self) -> int:
        return self._first

    def last(self) -> int:
        return self._last

    def frames(self) -> int:
        return self._last - self._first + 1


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


# ---------------------------------------------------------------------------------------------
# nodes


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
        n = fake_state.counters.get(cls, 0) + 1
        fake_state.counters[cls] = n
        self._knobs["name"]._value = f"{cls}{n}"
        if "format" in self._knobs and self._knobs["format"]._value is None:
            self._knobs["format"]._value = fake_state.root.format()
        #: fake-only: the box a Roto/RotoPaint draws per frame, (x, y, r, t) in Nuke's pixel
        #: coordinates (y up), or a callable frame -> box.
        self.fake_shape: Any = (0, 0, 1, 1)
        for k, v in knobs.items():
            if k == "inputs":
                continue
            self[k].setValue(v)

    # -- identity ------------------------------------------------------------------------------

    def Class(self) -> str:
        _require_main("Node.Class")
        return self._class

    def name(self) -> str:
        _require_main("Node.name")
        return str(self._knobs["name"]._value)

    def fullName(self) -> str:
        return self.name()

    def setName(self, name: str, uncollide: bool = True, updateExpressions: bool = False) -> None:
        _require_main("Node.setName")
        base, n = name, 1
        while uncollide and any(o is not self and o._knobs["name"]._value == name for o in fake_state.nodes):
            n += 1
            name = f"{base}{n}"
        self._knobs["name"]._value = name

    # -- knobs -----------------------------------------------------------------------------------

    def knob(self, p: str | int, follow_link: bool = True) -> Knob | None:
        _require_main("Node.knob")
        if isinstance(p, int):
            return list(self._knobs.values())[p]
        return self._knobs.get(p)

    def knobs(self) -> dict[str, Knob]:
        _require_main("Node.knobs")
        return dict(self._knobs)

    def allKnobs(self) -> list[Knob]:
        return list(self.knobs().values())

    def addKnob(self, knob: Knob) -> None:
        _require_main("Node.addKnob")
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
        _require_main("Node.input")
        return self._inputs[index] if index < len(self._inputs) else None

    def inputs(self) -> int:
        return len(self._inputs)

    def setInput(self, i: int, node: Node | None) -> bool:
        _require_main("Node.setInput")
        while len(self._inputs) <= i:
            self._inputs.append(None)
        self._inputs[i] = node
        return True

    def dependent(self, mask: int = 0, forceEvaluate: bool = True) -> list[Node]:
        return [n for n in fake_state.nodes if self in n._inputs]

    def isSelected(self) -> bool:
        return bool(self["selected"].value())

    def setSelected(self, selected: bool) -> None:
        self["selected"].setValue(bool(selected))

    def selectOnly(self) -> None:
        for n in fake_state.nodes:
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
        _require_main("Node.screenWidth")
        return 80

    def screenHeight(self) -> int:
        _require_main("Node.screenHeight")
        return 18

    def autoplace(self) -> None:
        pass

    # -- time and format -------------------------------------------------------------------------

    def firstFrame(self) -> int:
        return self.frameRange().first()

    def lastFrame(self) -> int:
        return self.frameRange().last()

    def frameRange(self) -> FrameRange:
        _require_main("Node.frameRange")
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
        root = fake_state.root
        return FrameRange(int(root._knobs["first_frame"]._value), int(root._knobs["last_frame"]._value))

    def format(self) -> Format:
        _require_main("Node.format")
        if self._class == "Read":
            shape = self._read_size()
            if shape is not None:
                return Format(shape[1], shape[0])
        if "format" in self._knobs and self._knobs["format"]._value is not None and self._class != "Read":
            return self._knobs["format"]._value
        src = self._inputs[0] if self._inputs else None
        return src.format() if src is not None else fake_state.root.format()

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
            return _read_exr(self, frame)
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
        return list(fake_state.nodes)

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
    return fake_state.root


def frame(f: int | None = None) -> int:
    """The current frame (the root's ``frame`` knob); with ``f``, moves there first, as Nuke does."""
    if f is not None:
        fake_state.root._knobs["frame"]._value = int(f)
    return int(fake_state.root._knobs["frame"]._value)


def scriptName() -> str:
    name = str(fake_state.root._knobs["name"]._value)
    if not name:
        raise RuntimeError("no script name")  # Nuke raises for an unsaved script
    return name


def scriptOpen(filename: str | None = None) -> None:
    """Records the script name only: the fake cannot parse .nk files (tests build graphs in code)."""
    fake_state.root._knobs["name"]._value = str(filename or "")


def _add_node(cls: str, knobs: dict[str, Any]) -> Node:
    _require_main(f"creating a {cls} node")
    node = Node(cls, **knobs)
    fake_state.nodes.append(node)
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


def createNode(node: str, args: str = "", inpanel: bool = True) -> Node:
    """Like the Node menu: the new node connects to and replaces the selection."""
    selected = selectedNodes()
    new = _add_node(node, _parse_knob_script(args) if args else {})
    if selected:
        new.setInput(0, selected[-1])
        new.setXYpos(selected[-1].xpos(), selected[-1].ypos() + 60)
    new.selectOnly()
    return new


def toNode(s: str) -> Node | None:
    _require_main("nuke.toNode")
    if s == "root":
        return fake_state.root
    return next((n for n in fake_state.nodes if n._knobs["name"]._value == s), None)


def allNodes(filter: str | None = None, group: Any = None, recurseGroups: bool = False) -> list[Node]:
    _require_main("nuke.allNodes")
    return [n for n in fake_state.nodes if filter is None or n._class == filter]


def selectedNodes(filter: str | None = None) -> list[Node]:
    _require_main("nuke.selectedNodes")
    return [n for n in fake_state.nodes if n._knobs["selected"]._value and (filter is None or n._class == filter)]


def selectedNode() -> Node:
    sel = selectedNodes()
    if not sel:
        raise ValueError("no node selected")
    return sel[-1]


def delete(n: Node | None) -> None:
    _require_main("nuke.delete")
    if n is not None and n in fake_state.nodes:
        fake_state.nodes.remove(n)
        for other in fake_state.nodes:
            other._inputs = [None if i is n else i for i in other._inputs]


def filename(node: Node, i: int = 0) -> str | None:
    k = node.knob("file")
    return None if k is None else str(k.value())


# ---------------------------------------------------------------------------------------------
# rendering


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


def _read_exr(node: Node, frame: int) -> dict[str, np.ndarray]:
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


def _write_frame(node: Node, frame: int) -> str:
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
            raise RuntimeError(f"{node.name()}: folder {folder} does not exist")
        os.makedirs(folder, exist_ok=True)
    pixel = oiio.HALF if "half" in str(node["datatype"].value()) else oiio.FLOAT
    spec = oiio.ImageSpec(w, h, len(names), pixel)
    spec.channelnames = tuple(_NUKE_TO_EXR.get(c, c) for c in names)
    spec.attribute("compression", "zip")
    spec.attribute("nuke/node", node.name())
    out = oiio.ImageOutput.create(path)
    if out is None or not out.open(path, spec):
        raise RuntimeError(f"{node.name()}: cannot write {path} ({oiio.geterror()})")
    out.write_image(np.ascontiguousarray(data, np.float32))
    out.close()
    return path


def execute(
    nameOrNode: Node | str, start: int, end: int, incr: int = 1, views: Any = None, continueOnError: bool = False
) -> None:
    """Render a Write node over ``start``..``end`` (main thread only, like Nuke)."""
    _require_main("nuke.execute")
    node = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if node is None or node.Class() != "Write":
        raise ValueError(f"execute: {nameOrNode!r} is not a Write node")
    for frame in range(int(start), int(end) + 1, int(incr)):
        _write_frame(node, frame)
    fake_state.executed.append((node.name(), int(start), int(end)))


# ---------------------------------------------------------------------------------------------
# menus


class MenuItem:
    def __init__(self, name: str, command: Any = None, shortcut: str = "", icon: str = "") -> None:
        self._name, self._command, self._shortcut, self._icon = name, command, shortcut, icon

    def name(self) -> str:
        return self._name

    def shortcut(self) -> str:
        return self._shortcut

    def setShortcut(self, keySequence: str) -> None:
        self._shortcut = keySequence

    def icon(self) -> str:
        return self._icon

    def script(self) -> str:
        return self._command if isinstance(self._command, str) else ""

    def invoke(self) -> None:
        if callable(self._command):
            self._command()
        elif isinstance(self._command, str) and self._command:
            exec(self._command, {})


class Menu(MenuItem):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._items: dict[str, MenuItem] = {}

    def _item(self, path: str) -> tuple["Menu", str]:
        parts = path.split("/")
        menu = self
        for p in parts[:-1]:
            sub = menu._items.get(p)
            if not isinstance(sub, Menu):
                sub = Menu(p)
                menu._items[p] = sub
            menu = sub
        return menu, parts[-1]

    def addCommand(
        self,
        name: str,
        command: Any = None,
        shortcut: str = "",
        icon: str = "",
        tooltip: str = "",
        index: int = -1,
        readonly: bool = False,
        shortcutContext: int = 0,
        tag: int = 0,
        tagTarget: int = 0,
    ) -> MenuItem:
        menu, leaf = self._item(name)
        if command is None:
            sub = Menu(leaf)
            menu._items[leaf] = sub
            return sub
        item = MenuItem(leaf, command, shortcut, icon)
        menu._items[leaf] = item
        return item

    def addMenu(self, name: str, icon: str = "", tooltip: str = "", index: int = -1) -> "Menu":
        menu, leaf = self._item(name)
        sub = menu._items.get(leaf)
        if not isinstance(sub, Menu):
            sub = Menu(leaf)
            menu._items[leaf] = sub
        return sub

    def addSeparator(self, *args: Any, **kwargs: Any) -> None:
        pass

    def findItem(self, name: str) -> MenuItem | None:
        menu: Any = self
        for p in name.split("/"):
            if not isinstance(menu, Menu) or p not in menu._items:
                return None
            menu = menu._items[p]
        return menu

    def menu(self, name: str) -> "Menu | None":
        item = self.findItem(name)
        return item if isinstance(item, Menu) else None

    def items(self) -> list[MenuItem]:
        return list(self._items.values())


class ToolBar(Menu):
    pass


def menu(name: str) -> Menu:
    _require_main("nuke.menu")
    if not GUI and name in ("Nodes", "Nuke", "Viewer", "Node Graph"):
        raise RuntimeError(f"nuke.menu({name!r}) has no menu without a GUI")
    return fake_state.menus.setdefault(name, Menu(name))


def toolbar(name: str, create: bool = True) -> ToolBar | None:
    _require_main("nuke.toolbar")
    if name not in fake_state.toolbars:
        if not create:
            return None
        fake_state.toolbars[name] = ToolBar(name)
    return fake_state.toolbars[name]


def pluginAddPath(path: str, addToSysPath: bool = True) -> None:
    import sys

    if addToSysPath and path not in sys.path:
        sys.path.insert(0, path)


fake_state = _FakeState()

# Knob flags the plugin may use
STARTLINE = 0x1000
ENDLINE = 0x2000
INVISIBLE = 0x400
