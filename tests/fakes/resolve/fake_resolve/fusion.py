"""Fake Fusion: ``fusion``, ``comp``, tools, inputs/outputs; Savers write real EXRs.

Shapes follow Fusion's scripting guide: ``comp.GetToolList(selected, regid)`` returns a 1-based
dict, ``comp.AddTool(regid, x, y)``, ``tool.SetInput(id, value[, time])``, ``tool.GetInput``,
``tool.ConnectInput(id, tool_or_output)``, ``tool.GetAttrs()`` (``TOOLS_Name``, ``TOOLS_RegID``),
``tool.SetAttrs({"TOOLS_Name": ...})``, ``tool.FindMainInput(1)`` / ``FindMainOutput(1)``,
``output.GetConnectedInputs()``, ``input.ConnectTo(output)``, ``comp.Render({"Start", "End",
"Tool", "Wait"})``, ``comp.GetAttrs()`` (``COMPN_RenderStart``/``End``), ``Lock``/``Unlock``,
``StartUndo``/``EndUndo``, ``comp.IsRendering()``, ``comp.AbortRender()``.

Strict where Fusion is: ``AddTool`` answers None for a tool it cannot add; ``comp.Render``
answers False instead of raising, and with ``Wait=False`` renders in the background (poll
``IsRendering``); an input a tool does not have is not set (recorded in
``Composition.unknown_inputs``); a mask renders at its own Width/Height (the comp's frame format
by default), whatever the size of the plate.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from . import calls
from .render_ops import run_ops
from .ui import UIManager

# regid -> default name stem (Fusion names a PolylineMask "Polygon1").
_NAME_STEM = {
    "PolylineMask": "Polygon",
    "BSplineMask": "BSpline",
    "EllipseMask": "Ellipse",
    "RectangleMask": "Rectangle",
}
_MASKS = {"PolylineMask", "BSplineMask", "EllipseMask", "RectangleMask"}
_MAIN_INPUT = {"Merge": "Background"}
TIME_UNDEFINED = -1e9
_EXR_CHANNELS = {f"OpenEXRFormat.{c}Enable" for c in ("Red", "Green", "Blue", "Alpha")}
# The inputs of each tool the fake offers (Fusion's IDs); AddTool answers None for other regids.
INPUTS: dict[str, set[str]] = {
    "Loader": {"Clip", "GlobalIn", "GlobalOut", "ClipTimeStart", "ClipTimeEnd", "HoldFirstFrame", "HoldLastFrame"},
    "MediaIn": {"GlobalIn", "GlobalOut", "ClipTimeStart", "ClipTimeEnd", "Layer"},
    "Saver": {"Input", "Clip", "OutputFormat", "CreateDir", "ProcessWhenBlendIs00"},
    "BetterResize": {"Input", "Width", "Height", "KeepAspect", "ResizeFilter", "EffectMask"},
    "ColorCorrector": {"Input", "EffectMask", "MasterRGBGain"},
    "Merge": {"Background", "Foreground", "EffectMask", "Blend"},
    "MediaOut": {"Input"},
}
for _mask in ("PolylineMask", "BSplineMask", "EllipseMask", "RectangleMask"):
    INPUTS[_mask] = {"Width", "Height", "UseFrameFormatSettings", "Level", "SoftEdge", "Invert", "EffectMask"}
for _inputs in INPUTS.values():
    _inputs.update({"Comments", "Blend"})


class Output:
    def __init__(self, tool: "Tool", name: str):
        self.tool, self.ID = tool, name

    def GetTool(self) -> "Tool":
        return self.tool

    def GetConnectedInputs(self) -> dict[float, "Input"]:
        found = [t.input(i) for t in self.tool.comp.tools.values() for i, o in t.links.items() if o is self]
        return {float(k + 1): inp for k, inp in enumerate(found)}


class Input:
    def __init__(self, tool: "Tool", name: str):
        self.tool, self.ID = tool, name

    def GetTool(self) -> "Tool":
        return self.tool

    def GetConnectedOutput(self) -> Output | None:
        return self.tool.links.get(self.ID)

    def ConnectTo(self, output: "Output | None") -> bool:
        calls.record(self.tool.name, f"{self.ID}.ConnectTo", output.tool.name if output else None)
        return self.tool._connect(self.ID, output)


class Tool:
    def __init__(self, comp: "Composition", regid: str, name: str):
        self.comp, self.regid, self.name = comp, regid, name
        self.inputs: dict[str, Any] = {"Comments": ""}
        self.links: dict[str, Output] = {}
        self.attrs: dict[str, Any] = {"TOOLB_PassThrough": False}
        self.selected = False
        self.deleted = False
        # Fake-only scene data: polygon points (0..1, y up) and per-frame motion for masks.
        self.points: list[tuple[float, float]] = []
        self.motion: tuple[float, float] = (0.0, 0.0)
        if regid in _MASKS:
            self.inputs.update({"Width": comp.format[0], "Height": comp.format[1]})
        if regid == "BetterResize":
            self.inputs.update({"Width": comp.format[0], "Height": comp.format[1], "KeepAspect": 0})
        if regid in ("Loader", "MediaIn"):
            self.inputs.update({"Clip": "", "GlobalIn": 0, "GlobalOut": 0})
        if regid == "Saver":
            self.inputs.update({"Clip": "", "OutputFormat": "OpenEXRFormat"})

    def __repr__(self) -> str:
        return f"<{self.regid} {self.name}>"

    def _alive(self) -> None:
        if self.deleted:
            raise RuntimeError(f"tool {self.name} was deleted")

    def GetAttrs(self, name: str | None = None) -> Any:
        self._alive()
        attrs = {"TOOLS_Name": self.name, "TOOLS_RegID": self.regid, "TOOLB_Selected": self.selected, **self.attrs}
        if self.regid == "Loader":
            attrs.update(self._clip_attrs())
        return attrs if name is None else attrs.get(name)

    def SetAttrs(self, attrs: dict[str, Any]) -> bool:
        self._alive()
        calls.record(self.name, "SetAttrs", dict(attrs))
        for key, value in attrs.items():
            if key == "TOOLS_Name":
                if value in self.comp.tools and self.comp.tools[value] is not self:
                    return False
                del self.comp.tools[self.name]
                self.name = value
                self.comp.tools[value] = self
            else:
                self.attrs[key] = value
        return True

    def has_input(self, name: str) -> bool:
        """Fake-only: whether this tool has an input ``name`` (a Saver's format inputs follow its format)."""
        if name in _EXR_CHANNELS:
            return self.regid == "Saver" and self.inputs.get("OutputFormat") == "OpenEXRFormat"
        return name in INPUTS.get(self.regid, set())

    def SetInput(self, name: str, value: Any, time: float | None = None) -> bool | None:
        self._alive()
        calls.record(self.name, "SetInput", name, value)
        if not self.has_input(name):
            self.comp.unknown_inputs.append(f"{self.name}.{name}")
            return None  # Fusion sets nothing and says nothing
        if isinstance(value, Output):
            return self._connect(name, value)
        self.inputs[name] = value
        return True

    def GetInput(self, name: str, time: float | None = None) -> Any:
        self._alive()
        return self.inputs.get(name)

    def ConnectInput(self, name: str, source: "Tool | Output | None") -> bool:
        self._alive()
        calls.record(self.name, "ConnectInput", name, getattr(source, "name", None) or getattr(source, "ID", None))
        if not self.has_input(name):
            self.comp.unknown_inputs.append(f"{self.name}.{name}")
            return False
        if isinstance(source, Tool):
            source = source.FindMainOutput(1)
        return self._connect(name, source)

    def _connect(self, name: str, output: Output | None) -> bool:
        if output is None:
            self.links.pop(name, None)
        else:
            self.links[name] = output
        return True

    def input(self, name: str) -> Input:
        return Input(self, name)

    def FindMainInput(self, index: int) -> Input | None:
        if self.regid in ("Loader", "MediaIn") or self.regid in _MASKS:
            return None if self.regid not in _MASKS else self.input("EffectMask")
        return self.input(_MAIN_INPUT.get(self.regid, "Input"))

    def FindMainOutput(self, index: int) -> Output | None:
        if self.regid in ("Saver", "MediaOut"):
            return None
        if "_main_output" not in self.__dict__:
            self._main_output = Output(self, "Mask" if self.regid in _MASKS else "Output")
        return self._main_output

    def Delete(self) -> None:
        calls.record(self.name, "Delete")
        for tool in self.comp.tools.values():
            for key in [k for k, o in tool.links.items() if o.tool is self]:
                del tool.links[key]
        del self.comp.tools[self.name]
        self.deleted = True

    # -- fake-only: what the tool's image is at comp time t -----------------------------------

    def _clip_sequence(self) -> tuple[str, int, int, int]:
        """(printf pattern, first file frame, last file frame, pad) of the Clip, found on disk."""
        clip = str(self.inputs.get("Clip") or "")
        stem, ext = os.path.splitext(clip)
        m = re.search(r"(\d+)$", stem)
        if not m:
            raise RuntimeError(f"{self.name}: Clip {clip!r} is not a numbered frame")
        head, pad = stem[: m.start()], len(m.group(1))
        rx = re.compile(re.escape(os.path.basename(head)) + r"(\d{%d})" % pad + re.escape(ext) + "$")
        frames = sorted(int(mm.group(1)) for f in os.listdir(os.path.dirname(clip) or ".") if (mm := rx.match(f)))
        if not frames:
            raise RuntimeError(f"{self.name}: no frames of {clip}")
        return f"{head}%0{pad}d{ext}", frames[0], frames[-1], pad

    def _clip_attrs(self) -> dict[str, Any]:
        try:
            pattern, first, last, _ = self._clip_sequence()
        except RuntimeError:
            return {}
        return {
            "TOOLST_Clip_Name": [pattern],
            "TOOLIT_Clip_StartFrame": [first],
            "TOOLIT_Clip_Length": [last - first + 1],
        }

    def source_file(self, t: int) -> str:
        pattern, first, last, _ = self._clip_sequence()
        frame = first + (t - int(self.inputs.get("GlobalIn", first)))
        if not first <= frame <= last:
            raise RuntimeError(f"{self.name}: comp frame {t} is outside its clip ({first}-{last})")
        return pattern % frame


class Composition:
    def __init__(
        self,
        fusion: "Fusion",
        name: str = "Composition1",
        render_range: tuple[int, int] = (1001, 1010),
        filename: str = "",
        frame_format: tuple[int, int] = (1920, 1080),
    ):
        self.fusion = fusion
        self.name = name
        self.filename = filename
        self.format = frame_format  # the comp's frame format: what new masks are sized to
        self.render_start, self.render_end = render_range
        self.tools: dict[str, Tool] = {}
        self.lock_depth = 0
        self.undo_stack: list[str] = []
        self.undo_history: list[tuple[str, bool]] = []
        self.renders: list[dict[str, Any]] = []
        self.unknown_inputs: list[str] = []
        self.refuse_tools: set[str] = set()  # fake-only: regids AddTool answers None for
        # Seconds per rendered frame (VOID_FAKE_FUSION_RENDER_S_PER_FRAME), so a test sees a long render.
        self.render_s_per_frame = float(os.environ.get("VOID_FAKE_FUSION_RENDER_S_PER_FRAME", "0"))
        self._render_thread: threading.Thread | None = None
        self._abort = threading.Event()
        self.render_failures: list[str] = []

    def GetAttrs(self, name: str | None = None) -> Any:
        attrs = {
            "COMPN_RenderStart": float(self.render_start),
            "COMPN_RenderEnd": float(self.render_end),
            "COMPN_GlobalStart": float(self.render_start),
            "COMPN_GlobalEnd": float(self.render_end),
            "COMPS_FileName": self.filename,
            "COMPS_Name": self.name,
            "COMPB_Locked": self.lock_depth > 0,
        }
        return attrs if name is None else attrs.get(name)

    def GetToolList(self, selected: bool = False, regid: str | None = None) -> dict[float, Tool]:
        tools = [t for t in self.tools.values() if (not selected or t.selected) and (regid is None or t.regid == regid)]
        return {float(i + 1): t for i, t in enumerate(tools)}

    def FindTool(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def AddTool(self, regid: str, x: float = -32768, y: float = -32768) -> Tool | None:
        calls.record(self.name, "AddTool", regid)
        if regid not in INPUTS or regid in self.refuse_tools:
            return None
        stem = _NAME_STEM.get(regid, regid)
        n = 1
        while f"{stem}{n}" in self.tools:
            n += 1
        tool = Tool(self, regid, f"{stem}{n}")
        self.tools[tool.name] = tool
        return tool

    def Lock(self) -> None:
        calls.record(self.name, "Lock")
        self.lock_depth += 1

    def Unlock(self) -> None:
        calls.record(self.name, "Unlock")
        self.lock_depth -= 1

    def StartUndo(self, name: str) -> None:
        calls.record(self.name, "StartUndo", name)
        self.undo_stack.append(name)

    def EndUndo(self, keep: bool = True) -> None:
        calls.record(self.name, "EndUndo", keep)
        self.undo_history.append((self.undo_stack.pop(), bool(keep)))

    def IsRendering(self) -> bool:
        return self._render_thread is not None and self._render_thread.is_alive()

    def AbortRender(self) -> None:
        calls.record(self.name, "AbortRender")
        self._abort.set()
        if self._render_thread is not None:
            self._render_thread.join(timeout=10)

    def Render(self, settings: dict[str, Any] | bool = True, *args: Any) -> bool:
        """``comp.Render({"Start", "End", "Tool", "Wait"})``: Savers write their frames.

        False when the render cannot start (as Fusion answers); with ``Wait`` False it runs in the
        background and a frame that fails is simply not written.
        """
        if not isinstance(settings, dict):
            return False  # this fake supports the table form only
        calls.record(self.name, "Render", dict(settings))
        self.renders.append(dict(settings))
        unknown = set(settings) - {"Start", "End", "Tool", "Wait", "Quiet", "FrameRange", "RenderAll", "Step"}
        if unknown or self.IsRendering():
            return False
        start = int(settings.get("Start", self.render_start))
        end = int(settings.get("End", self.render_end))
        savers = [settings["Tool"]] if "Tool" in settings else [t for t in self.tools.values() if t.regid == "Saver"]
        savers = [s for s in savers if not s.attrs.get("TOOLB_PassThrough")]  # pass-through Savers write nothing
        try:
            ops = [op for saver in savers for op in self._saver_ops(saver, start, end)]
        except (ValueError, RuntimeError) as exc:
            self.render_failures.append(str(exc))
            return False
        if settings.get("Wait"):
            try:
                self._run(ops)
            except Exception as exc:
                self.render_failures.append(str(exc))
                return False
            return True
        self._abort.clear()
        self._render_thread = threading.Thread(target=self._run_quietly, args=(ops,), daemon=True)
        self._render_thread.start()
        return True

    def _run(self, ops: list[dict[str, Any]]) -> None:
        if not self.render_s_per_frame:
            run_ops(ops)
            return
        for op in ops:
            if self._abort.is_set():
                return
            run_ops([op])
            time.sleep(self.render_s_per_frame)

    def _run_quietly(self, ops: list[dict[str, Any]]) -> None:
        try:
            self._run(ops)
        except Exception as exc:  # Fusion logs a failed frame to its console; the file is missing
            self.render_failures.append(str(exc))

    def _image_op(self, source: Tool, t: int, dst: str, channels: list[str] | None) -> dict[str, Any]:
        """What rendering ``source`` at comp time ``t`` into ``dst`` does."""
        if source.regid in ("Loader", "MediaIn"):
            return {"op": "copy", "src": source.source_file(t), "dst": dst, "channels": channels}
        if source.regid in _MASKS:
            dx, dy = source.motion
            k = t - self.render_start
            return {
                "op": "polygon",
                "points": [[x + dx * k, y + dy * k] for x, y in source.points],
                "width": int(source.inputs["Width"]),
                "height": int(source.inputs["Height"]),
                "dst": dst,
                "channels": channels or ["A"],
            }
        if source.regid == "BetterResize":
            upstream = source.links.get("Input")
            if upstream is None:
                raise ValueError(f"{source.name}: nothing connected to its Input")
            op = self._image_op(upstream.tool, t, dst, channels)
            if "size" in op:
                raise ValueError("this fake resizes once per chain")
            op["size"] = [int(source.inputs["Width"]), int(source.inputs["Height"])]
            return op
        raise ValueError(f"this fake cannot render a {source.regid}")

    def _saver_ops(self, saver: Tool, start: int, end: int) -> list[dict[str, Any]]:
        if saver.inputs.get("OutputFormat") != "OpenEXRFormat":
            raise ValueError(f"{saver.name}: this fake writes only OutputFormat = 'OpenEXRFormat'")
        out = saver.links.get("Input")
        if out is None:
            raise ValueError(f"{saver.name}: nothing connected to its Input")
        names = {"R": "Red", "G": "Green", "B": "Blue", "A": "Alpha"}
        enabled = [c for c in "RGBA" if saver.inputs.get(f"OpenEXRFormat.{names[c]}Enable", 1)]
        channels = None if len(enabled) == 4 else enabled
        return [
            self._image_op(out.tool, t, saver_path(str(saver.inputs["Clip"]), t), channels)
            for t in range(start, end + 1)
        ]


def saver_path(clip: str, frame: int) -> str:
    """Fusion's Saver naming: trailing digits of the name set the padding, else 4 digits are added."""
    stem, ext = os.path.splitext(clip)
    m = re.search(r"(\d+)$", stem)
    if m:
        return f"{stem[: m.start()]}{frame:0{len(m.group(1))}d}{ext}"
    return f"{stem}{frame:04d}{ext}"


class Fusion:
    def __init__(self, ui: UIManager | None = None):
        self.UIManager = ui if ui is not None else UIManager()
        self.comps: list[Composition] = []
        self.CurrentComp: Composition | None = None

    def NewComp(
        self,
        name: str = "Composition1",
        render_range: tuple[int, int] = (1001, 1010),
        filename: str = "",
        frame_format: tuple[int, int] = (1920, 1080),
    ) -> Composition:
        comp = Composition(self, name, render_range, filename, frame_format)
        self.comps.append(comp)
        self.CurrentComp = comp
        return comp

    def GetCurrentComp(self) -> Composition | None:
        return self.CurrentComp

    def GetCompList(self) -> dict[float, Composition]:
        return {float(i + 1): c for i, c in enumerate(self.comps)}


def add_polygon(
    comp: Composition,
    points: list[tuple[float, float]],
    *,
    name: str | None = None,
    size: tuple[int, int] | None = None,
    motion: tuple[float, float] = (0.0, 0.0),
    regid: str = "PolylineMask",
    comments: str = "",
) -> Tool:
    """Scene helper: a polygon mask as an artist would draw it (sized to the comp's format unless ``size``)."""
    tool = comp.AddTool(regid)
    assert tool is not None
    tool.points, tool.motion = list(points), motion
    width, height = size or comp.format
    tool.inputs.update({"Width": width, "Height": height, "Comments": comments})
    if name:
        tool.SetAttrs({"TOOLS_Name": name})
    return tool


def add_plate(
    comp: Composition, first_frame_path: str | Path, *, regid: str = "MediaIn", global_in: int | None = None
) -> Tool:
    """Scene helper: a MediaIn/Loader reading a frame sequence starting at comp frame ``global_in``."""
    tool = comp.AddTool(regid)
    assert tool is not None
    tool.inputs["Clip"] = str(first_frame_path)
    _, first, last, _ = tool._clip_sequence()
    start = first if global_in is None else global_in
    tool.inputs.update({"GlobalIn": start, "GlobalOut": start + last - first})
    return tool
