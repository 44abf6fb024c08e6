"""Fusion page: plate + marked masks -> EXR renders -> engine job -> result Loader in the comp.

Fusion's scripting objects have no published stubs (``fusionscript-stubs`` leaves ``Fusion``
and ``FusionComp`` empty), so they are ``Any`` here; the calls are the documented ones:
``GetToolList``, ``AddTool``, ``SetInput``/``GetInput``/``ConnectInput``, ``GetAttrs``/``SetAttrs``,
``comp.Render({"Start", "End", "Tool", "Wait"})``, ``comp.IsRendering()``, ``comp.AbortRender()``,
``Lock``/``Unlock``, ``StartUndo``/``EndUndo``.

Fusion answers failure with None/False rather than an error (``AddTool`` None, ``Render``
False), so every such answer is checked here.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from bridge.sequences import frame_path

from .engine_job import EngineJob, Outcome
from .exr_header import display_size
from .jobs import WorkDirs, build_spec, start_job, work_dirs
from .ranges import fusion_render_range
from .roles import AFFECTED, REMOVE, MaskError, MaskPick, Tagged, keyframes_tag, pick_masks, role_of, safe_name
from .sequences import missing_frames, require_frames, saver_clip
from .settings import Settings

PLATE_TOOLS = ("MediaIn", "Loader")
MASK_TOOLS = (
    "PolylineMask",
    "BSplineMask",
    "EllipseMask",
    "RectangleMask",
    "TriangleMask",
    "BitmapMask",
    "WandMask",
    "RangesMask",
    "MagicMask",
)
HOW_TO_MARK = (
    'Rename the mask tool to include the word "remove" (e.g. remove_car), or put '
    'void:remove in its Comments; an optional second mask marked "affected" covers shadows '
    "and reflections. A remove mask drawn on a few key frames only is marked "
    "void:keyframes 1001,1040 in its Comments; the engine spreads it over the range."
)
# A result Loader's Comments start with this tag and the shot's name: it is never a plate, and a
# later run of the same shot takes over its connections.
RESULT_TAG = "void:result"
_RESULT_TAG = re.compile(r"void:result\s+(\S+)")


class CompError(ValueError):
    """Something in the comp stops the job; the message tells the artist what to change."""


def tool_name(tool: Any) -> str:
    return str(tool.GetAttrs()["TOOLS_Name"])


def tool_regid(tool: Any) -> str:
    return str(tool.GetAttrs()["TOOLS_RegID"])


def tool_list(comp: Any, selected: bool = False) -> list[Any]:
    """Tools in creation order (Fusion returns a 1-based dict)."""
    tools = comp.GetToolList(selected) or {}
    return [tools[k] for k in sorted(tools)]


def _comments(tool: Any) -> str:
    try:
        value = tool.GetInput("Comments")
    except Exception:
        return ""
    return value if isinstance(value, str) else ""


def result_of(tool: Any) -> str | None:
    """The shot a VOID result Loader holds a version of (from its Comments tag); None for other tools."""
    m = _RESULT_TAG.search(_comments(tool))
    return m.group(1) if m else None


def _is_plate(tool: Any) -> bool:
    return tool_regid(tool) in PLATE_TOOLS and result_of(tool) is None


def find_plate(comp: Any) -> Any:
    """The plate: the selected MediaIn/Loader, else the only one in the comp (VOID results are not plates)."""
    plates = [t for t in tool_list(comp) if _is_plate(t)]
    selected = [t for t in tool_list(comp, True) if _is_plate(t)]
    if len(selected) == 1:
        return selected[0]
    if not plates:
        raise CompError("No plate in this comp: add a MediaIn or Loader with the shot.")
    if len(plates) > 1:
        names = ", ".join(tool_name(t) for t in plates)
        raise CompError(f"Several plates in this comp ({names}): select the MediaIn or Loader to clean.")
    return plates[0]


def find_masks(comp: Any) -> MaskPick[Any]:
    """The remove (and affected) mask tools, by name or ``void:`` comment tag."""
    candidates = []
    for tool in tool_list(comp):
        regid = tool_regid(tool)
        if regid in PLATE_TOOLS or regid == "Saver":
            continue
        role = role_of(tool_name(tool), _comments(tool))
        if regid in MASK_TOOLS or role is not None:
            candidates.append(Tagged(tool, tool_name(tool), role))
    if not candidates:
        raise CompError(
            "This comp has no mask. Draw a Polygon or B-Spline mask around the object, name it "
            '"remove" and run VOID Remove Object again.'
        )
    try:
        return pick_masks(candidates, "this comp", HOW_TO_MARK)
    except ValueError as exc:
        raise CompError(str(exc)) from None


@contextmanager
def locked_undo(comp: Any, name: str, keep: bool) -> Iterator[None]:
    """Lock the comp (no dialogs, no re-renders while we edit) inside one undo step."""
    comp.Lock()
    comp.StartUndo(name)
    try:
        yield
    finally:
        comp.EndUndo(keep)
        comp.Unlock()


def add_tool(comp: Any, regid: str, what: str) -> Any:
    """``comp.AddTool`` that says so when Fusion adds nothing (it answers None, not an error)."""
    tool = comp.AddTool(regid, -32768, -32768)
    if tool is None:
        raise CompError(f"Fusion would not add a {regid} tool to this comp (for the {what}).")
    return tool


def add_exr_saver(comp: Any, source: Any, clip: str, what: str, matte: bool) -> Any:
    """A temporary Saver writing ``source`` to EXR frames named after ``clip``."""
    saver = add_tool(comp, "Saver", what)
    saver.SetAttrs({"TOOLS_Name": f"VOID_tmp_{what}"})
    saver.SetInput("Clip", clip)
    saver.SetInput("OutputFormat", "OpenEXRFormat")
    if matte:
        # A mask tool's image is its alpha: write only A, so the matte is channel 0 of the
        # file whatever Fusion would put in RGB.
        for channel, enabled in (("Red", 0), ("Green", 0), ("Blue", 0), ("Alpha", 1)):
            saver.SetInput(f"OpenEXRFormat.{channel}Enable", enabled)
    saver.ConnectInput("Input", source)
    return saver


@dataclass
class RenderStep:
    """One temporary Saver and what it must write: ``spans`` of frames, files ``pattern``."""

    what: str
    source: Any
    pattern: str
    spans: list[tuple[int, int]]
    saver: Any = None
    resize: Any = None  # a matte's Resize to the plate's size (None for the plate)

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(f for a, b in self.spans for f in range(a, b + 1))


# After Render(Wait=False) returns, Fusion may report IsRendering() False for a moment before
# the render begins; a span counts as ended only once its frames are there or this has passed.
START_GRACE_S = 2.0


class FusionRenders:
    """The plate, then the mattes at the plate's size, rendered by Fusion without blocking its UI.

    A :class:`void_resolve.session.Pending`: each Saver renders with ``Wait=False`` and
    :meth:`poll` (from the window's timer, on the script's thread) starts the next span when
    ``comp.IsRendering()`` turns False. The mattes go through a Resize set to the plate's size,
    read from the rendered plate's header (a mask renders at its own Width/Height, the comp's
    frame format, which need not be the plate's). The artist's Savers are passed through
    meanwhile; the comp ends as it began (each edit is one discarded undo step).
    """

    def __init__(
        self,
        comp: Any,
        steps: list[RenderStep],
        timeout_s: float,
        submit: Callable[[dict[str, str]], EngineJob],
    ):
        self.comp, self.steps, self.submit = comp, steps, submit
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.queue = [(step, a, b) for step in steps for a, b in step.spans]
        self.current: tuple[RenderStep, int, int] | None = None
        self.started = 0.0
        self.muted: list[Any] = []
        self.temp: list[Any] = []
        self.finished = False
        try:
            self._set_up()
            self._start_next()
        except BaseException:
            self._clean_up()
            raise

    def _set_up(self) -> None:
        with locked_undo(self.comp, "VOID render", keep=False):
            for tool in tool_list(self.comp):
                if tool_regid(tool) == "Saver" and not tool.GetAttrs().get("TOOLB_PassThrough"):
                    tool.SetAttrs({"TOOLB_PassThrough": True})
                    self.muted.append(tool)
            for step in self.steps:
                source = step.source
                if step.what != "plate":
                    step.resize = add_tool(self.comp, "BetterResize", f"{step.what} matte")
                    self.temp.append(step.resize)
                    step.resize.SetAttrs({"TOOLS_Name": f"VOID_tmp_{step.what}_resize"})
                    step.resize.SetInput("KeepAspect", 0)  # a mask spans the frame: stretch it to the plate
                    step.resize.ConnectInput("Input", source)
                    source = step.resize
                step.saver = add_exr_saver(
                    self.comp, source, saver_clip_of(step.pattern), step.what, step.what != "plate"
                )
                self.temp.append(step.saver)

    def _size_mattes_to(self, plate: RenderStep) -> None:
        first = frame_path(plate.pattern, plate.frames[0])
        try:
            width, height = display_size(first)
        except ValueError as exc:
            raise CompError(f"The plate render cannot be read: {exc}") from None
        with locked_undo(self.comp, "VOID render", keep=False):
            for step in self.steps:
                if step.resize is not None:
                    step.resize.SetInput("Width", width)
                    step.resize.SetInput("Height", height)

    def _start_next(self) -> bool:
        """Start the next span's render; False when every span is rendered."""
        if not self.queue:
            self.current = None
            return False
        step, start, end = self.current = self.queue.pop(0)
        self.started = time.monotonic()
        if not self.comp.Render({"Start": start, "End": end, "Tool": step.saver, "Wait": False}):
            raise CompError(f"Fusion could not render the {step.what} ({tool_name(step.source)}) over {start}-{end}.")
        return True

    def _span_ended(self, step: RenderStep, start: int, end: int) -> bool:
        if self.comp.IsRendering():
            return False
        whole = not missing_frames(step.pattern, range(start, end + 1))
        return whole or time.monotonic() - self.started > START_GRACE_S

    def poll(self) -> EngineJob | None:
        """None while Fusion renders; the engine job once every frame is written."""
        if self.finished or self.current is None:
            raise CompError("the renders were already handed over or stopped")
        try:
            step, start, end = self.current
            if not self._span_ended(step, start, end):
                if time.monotonic() > self.deadline:
                    self.abort()
                    raise CompError(f"Fusion's render took longer than {self.timeout_s:g} s and was stopped.")
                return None
            require_frames(step.pattern, range(start, end + 1), f"the {step.what} render")
            if step.what == "plate" and not any(s is step for s, _, _ in self.queue):
                self._size_mattes_to(step)
            if self._start_next():
                return None
            self._clean_up()
            return self.submit({s.what: s.pattern for s in self.steps})
        except BaseException:
            self._clean_up()
            raise

    def progress_text(self) -> str:
        if self.current is None:
            return "Fusion's renders are done."
        step = self.current[0]
        done = len(step.frames) - len(missing_frames(step.pattern, step.frames))
        return f"Fusion is rendering the {step.what}... {done}/{len(step.frames)} frames"

    def abort(self) -> None:
        """Stop Fusion's render and remove the temporary tools (the artist cancelled)."""
        if not self.finished:
            if self.comp.IsRendering():
                self.comp.AbortRender()
            self._clean_up()

    def _clean_up(self) -> None:
        if self.finished:
            return
        self.finished = True
        with locked_undo(self.comp, "VOID render", keep=False):
            for tool in reversed(self.temp):
                tool.Delete()
            for tool in self.muted:
                tool.SetAttrs({"TOOLB_PassThrough": False})
        self.temp, self.muted = [], []


def saver_clip_of(pattern: str) -> str:
    """The Saver ``Clip`` that writes ``pattern`` (``x.####.exr`` -> ``x.0000.exr``)."""
    m = re.search(r"#+", pattern)
    if not m:
        raise CompError(f"render pattern {pattern!r} has no frame token")
    return pattern[: m.start()] + "0" * len(m.group(0)) + pattern[m.end() :]


@dataclass
class FusionRemoveAction:
    """The Fusion-page action (see :class:`void_resolve.session.Action`)."""

    comp: Any
    settings: Settings
    title: str = "VOID Remove Object"

    def __post_init__(self) -> None:
        self.plate = find_plate(self.comp)
        self.masks = find_masks(self.comp)
        try:
            self.frames = fusion_render_range(self.comp.GetAttrs())
        except ValueError as exc:
            raise CompError(str(exc)) from None
        self.shot = safe_name(tool_name(self.plate))
        self.dirs: WorkDirs | None = None
        try:
            self.keyframes = keyframes_tag(_comments(self.masks.remove.item))
        except MaskError as exc:
            raise CompError(f"{self.masks.remove.name}: {exc}") from None
        outside = [k for k in self.keyframes if not self.frames.first <= k <= self.frames.last]
        if outside:
            raise CompError(
                f"Key frame {outside[0]} of {self.masks.remove.name} is outside the render range "
                f"{self.frames}: change the tag or the range."
            )
        if self.keyframes and self.masks.affected is not None:
            raise CompError(
                f"{self.masks.remove.name} is a roto on key frames; the engine spreads it over the "
                f"range, so the affected mask {self.masks.affected.name} cannot go with it. Unmark it."
            )

    def _work_root(self) -> Path:
        if self.settings.work_dir is not None:
            return self.settings.work_dir
        comp_file = str(self.comp.GetAttrs().get("COMPS_FileName") or "")
        if comp_file:
            return Path(comp_file).parent / "void"
        return Path.home() / "void-bridge" / "work"

    def summary(self) -> str:
        affected = self.masks.affected.name if self.masks.affected else "none"
        keys = f" (roto on key frames {', '.join(map(str, self.keyframes))})" if self.keyframes else ""
        return (
            f"Plate {tool_name(self.plate)}, remove mask {self.masks.remove.name}{keys}, affected mask "
            f"{affected}, frames {self.frames} ({len(self.frames)}){', pass 2' if self.settings.pass2 else ''}."
        )

    def start(self, prompt: str) -> FusionRenders:
        self.dirs = dirs = work_dirs(self._work_root(), self.shot)
        sources = [("plate", self.plate), (REMOVE, self.masks.remove.item)]
        if self.masks.affected is not None:
            sources.append((AFFECTED, self.masks.affected.item))
        steps = []
        for what, tool in sources:
            _, pattern = saver_clip(dirs.inputs, f"{self.shot}_{what}")
            keys = self.keyframes if what == REMOVE else ()
            spans = [(k, k) for k in keys] if keys else [(self.frames.first, self.frames.last)]
            steps.append(RenderStep(what, tool, pattern, spans))

        def submit(renders: dict[str, str]) -> EngineJob:
            spec = build_spec(
                self.settings,
                plate=renders["plate"],
                frames=self.frames.frames,
                prompt=prompt,
                name=f"{self.shot}_void",
                remove=renders[REMOVE],
                affected=renders.get(AFFECTED),
                out=dirs.results,
                keyframes=self.keyframes,
            )
            return start_job(spec, self.settings, dirs)

        return FusionRenders(self.comp, steps, self.settings.render_timeout_s, submit)

    def release(self, state: str) -> None:
        if self.dirs is not None:
            self.dirs.discard_inputs(state)

    def finish(self, outcome: Outcome) -> str:
        """Add a Loader on the result, placed at the render range, fed where the plate (or this
        shot's previous VOID result) was connected."""
        if outcome.pattern is None or not outcome.frames:
            raise CompError("the engine reported no result frames")
        first, last = outcome.frames[0], outcome.frames[-1]
        version = outcome.version or Path(outcome.pattern).parent.name
        name = safe_name(f"VOID_{self.shot}_{version}")
        with locked_undo(self.comp, "VOID result", keep=True):
            loader = add_tool(self.comp, "Loader", "result")
            loader.SetInput("Clip", frame_path(outcome.pattern, first))
            loader.SetAttrs({"TOOLS_Name": name})
            loader.SetInput("GlobalIn", first)
            loader.SetInput("GlobalOut", last)
            loader.SetInput(
                "Comments", f"{RESULT_TAG} {self.shot} (VOID job {outcome.job}: {outcome.pattern} {first}-{last})"
            )
            rewired = self._feed_plate_outputs(loader)
        where = f", now feeding {', '.join(rewired)}" if rewired else ""
        return f"Done: Loader {name} reads {outcome.pattern} frames {first}-{last}{where}."

    def _feed_plate_outputs(self, loader: Any) -> list[str]:
        """Connect the Loader wherever the plate or an earlier result of this shot was connected
        (those tools stay, unconnected there)."""
        earlier = [t for t in tool_list(self.comp) if t is not loader and result_of(t) == self.shot]
        new_output = loader.FindMainOutput(1)
        rewired = []
        for tool in [self.plate, *earlier]:
            output = tool.FindMainOutput(1)
            connected = (output.GetConnectedInputs() or {}) if output is not None else {}
            for key in sorted(connected):
                inp = connected[key]
                target = inp.GetTool()
                if target is None or tool_regid(target) == "Saver" or result_of(target) is not None:
                    continue
                inp.ConnectTo(new_output)
                rewired.append(tool_name(target))
        return rewired
