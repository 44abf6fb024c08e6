"""Edit page: the clip under the playhead -> engine job -> versioned media-pool item on the track above.

The plate is the clip's source media over the cut plus handles (``GetSourceStartFrame``,
``GetDuration``, ``GetLeftOffset``/``GetRightOffset``). An image sequence goes to the engine as
it is; other media (a movie) is first rendered to EXR through the render queue from a
temporary timeline holding just those source frames, at the source's resolution, and the
project's render settings are put back afterwards. The mattes are the clip's **clip mattes**
(Media Pool > right-click > Mattes), marked remove/affected by name, numbered like the source.
Resolve answers failure with None / False / [] rather than an error; every answer is checked.

Typed against ``fusionscript-stubs`` (mypy runs in ``make test``), so a misspelt API call fails
CI even where the test fakes would accept it.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, cast

from .engine_job import EngineJob, Outcome
from .jobs import WorkDirs, build_spec, start_job, work_dirs
from .ranges import ClipCut, HandlePlan, plan_handles
from .roles import (
    AFFECTED,
    REMOVE,
    MaskPick,
    Tagged,
    is_keyframe_roto,
    next_version_name,
    pick_masks,
    role_of,
    safe_name,
)
from .sequences import (
    FrameRange,
    MediaSequence,
    find_rendered,
    missing_frames,
    parse_resolve_path,
    printf_pattern,
    renumber,
    require_frames,
)
from .settings import Settings

if TYPE_CHECKING:
    from fusionscript import (
        Folder,
        MediaPool,
        MediaPoolClipInfo,
        MediaPoolItem,
        Project,
        RenderSettings,
        Resolve,
        Timeline,
        TimelineItem,
    )

BIN_NAME = "VOID"
HOW_TO_MARK = (
    "Attach the matte to the clip (Media Pool > right-click the clip > Mattes > Add Matte) with "
    '"remove" in its file name; an optional matte with "affected" in its name covers '
    'shadows and reflections. A remove matte drawn on a few key frames only has "keys" in its '
    "name too (remove_keys.1001.exr); the engine spreads it over the shot."
)


class EditPageError(ValueError):
    """Something on the timeline stops the job; the message says what to change."""


def _prop(item: "MediaPoolItem", name: str) -> str:
    value = item.GetClipProperty(name)
    return value if isinstance(value, str) else ""


def _int_prop(item: "MediaPoolItem", name: str) -> int | None:
    text = _prop(item, name).strip()
    return int(text) if text.lstrip("-").isdigit() else None


def clip_origin(media: "MediaPoolItem", first_file: int) -> int:
    """The number Resolve gives the clip's first frame (``GetSourceStartFrame`` and
    ``AppendToTimeline`` count in it): the clip's ``Start`` property, else ``End`` - ``Frames`` + 1,
    else ``first_file``.

    Whether Resolve counts an image sequence from its first file's number or from 0 is not
    documented; the clip's own properties say which, so both work.
    """
    start = _int_prop(media, "Start")
    if start is not None:
        return start
    end, count = _int_prop(media, "End"), _int_prop(media, "Frames")
    if end is not None and count:
        return end - count + 1
    return first_file


_VOID_RESULT = re.compile(r"_void_v\d+(_\d+)?$")


def is_void_result(media: "MediaPoolItem") -> bool:
    """Whether a media pool item is a VOID result (``<shot>_void_v003``, ``<shot>_void_v003_2``),
    never a shot to clean."""
    return bool(_VOID_RESULT.search(os.path.splitext(str(media.GetName()))[0]))


def clip_resolution(media: "MediaPoolItem") -> tuple[int, int]:
    """(width, height) of a clip from its ``Resolution`` property (``"3840x2160"``)."""
    text = _prop(media, "Resolution")
    m = re.match(r"\s*(\d+)\s*[x×X]\s*(\d+)", text)
    if not m:
        raise EditPageError(
            f'Cannot read the resolution of "{media.GetName()}" (its Resolution property is {text!r}); '
            "the plate must be rendered at the source's size to match its mattes."
        )
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class Matte:
    """One clip matte: a sequence (or single file) on disk."""

    path: str
    sequence: MediaSequence | None


def current_clip(resolve: "Resolve") -> tuple["Project", "Timeline", "TimelineItem", "MediaPoolItem"]:
    """The project, timeline, video item under the playhead and its media; EditPageError otherwise."""
    project = resolve.GetProjectManager().GetCurrentProject()
    if not project:
        raise EditPageError("No project is open.")
    timeline = project.GetCurrentTimeline()
    if not timeline:
        raise EditPageError("No timeline is open: open the edit with the shot to clean.")
    item = timeline.GetCurrentVideoItem()
    if not item:
        raise EditPageError("No clip under the playhead: park the playhead on the shot to clean.")
    media = item.GetMediaPoolItem()
    if media and is_void_result(media):
        # An earlier run's result lies on top of the shot: run again on the clip below it.
        item, media = clip_under(timeline, item)
    if not media:
        raise EditPageError(f'"{item.GetName()}" is not a media clip (a title, generator or compound clip).')
    return project, timeline, item, media


def clip_under(timeline: "Timeline", result: "TimelineItem") -> tuple["TimelineItem", "MediaPoolItem"]:
    """The nearest clip below the VOID result ``result`` at its first record frame (not a result itself)."""
    record = int(result.GetStart(False))
    _, track = result.GetTrackTypeAndIndex()
    for index in range(int(track) - 1, 0, -1):
        for other in timeline.GetItemListInTrack("video", index) or []:
            if int(other.GetStart(False)) <= record < int(other.GetEnd(False)):
                media = other.GetMediaPoolItem()
                if media and not is_void_result(media):
                    return other, media
    raise EditPageError(
        f'"{result.GetName()}" under the playhead is a VOID result with no source clip below it: '
        "park the playhead on the shot to clean."
    )


def clip_cut(item: "TimelineItem") -> ClipCut:
    """How ``item`` uses its media, from the documented TimelineItem calls (whole frames)."""
    return ClipCut(
        record_start=int(item.GetStart(False)),
        duration=int(item.GetDuration(False)),
        source_start=int(item.GetSourceStartFrame()),
        left_available=int(item.GetLeftOffset(False)),
        right_available=int(item.GetRightOffset(False)),
    )


def api_origin(cut: ClipCut) -> int:
    """The number ``GetSourceStartFrame`` gives the media's first frame: the cut's first source
    frame less the media frames before it (``GetLeftOffset``). Measured, not assumed."""
    return cut.source_start - cut.left_available


def source_to_file(cut: ClipCut, seq: MediaSequence | None, frames: FrameRange) -> FrameRange:
    """Source frames (as ``GetSourceStartFrame`` counts) -> file frame numbers of the sequence,
    whose first file is the media's first frame."""
    if seq is None:
        return frames
    shift = seq.range.first - api_origin(cut)
    return FrameRange(frames.first + shift, frames.last + shift)


def clip_mattes(media_pool: "MediaPool", media: "MediaPoolItem") -> MaskPick[Matte]:
    """The clip mattes of ``media``, by role."""
    candidates = []
    for path in media_pool.GetClipMatteList(media) or []:
        name = os.path.basename(str(path))
        candidates.append(Tagged(Matte(str(path), parse_resolve_path(str(path))), name, role_of(name)))
    if not candidates:
        raise EditPageError(f'The clip "{media.GetName()}" has no matte. {HOW_TO_MARK}')
    try:
        return pick_masks(candidates, f'the mattes of "{media.GetName()}"', HOW_TO_MARK)
    except ValueError as exc:
        raise EditPageError(str(exc)) from None


def matte_keyframes(matte: Matte, frames: FrameRange, name: str) -> tuple[int, ...]:
    """The frames of ``frames`` a key-frame roto matte holds; EditPageError when it holds none."""
    if matte.sequence is None:
        raise EditPageError(
            f"The key-frame matte {name} is a single file; number it like the source "
            "(remove_keys.1001.exr) so VOID knows its frame."
        )
    absent = set(missing_frames(matte.sequence.pattern, frames.frames))
    held = tuple(f for f in frames.frames if f not in absent)
    if not held:
        raise EditPageError(f"The key-frame matte {name} holds none of the frames sent ({frames}).")
    return held


def matte_pattern(matte: Matte, frames: FrameRange, what: str) -> str:
    """The matte's sequence pattern, checked to hold every frame sent."""
    if matte.sequence is None:
        raise EditPageError(
            f"The {what} matte {matte.path} is a single file; VOID needs a matte per frame "
            "(an image sequence numbered like the source)."
        )
    require_frames(matte.sequence.pattern, frames.frames, f"the {what} matte")
    return matte.sequence.pattern


def pick_exr_codec(project: "Project") -> str:
    """An EXR codec of this Resolve (names differ by version): half float with ZIP/PIZ if offered."""
    codecs = project.GetRenderCodecs("exr") or {}
    names = list(codecs.values())
    if not names:
        raise EditPageError("This Resolve offers no EXR render format.")
    for want in ("HalfZIP", "HalfPIZ", "Half"):
        for name in names:
            if want.lower() in name.replace(" ", "").lower():
                return name
    return names[0]


class RenderSettingsKeeper:
    """The project's render settings as found, and putting them back.

    Resolve has getters for the format/codec and the render mode only; everything else
    (range, folder, name, resolution, audio...) is kept by saving it as a render preset, loaded
    back afterwards and then deleted.
    """

    def __init__(self, project: "Project"):
        self.project = project
        found = project.GetCurrentRenderFormatAndCodec() or {}
        self.format, self.codec = str(found.get("format") or ""), str(found.get("codec") or "")
        self.mode = project.GetCurrentRenderMode()
        self.preset = f"VOID keep {time.strftime('%Y%m%d-%H%M%S')} {uuid.uuid4().hex[:6]}"
        if not project.SaveAsNewRenderPreset(self.preset):
            raise EditPageError(
                "Resolve would not save the project's render settings as a preset, so they could not be "
                "put back after the EXR render; nothing was changed."
            )

    def restore(self) -> str | None:
        """Put the settings back; None when all went back, else what to tell the artist."""
        failed = []
        if not self.project.LoadRenderPreset(self.preset):
            failed.append("the render settings")
        if self.format and self.codec and not self.project.SetCurrentRenderFormatAndCodec(self.format, self.codec):
            failed.append(f"the format {self.format}/{self.codec}")
        if self.mode in (0, 1) and not self.project.SetCurrentRenderMode(self.mode):
            failed.append(f"the render mode {self.mode}")
        if failed:
            return (
                f"Resolve would not put back {', '.join(failed)} after the EXR render: load the render "
                f'preset "{self.preset}" on the Deliver page.'
            )
        self.project.DeleteRenderPreset(self.preset)
        return None


class SourceRender:
    """Source frames of a clip rendered to EXR through Resolve's render queue, polled, not waited on.

    A temporary timeline holds exactly those source frames and one render job covers it, at the
    source's resolution (the mattes are that size; the timeline's may differ); the artist's
    timeline is current again as soon as the job is queued. When the render ends the temporary
    timeline and job are deleted and the project's render settings put back as they were.
    :meth:`poll` (on the script's thread, from the window's timer) returns None while Resolve
    renders, then the EXR sequence numbered like the source.
    """

    def __init__(
        self,
        project: "Project",
        media_pool: "MediaPool",
        media: "MediaPoolItem",
        source: FrameRange,
        folder: Path,
        name: str,
        timeout_s: float,
    ):
        self.project, self.media_pool, self.media = project, media_pool, media
        self.source, self.folder, self.name = source, folder, name
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.job_id = ""
        self.finished = False
        self.keeper: RenderSettingsKeeper | None = None
        self.restore_problem: str | None = None
        width, height = clip_resolution(media)
        original = project.GetCurrentTimeline()
        temp = media_pool.CreateEmptyTimeline(f"VOID render {name} {time.strftime('%H%M%S')}")
        if not temp:
            raise EditPageError("Resolve would not create the temporary timeline for the EXR render.")
        self.temp: "Timeline | None" = temp
        try:
            project.SetCurrentTimeline(temp)
            start = int(temp.GetStartFrame())
            info: MediaPoolClipInfo = {
                "mediaPoolItem": media,
                "startFrame": source.first,
                "endFrame": source.last + 1,
                "mediaType": 1,
                "trackIndex": 1,
                "recordFrame": start,
            }
            if not _append(media_pool, [info]):
                raise EditPageError(
                    f'Resolve would not place source frames {source} of "{media.GetName()}" on the render timeline.'
                )
            self.keeper = RenderSettingsKeeper(project)
            if not project.SetCurrentRenderFormatAndCodec("exr", pick_exr_codec(project)):
                raise EditPageError("Resolve would not switch the render format to EXR.")
            if not project.SetCurrentRenderMode(1):
                raise EditPageError("Resolve would not switch the render mode to a single clip.")
            # The temporary timeline holds exactly the frames wanted: render all of it (no marks
            # to set), at the source's size.
            settings = cast(
                "RenderSettings",
                {
                    "SelectAllFrames": True,
                    "TargetDir": str(folder),
                    "CustomName": name,
                    "ExportVideo": True,
                    "ExportAudio": False,
                    "FormatWidth": width,
                    "FormatHeight": height,
                },
            )
            if not project.SetRenderSettings(settings):
                raise EditPageError("Resolve refused the render settings for the EXR plate.")
            self.job_id = project.AddRenderJob()
            if not self.job_id or not project.StartRendering([self.job_id], False):
                raise EditPageError("Resolve would not start rendering the EXR plate.")
        except BaseException:
            self._clean_up()
            raise
        finally:
            if original:
                project.SetCurrentTimeline(original)

    def _status(self) -> "dict[str, Any]":
        return cast("dict[str, Any]", self.project.GetRenderJobStatus(self.job_id) or {})

    def progress_text(self) -> str:
        pct = self._status().get("CompletionPercentage")
        return f"Rendering the source to EXR in Resolve's render queue... {pct or 0}%"

    def _clean_up(self) -> None:
        self.finished = True
        if self.job_id:
            self.project.DeleteRenderJob(self.job_id)
            self.job_id = ""
        if self.temp is not None:
            self.media_pool.DeleteTimelines([self.temp])
            self.temp = None
        if self.keeper is not None:
            self.restore_problem = self.keeper.restore()
            self.keeper = None
            if self.restore_problem:
                print(f"[VOID] {self.restore_problem}", flush=True)

    def abort(self) -> None:
        """Stop the render and remove what it queued (the artist cancelled)."""
        if not self.finished:
            self.project.StopRendering()
            self._clean_up()

    def poll(self) -> MediaSequence | None:
        """None while Resolve renders; the plate sequence when done; EditPageError when it failed."""
        if self.project.IsRenderingInProgress():
            if time.monotonic() > self.deadline:
                self.abort()
                raise EditPageError(f"The EXR render took longer than {self.timeout_s:g} s and was stopped.")
            return None
        status = self._status()
        self._clean_up()
        if self.restore_problem:
            raise EditPageError(self.restore_problem)
        if str(status.get("JobStatus", "")).lower() not in ("complete", "completed"):
            raise EditPageError(
                f'The EXR render of "{self.media.GetName()}" ended as '
                f"{status.get('JobStatus')!r}: {status.get('Error', 'no reason given')}"
            )
        rendered = find_rendered(self.folder, self.name)
        if len(rendered.range) != len(self.source):
            raise EditPageError(f"The render wrote {len(rendered.range)} frames; {len(self.source)} were asked for.")
        return renumber(rendered, str(self.folder / f"{self.name}.{'#' * 6}.exr"), self.source.first)


class PlateThenJob:
    """The Edit page's pending start: the render queue first, then the engine job (see session.Pending)."""

    def __init__(self, render: SourceRender, submit: Callable[[str], EngineJob]):
        self.render, self.submit = render, submit

    def progress_text(self) -> str:
        return self.render.progress_text()

    def abort(self) -> None:
        self.render.abort()

    def poll(self) -> EngineJob | None:
        plate = self.render.poll()
        return None if plate is None else self.submit(plate.pattern)


def _append(media_pool: "MediaPool", infos: "list[MediaPoolClipInfo]") -> "list[TimelineItem]":
    # fusionscript-stubs' clip-info overload of AppendToTimeline has an invalid return type
    # (``[TimelineItem]``), so mypy drops it; call through the documented signature instead.
    append = cast("Callable[[list[MediaPoolClipInfo]], list[TimelineItem]]", media_pool.AppendToTimeline)
    return list(append(infos) or [])


def unique_name(name: str, taken: "list[str]") -> str:
    """``name``, or ``name_2``, ``name_3``... when the bin holds it already (results from a work
    folder that was emptied start again at v001)."""
    n = 1
    found = name
    while found in taken:
        n += 1
        found = f"{name}_{n}"
    return found


def void_bin(media_pool: "MediaPool") -> "Folder":
    """The "VOID" bin under the media pool's root, made when missing."""
    root = media_pool.GetRootFolder()
    for folder in root.GetSubFolderList() or []:
        if folder.GetName() == BIN_NAME:
            return folder
    made = media_pool.AddSubFolder(root, BIN_NAME)
    if not made:
        raise EditPageError(f'Resolve would not make the "{BIN_NAME}" bin in the media pool.')
    return made


def free_track_above(timeline: "Timeline", track: int, start: int, end: int) -> int:
    """The first video track above ``track`` with nothing in [start, end); adds one if none."""
    count = timeline.GetTrackCount("video")
    for index in range(track + 1, count + 1):
        items = timeline.GetItemListInTrack("video", index) or []
        if all(int(i.GetEnd(False)) <= start or int(i.GetStart(False)) >= end for i in items):
            return index
    # The README documents AddTrack(trackType[, subTrackType]) with the sub-type for audio only;
    # the stubs make it required, so call the documented one-argument form through a cast.
    add_track = cast("Callable[[str], bool]", timeline.AddTrack)
    if not add_track("video"):
        raise EditPageError("Resolve would not add a video track for the result.")
    return count + 1


@dataclass
class EditRemoveAction:
    """The Edit-page action (see :class:`void_resolve.session.Action`)."""

    resolve: "Resolve"
    settings: Settings
    title: str = "VOID Remove Object"

    def __post_init__(self) -> None:
        self.project, self.timeline, self.item, self.media = current_clip(self.resolve)
        self.media_pool = self.project.GetMediaPool()
        _, track = self.item.GetTrackTypeAndIndex()
        self.track = int(track)
        try:
            self.plan: HandlePlan = plan_handles(clip_cut(self.item), self.settings.handles)
        except ValueError as exc:
            raise EditPageError(f'"{self.item.GetName()}": {exc}') from None
        self.sequence = parse_resolve_path(_prop(self.media, "File Path"))
        self.files = source_to_file(self.plan.cut, self.sequence, self.plan.source)
        # How far the calls' counting is from the clip's properties (0 unless Resolve counts
        # one way in GetSourceStartFrame and shows another in Start): applied to the result too.
        first_file = self.sequence.range.first if self.sequence else 0
        self.count_shift = api_origin(self.plan.cut) - clip_origin(self.media, first_file)
        self.mattes = clip_mattes(self.media_pool, self.media)
        self.keyframes: tuple[int, ...] = ()
        if is_keyframe_roto(self.mattes.remove.name):
            if self.mattes.affected is not None:
                raise EditPageError(
                    f"{self.mattes.remove.name} is a roto on key frames; the engine spreads it over "
                    f"the shot, so the affected matte {self.mattes.affected.name} cannot go with it."
                )
            self.keyframes = matte_keyframes(self.mattes.remove.item, self.files, self.mattes.remove.name)
        self.shot = safe_name(os.path.splitext(self.media.GetName())[0].split("[")[0].rstrip("._"))
        self.dirs: WorkDirs | None = None

    def summary(self) -> str:
        cut = self.plan.cut
        affected = self.mattes.affected.name if self.mattes.affected else "none"
        return (
            f'Clip "{self.item.GetName()}" on V{self.track}, record {cut.record_start}+{cut.duration}, '
            f"source frames {self.files} with handles {self.plan.left}/{self.plan.right}; "
            f"remove matte {self.mattes.remove.name}, affected matte {affected}."
        )

    def _work_root(self) -> Path:
        return self.settings.work_dir or Path.home() / "void-bridge" / "work"

    def start(self, prompt: str) -> "EngineJob | PlateThenJob":
        self.dirs = dirs = work_dirs(self._work_root(), self.shot)
        if self.keyframes:
            sequence = self.mattes.remove.item.sequence
            assert sequence is not None  # matte_keyframes checked it
            remove = sequence.pattern
        else:
            remove = matte_pattern(self.mattes.remove.item, self.files, REMOVE)
        affected = matte_pattern(self.mattes.affected.item, self.files, AFFECTED) if self.mattes.affected else None

        def submit(plate: str) -> EngineJob:
            spec = build_spec(
                self.settings,
                plate=plate,
                frames=self.files.frames,
                prompt=prompt,
                name=f"{self.shot}_void",
                remove=remove,
                affected=affected,
                out=dirs.results,
                keyframes=self.keyframes,
            )
            return start_job(spec, self.settings, dirs)

        if self.sequence is not None:
            require_frames(self.sequence.pattern, self.files.frames, "the source media")
            return submit(self.sequence.pattern)
        render = SourceRender(
            self.project,
            self.media_pool,
            self.media,
            self.files,
            dirs.inputs,
            f"{self.shot}_plate",
            self.settings.render_timeout_s,
        )
        return PlateThenJob(render, submit)

    def release(self, state: str) -> None:
        if self.dirs is not None:
            self.dirs.discard_inputs(state)

    def finish(self, outcome: Outcome) -> str:
        """Import the result into the VOID bin and lay it on the track above, same record frames."""
        if outcome.pattern is None or not outcome.frames:
            raise EditPageError("the engine reported no result frames")
        first, last = outcome.frames[0], outcome.frames[-1]
        folder = void_bin(self.media_pool)
        previous = self.media_pool.GetCurrentFolder()
        self.media_pool.SetCurrentFolder(folder)
        try:
            imported = self.media_pool.ImportMedia(
                [{"FilePath": printf_pattern(outcome.pattern), "StartIndex": first, "EndIndex": last}]
            )
        finally:
            if previous:
                self.media_pool.SetCurrentFolder(previous)
        if not imported:
            raise EditPageError(f"Resolve would not import {outcome.pattern} ({first}-{last}).")
        result = imported[0]
        taken = [c.GetName() for c in folder.GetClipList() or [] if c is not result]
        if outcome.version:
            name = unique_name(f"{self.shot}_void_{outcome.version}", taken)  # the name says which results/v###
        else:
            name = next_version_name(self.shot, taken)
        result.SetClipProperty("Clip Name", name)
        # The result holds the handles too: use the cut part, counted in the clip's own frames.
        base = clip_origin(result, first) + self.count_shift
        cut_start, cut_end = self.plan.cut_in_result
        rec_start, rec_end = self.plan.record_range
        track = free_track_above(self.timeline, self.track, rec_start, rec_end)
        placed = _append(
            self.media_pool,
            [
                {
                    "mediaPoolItem": result,
                    "startFrame": base + cut_start,
                    "endFrame": base + cut_end,
                    "mediaType": 1,
                    "trackIndex": track,
                    "recordFrame": rec_start,
                }
            ],
        )
        if not placed:
            raise EditPageError(f"Imported {name}, but Resolve would not place it on V{track} at {rec_start}.")
        return (
            f"Done: {name} in the {BIN_NAME} bin ({outcome.pattern}, {first}-{last}), placed on V{track} "
            f"at record frame {rec_start} for {rec_end - rec_start} frames."
        )
