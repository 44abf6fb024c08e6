"""Fusion page: plate + marked masks -> EXR renders -> engine job -> result Loader in the comp.

Fusion's scripting objects have no published stubs (``fusionscript-stubs`` leaves ``Fusion``
and ``FusionComp`` empty), so they are ``Any`` here; the calls are the documented ones:
``GetToolList``, ``AddTool``, ``SetInput``/``GetInput``/``ConnectInput``, ``GetAttrs``/``SetAttrs``,
``comp.Render({"Start", "End", "Tool", "Wait"})``, ``Lock``/``Unlock``, ``StartUndo``/``EndUndo``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from bridge.sequences import frame_path

from .engine_job import EngineJob, Outcome
from .jobs import WorkDirs, build_spec, start_job, work_dirs
from .ranges import fusion_render_range
from .roles import AFFECTED, REMOVE, MaskError, MaskPick, Tagged, keyframes_tag, pick_masks, role_of, safe_name
from .sequences import FrameRange, require_frames, saver_clip
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


def find_plate(comp: Any) -> Any:
    """The plate: the selected MediaIn/Loader, else the only one in the comp."""
    plates = [t for t in tool_list(comp) if tool_regid(t) in PLATE_TOOLS]
    selected = [t for t in tool_list(comp, True) if tool_regid(t) in PLATE_TOOLS]
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


@contextmanager
def locked(comp: Any) -> Iterator[None]:
    comp.Lock()
    try:
        yield
    finally:
        comp.Unlock()


def add_exr_saver(comp: Any, source: Any, clip: str, what: str, matte: bool) -> Any:
    """A temporary Saver writing ``source`` to EXR frames named after ``clip``."""
    saver = comp.AddTool("Saver", -32768, -32768)
    if saver is None:
        raise CompError("Fusion would not add a Saver tool to this comp.")
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


def render_sources(
    comp: Any, sources: list[tuple[str, Any, str]], frames: FrameRange, only: dict[str, tuple[int, ...]] | None = None
) -> None:
    """Render each (what, tool, clip) to EXR over ``frames`` with temporary Savers
    (a ``what`` in ``only`` just on those frames: a roto's key frames).

    The artist's own Savers are set to pass-through meanwhile (a render must never overwrite
    their outputs) and restored after; the temporary Savers are deleted; the whole thing is one
    undo step that is discarded, so the comp ends as it began. The comp is locked only while
    tools are edited, not while Fusion renders.
    """
    comp.StartUndo("VOID render")
    savers: list[Any] = []
    muted: list[Any] = []
    try:
        with locked(comp):
            for tool in tool_list(comp):
                if tool_regid(tool) == "Saver" and not tool.GetAttrs().get("TOOLB_PassThrough"):
                    tool.SetAttrs({"TOOLB_PassThrough": True})
                    muted.append(tool)
            for what, source, clip in sources:
                savers.append(add_exr_saver(comp, source, clip, what, matte=what != "plate"))
        for (what, source, _), saver in zip(sources, savers):
            keys = (only or {}).get(what)
            spans = [(k, k) for k in keys] if keys else [(frames.first, frames.last)]
            for start, end in spans:
                ok = comp.Render({"Start": start, "End": end, "Tool": saver, "Wait": True})
                if not ok:
                    raise CompError(f"Fusion could not render the {what} ({tool_name(source)}) over {start}-{end}.")
    finally:
        with locked(comp):
            for saver in savers:
                saver.Delete()
            for tool in muted:
                tool.SetAttrs({"TOOLB_PassThrough": False})
        comp.EndUndo(False)


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

    def start(self, prompt: str) -> EngineJob:
        self.dirs = dirs = work_dirs(self._work_root(), self.shot)
        renders: dict[str, str] = {}
        sources = [("plate", self.plate), (REMOVE, self.masks.remove.item)]
        if self.masks.affected is not None:
            sources.append((AFFECTED, self.masks.affected.item))
        jobs = []
        for what, tool in sources:
            clip, renders[what] = saver_clip(dirs.inputs, f"{self.shot}_{what}")
            jobs.append((what, tool, clip))
        only = {REMOVE: self.keyframes} if self.keyframes else None
        render_sources(self.comp, jobs, self.frames, only)
        for what, pattern in renders.items():
            wanted = (only or {}).get(what) or self.frames.frames
            require_frames(pattern, wanted, f"the {what} render")
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

    def finish(self, outcome: Outcome) -> str:
        """Add a Loader on the result, placed at the render range, fed to the plate's outputs."""
        if outcome.pattern is None or not outcome.frames:
            raise CompError("the engine reported no result frames")
        first, last = outcome.frames[0], outcome.frames[-1]
        version = Path(outcome.pattern).parent.name
        name = safe_name(f"VOID_{self.shot}_{version}")
        with locked_undo(self.comp, "VOID result", keep=True):
            loader = self.comp.AddTool("Loader", -32768, -32768)
            loader.SetInput("Clip", frame_path(outcome.pattern, first))
            loader.SetAttrs({"TOOLS_Name": name})
            loader.SetInput("GlobalIn", first)
            loader.SetInput("GlobalOut", last)
            loader.SetInput("Comments", f"VOID job {outcome.job}: {outcome.pattern} {first}-{last}")
            rewired = self._feed_plate_outputs(loader)
        where = f", now feeding {', '.join(rewired)}" if rewired else ""
        return f"Done: Loader {name} reads {outcome.pattern} frames {first}-{last}{where}."

    def _feed_plate_outputs(self, loader: Any) -> list[str]:
        """Connect the Loader wherever the plate was connected (the plate itself stays)."""
        output = self.plate.FindMainOutput(1)
        if output is None:
            return []
        connected = output.GetConnectedInputs() or {}
        new_output = loader.FindMainOutput(1)
        rewired = []
        for key in sorted(connected):
            inp = connected[key]
            tool = inp.GetTool()
            if tool is None or tool_regid(tool) == "Saver":
                continue
            inp.ConnectTo(new_output)
            rewired.append(tool_name(tool))
        return rewired
