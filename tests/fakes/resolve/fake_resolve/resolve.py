"""Fake DaVinci Resolve: project, media pool, bins, timelines, items, render queue.

Method names and argument shapes follow Resolve's scripting README (as typed in
``fusionscript-stubs``): ``ImportMedia([{"FilePath": "x_%04d.exr", "StartIndex", "EndIndex"}])``
makes ``x_[1001-1010].exr``; ``AppendToTimeline([{"mediaPoolItem", "startFrame", "endFrame"
(exclusive), "mediaType", "trackIndex", "recordFrame" (absolute)}])``; ``GetSourceStartFrame``,
``GetLeftOffset``/``GetRightOffset`` (media beyond the cut), ``GetEnd`` exclusive; the render
queue (``SetRenderSettings``, ``AddRenderJob``, ``StartRendering``, ``IsRenderingInProgress``,
``GetRenderJobStatus``) renders asynchronously and writes real EXRs.

Frame numbering of a clip: whether Resolve counts an image sequence's frames from its first
file's number or from 0 is not documented, so the fake does either (``origin``: "file", the
default, or "zero"); the clip's ``Start``/``End`` properties follow its counting, as do
``GetSourceStartFrame`` and ``AppendToTimeline``'s ``startFrame``. A movie's frames start at 0.
Movies are backed by an EXR sequence (the fake cannot decode a real movie): ``backing`` maps
clip frame ``i`` to ``backing % (first + i)``.

Strict where Resolve is: calls answer None / False / "" / [] on failure instead of raising;
render settings start as a real project's do and are only readable through the documented
getters (format/codec, mode) or a saved render preset; the render queue scales the source to
the render resolution (``FormatWidth``/``FormatHeight``, by default the timeline's).
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from typing import Any

from . import calls
from .fusion import Fusion
from .render_ops import run_ops

TIMELINE_START = 86400  # 01:00:00:00 at 24 fps
_ids = itertools.count(1)


def _uid() -> str:
    return f"fake-{next(_ids):06d}"


class MediaPoolItem:
    def __init__(
        self,
        path: str,
        first: int,
        last: int,
        *,
        backing: tuple[str, int] | None = None,
        name: str | None = None,
        kind: str = "sequence",
        resolution: tuple[int, int] | None = None,
    ):
        self.kind = kind
        # movies, and sequences counted from 0: (printf pattern of the files, the file number of clip frame first)
        self.backing = backing
        self.first, self.last = first, last
        self.mattes: list[str] = []
        self.id = _uid()
        self.props: dict[str, Any] = {
            "File Path": path,
            "Clip Name": name or os.path.basename(path),
            "Start": str(first),
            "End": str(last),
            "Frames": str(last - first + 1),
            "Type": "Video",
            "Format": "OpenEXR" if kind == "sequence" else "QuickTime",
            "Resolution": f"{resolution[0]}x{resolution[1]}" if resolution else "",
        }

    def __repr__(self) -> str:
        return f"<MediaPoolItem {self.GetName()}>"

    def GetName(self) -> str:
        return str(self.props["Clip Name"])

    def SetName(self, name: str) -> bool:
        return self.SetClipProperty("Clip Name", name)

    def GetClipProperty(self, name: str | None = None) -> Any:
        return dict(self.props) if name is None else self.props.get(name, "")

    def SetClipProperty(self, name: str, value: Any) -> bool:
        calls.record("MediaPoolItem", "SetClipProperty", name, value)
        if name not in ("Clip Name", "Comments", "Description"):
            return False
        self.props[name] = str(value)
        return True

    def GetMediaId(self) -> str:
        return self.id

    def GetUniqueId(self) -> str:
        return self.id

    def frame_file(self, clip_frame: int) -> str:
        """Fake-only: the file holding clip frame ``clip_frame``."""
        if not self.first <= clip_frame <= self.last:
            raise RuntimeError(f"{self.GetName()}: clip frame {clip_frame} outside {self.first}-{self.last}")
        if self.backing is not None:
            pattern, first = self.backing
            return pattern % (first + clip_frame - self.first)
        return printf_of(self.props["File Path"]) % clip_frame


def sequence_item(
    shown: str, pattern: str, first_file: int, last_file: int, origin: str = "file", **kw: Any
) -> MediaPoolItem:
    """Fake-only: the media pool item of an image sequence, counted as ``origin`` says: "file"
    (from its first file's number), "zero" (from 0), or "zero-api" (the API counts from 0 while
    the ``Start``/``End`` properties show file numbers)."""
    if origin in ("zero", "zero-api"):
        item = MediaPoolItem(shown, 0, last_file - first_file, backing=(pattern, first_file), **kw)
        if origin == "zero-api":
            item.props.update({"Start": str(first_file), "End": str(last_file)})
        return item
    return MediaPoolItem(shown, first_file, last_file, **kw)


def printf_of(resolve_path: str) -> str:
    m = re.search(r"\[(\d+)-(\d+)\]", resolve_path)
    if not m:
        raise ValueError(f"{resolve_path} is not a sequence")
    return resolve_path[: m.start()] + f"%0{len(m.group(1))}d" + resolve_path[m.end() :]


class Folder:
    def __init__(self, name: str):
        self.name = name
        self.clips: list[MediaPoolItem] = []
        self.subfolders: list[Folder] = []
        self.id = _uid()

    def GetName(self) -> str:
        return self.name

    def GetClipList(self) -> list[MediaPoolItem]:
        return list(self.clips)

    def GetSubFolderList(self) -> list["Folder"]:
        return list(self.subfolders)

    def GetUniqueId(self) -> str:
        return self.id


class TimelineItem:
    def __init__(
        self,
        timeline: "Timeline",
        media: MediaPoolItem | None,
        track: int,
        start: int,
        duration: int,
        source_start: int,
        name: str | None = None,
    ):
        self.timeline, self.media, self.track = timeline, media, track
        self.start, self.duration, self.source_start = start, duration, source_start
        self.name = name or (media.GetName() if media else "Title")
        self.id = _uid()

    def __repr__(self) -> str:
        return f"<TimelineItem {self.name} V{self.track} {self.start}+{self.duration}>"

    def GetName(self) -> str:
        return self.name

    def GetStart(self, subframe_precision: bool = False) -> int:
        return self.start

    def GetEnd(self, subframe_precision: bool = False) -> int:
        return self.start + self.duration

    def GetDuration(self, subframe_precision: bool = False) -> int:
        return self.duration

    def GetSourceStartFrame(self) -> int:
        return self.source_start

    def GetSourceEndFrame(self) -> int:
        return self.source_start + self.duration

    def GetLeftOffset(self, subframe_precision: bool = False) -> int:
        return 0 if self.media is None else self.source_start - self.media.first

    def GetRightOffset(self, subframe_precision: bool = False) -> int:
        return 0 if self.media is None else self.media.last - (self.source_start + self.duration - 1)

    def GetMediaPoolItem(self) -> MediaPoolItem | None:
        return self.media

    def GetTrackTypeAndIndex(self) -> list[Any]:
        return ["video", self.track]

    def GetUniqueId(self) -> str:
        return self.id


class Timeline:
    def __init__(self, name: str, start: int = TIMELINE_START):
        self.name = name
        self.start = start
        self.tracks: dict[int, list[TimelineItem]] = {1: []}
        self.playhead = start
        self.current_track: int | None = None  # the editor's selected track (None: top-most)
        self.id = _uid()

    def __repr__(self) -> str:
        return f"<Timeline {self.name}>"

    def GetName(self) -> str:
        return self.name

    def GetStartFrame(self) -> int:
        return self.start

    def GetEndFrame(self) -> int:
        ends = [i.GetEnd() for items in self.tracks.values() for i in items]
        return max(ends, default=self.start)

    def GetTrackCount(self, track_type: str) -> int:
        return len(self.tracks) if track_type == "video" else 0

    def AddTrack(self, track_type: str, sub: Any = None) -> bool:
        calls.record("Timeline", "AddTrack", track_type, sub)
        if track_type != "video":
            return False
        self.tracks[len(self.tracks) + 1] = []
        return True

    def GetItemListInTrack(self, track_type: str, index: int) -> list[TimelineItem]:
        if track_type != "video" or index not in self.tracks:
            return []
        return sorted(self.tracks[index], key=lambda i: i.start)

    def GetCurrentVideoItem(self) -> TimelineItem | None:
        return self.item_at(self.playhead, self.current_track)

    def item_at(self, record: int, track: int | None = None) -> TimelineItem | None:
        """Fake-only: the video item at ``record`` on ``track`` (default: the top-most)."""
        for index in sorted(self.tracks, reverse=True) if track is None else [track]:
            for item in self.tracks[index]:
                if item.start <= record < item.start + item.duration:
                    return item
        return None

    def GetCurrentTimecode(self) -> str:
        f = self.playhead
        return f"{f // 86400:02d}:{f // 1440 % 60:02d}:{f // 24 % 60:02d}:{f % 24:02d}"

    def GetUniqueId(self) -> str:
        return self.id

    def place(
        self,
        media: MediaPoolItem | None,
        track: int,
        record: int,
        source_start: int,
        duration: int,
        name: str | None = None,
    ) -> TimelineItem | None:
        """Fake-only (also what AppendToTimeline does): refuses overlaps and missing tracks."""
        if track not in self.tracks or duration <= 0:
            return None
        if any(i.start < record + duration and record < i.start + i.duration for i in self.tracks[track]):
            return None
        item = TimelineItem(self, media, track, record, duration, source_start, name)
        self.tracks[track].append(item)
        return item


class MediaPool:
    def __init__(self, project: "Project"):
        self.project = project
        self.root = Folder("Master")
        self.current = self.root

    def GetRootFolder(self) -> Folder:
        return self.root

    def GetCurrentFolder(self) -> Folder:
        return self.current

    def SetCurrentFolder(self, folder: Folder) -> bool:
        calls.record("MediaPool", "SetCurrentFolder", folder.GetName())
        self.current = folder
        return True

    def AddSubFolder(self, folder: Folder, name: str) -> Folder | None:
        calls.record("MediaPool", "AddSubFolder", folder.GetName(), name)
        sub = Folder(name)
        folder.subfolders.append(sub)
        return sub

    def ImportMedia(self, items: list[Any]) -> list[MediaPoolItem]:
        calls.record("MediaPool", "ImportMedia", items)
        made = []
        for info in items if isinstance(items, list) else []:
            # Resolve answers [] for what it cannot import; this fake imports sequences only
            if not isinstance(info, dict) or not {"FilePath", "StartIndex", "EndIndex"} <= set(info):
                continue
            pattern, a, b = str(info["FilePath"]), int(info["StartIndex"]), int(info["EndIndex"])
            m = re.search(r"%0?(\d*)d", pattern)
            if not m or any(not os.path.isfile(pattern % f) for f in range(a, b + 1)):
                continue  # Resolve skips what it cannot find
            pad = int(m.group(1) or 0)
            shown = pattern[: m.start()] + f"[{a:0{pad}d}-{b:0{pad}d}]" + pattern[m.end() :]
            item = sequence_item(shown, pattern, a, b, self.project.origin)
            self.current.clips.append(item)
            made.append(item)
        return made

    def GetClipMatteList(self, item: MediaPoolItem) -> list[str]:
        return list(item.mattes)

    def CreateEmptyTimeline(self, name: str) -> Timeline | None:
        calls.record("MediaPool", "CreateEmptyTimeline", name)
        if any(t.name == name for t in self.project.timelines):
            return None
        timeline = Timeline(name)
        self.project.timelines.append(timeline)
        self.project.current_timeline = timeline  # Resolve makes the new timeline current
        return timeline

    def DeleteTimelines(self, timelines: list[Timeline]) -> bool:
        calls.record("MediaPool", "DeleteTimelines", [t.name for t in timelines])
        for t in timelines:
            self.project.timelines.remove(t)
            if self.project.current_timeline is t:
                self.project.current_timeline = self.project.timelines[0] if self.project.timelines else None
        return True

    def AppendToTimeline(self, *args: Any) -> list[TimelineItem]:
        infos = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        calls.record("MediaPool", "AppendToTimeline", infos)
        timeline = self.project.current_timeline
        if timeline is None:
            return []
        placed = []
        for info in infos:
            # Resolve places nothing (and says so with []) for what it cannot read
            if not isinstance(info, dict) or not isinstance(info.get("mediaPoolItem"), MediaPoolItem):
                continue
            known = {"mediaPoolItem", "startFrame", "endFrame", "mediaType", "trackIndex", "recordFrame"}
            if set(info) - known or not {"startFrame", "endFrame"} <= set(info):
                continue
            media: MediaPoolItem = info["mediaPoolItem"]
            start, end = int(info["startFrame"]), int(info["endFrame"])
            if not media.first <= start < end <= media.last + 1:
                continue  # outside the media: Resolve places nothing
            item = timeline.place(
                media, int(info.get("trackIndex", 1)), int(info.get("recordFrame", timeline.start)), start, end - start
            )
            if item is not None:
                placed.append(item)
        return placed


# The keys of SetRenderSettings (Resolve's README, "Looking up render settings") and their types.
RENDER_SETTING_TYPES: dict[str, Any] = {
    "SelectAllFrames": bool,
    "MarkIn": int,
    "MarkOut": int,
    "TargetDir": str,
    "CustomName": str,
    "UniqueFilenameStyle": int,
    "ExportVideo": bool,
    "ExportAudio": bool,
    "FormatWidth": int,
    "FormatHeight": int,
    "FrameRate": (int, float),
    "PixelAspectRatio": str,
    "VideoQuality": (int, str),
    "AudioCodec": str,
    "AudioBitDepth": int,
    "AudioSampleRate": int,
    "ColorSpaceTag": str,
    "GammaTag": str,
    "ExportAlpha": bool,
    "EncodingProfile": str,
    "MultiPassEncode": bool,
    "AlphaMode": int,
    "NetworkOptimization": bool,
    "ClipStartFrame": int,
    "TimelineStartTimecode": str,
    "ReplaceExistingFilesInPlace": bool,
    "ExportSubtitle": bool,
    "SubtitleFormat": str,
}


def _valid_setting(key: str, value: Any) -> bool:
    kind = RENDER_SETTING_TYPES.get(key)
    if kind is None:
        return False
    if kind is int or kind == (int, float):  # bool is an int in Python, not in Resolve's settings
        return isinstance(value, kind) and not isinstance(value, bool)
    return isinstance(value, kind)


class Project:
    def __init__(self, name: str = "Shots", resolution: tuple[int, int] = (1920, 1080), origin: str = "file"):
        self.name = name
        self.origin = origin  # how image sequences are counted: "file" (first file's number) or "zero"
        self.media_pool = MediaPool(self)
        self.timelines: list[Timeline] = []
        self.current_timeline: Timeline | None = None
        self.settings = {
            "timelineResolutionWidth": str(resolution[0]),
            "timelineResolutionHeight": str(resolution[1]),
            "timelineFrameRate": "24",
        }
        # What a project's Deliver page holds before anyone scripts it (an editor's H.264 delivery).
        self.render_format = ("mov", "H264")
        self.render_mode = 1
        self.render_settings: dict[str, Any] = {
            "SelectAllFrames": False,
            "MarkIn": TIMELINE_START + 100,
            "MarkOut": TIMELINE_START + 340,
            "TargetDir": "/Volumes/Deliveries/Shots",
            "CustomName": "Edit v1 review",
            "UniqueFilenameStyle": 0,
            "ExportVideo": True,
            "ExportAudio": True,
            "FormatWidth": resolution[0],
            "FormatHeight": resolution[1],
            "FrameRate": 24.0,
            "PixelAspectRatio": "square",
            "VideoQuality": 0,
            "AudioCodec": "aac",
            "AudioBitDepth": 16,
            "AudioSampleRate": 48000,
            "ColorSpaceTag": "Same as Project",
            "GammaTag": "Same as Project",
            "ExportAlpha": False,
            "EncodingProfile": "Main",
            "MultiPassEncode": False,
            "AlphaMode": 0,
            "NetworkOptimization": False,
            "ClipStartFrame": 0,
            "TimelineStartTimecode": "01:00:00:00",
            "ReplaceExistingFilesInPlace": False,
            "ExportSubtitle": False,
            "SubtitleFormat": "BurnIn",
        }
        # A preset holds the render settings and the format/codec, not the render mode.
        self.render_presets: dict[str, dict[str, Any]] = {
            "H.264 Master": {"settings": dict(self.render_settings), "format": ("mov", "H264")}
        }
        self.builtin_presets = set(self.render_presets)
        self.render_jobs: dict[str, dict[str, Any]] = {}
        self._render_thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Seconds per rendered frame (VOID_FAKE_RENDER_S_PER_FRAME), so a test can act mid-render.
        self.render_s_per_frame = float(os.environ.get("VOID_FAKE_RENDER_S_PER_FRAME", "0"))

    def render_snapshot(self) -> dict[str, Any]:
        """Fake-only: every render setting of the project (what no API getter returns in full)."""
        return {
            "format": self.render_format,
            "mode": self.render_mode,
            "settings": dict(self.render_settings),
            "presets": sorted(self.render_presets),
            "jobs": sorted(self.render_jobs),
        }

    def GetName(self) -> str:
        return self.name

    def GetMediaPool(self) -> MediaPool:
        return self.media_pool

    def GetCurrentTimeline(self) -> Timeline | None:
        return self.current_timeline

    def SetCurrentTimeline(self, timeline: Timeline) -> bool:
        calls.record("Project", "SetCurrentTimeline", getattr(timeline, "name", None))
        if timeline not in self.timelines:
            return False
        self.current_timeline = timeline
        return True

    def GetTimelineCount(self) -> int:
        return len(self.timelines)

    def GetTimelineByIndex(self, idx: int) -> Timeline | None:
        return self.timelines[idx - 1] if 1 <= idx <= len(self.timelines) else None

    def GetSetting(self, settingName: str = "") -> Any:
        return dict(self.settings) if not settingName else self.settings.get(settingName, "")

    # -- render queue --------------------------------------------------------------------------

    def GetRenderFormats(self) -> dict[str, str]:
        return {"OpenEXR": "exr", "QuickTime": "mov"}

    def GetRenderCodecs(self, renderFormat: str) -> dict[str, str]:
        return {"RGB half (ZIP)": "RGBHalfZIP", "RGB float": "RGBFloat"} if renderFormat == "exr" else {"H.264": "H264"}

    def GetCurrentRenderFormatAndCodec(self) -> dict[str, str]:
        return {"format": self.render_format[0], "codec": self.render_format[1]}

    def SetCurrentRenderFormatAndCodec(self, format: str, codec: str) -> bool:
        calls.record("Project", "SetCurrentRenderFormatAndCodec", format, codec)
        if self.IsRenderingInProgress() or codec not in self.GetRenderCodecs(format).values():
            return False
        self.render_format = (format, codec)
        return True

    def GetCurrentRenderMode(self) -> int:
        return self.render_mode

    def SetCurrentRenderMode(self, renderMode: int) -> bool:
        calls.record("Project", "SetCurrentRenderMode", renderMode)
        if self.IsRenderingInProgress() or renderMode not in (0, 1):
            return False
        self.render_mode = renderMode
        return True

    def SetRenderSettings(self, settings: dict[str, Any]) -> bool:
        calls.record("Project", "SetRenderSettings", dict(settings))
        if self.IsRenderingInProgress() or not all(_valid_setting(k, v) for k, v in settings.items()):
            return False
        self.render_settings.update(settings)
        return True

    def GetRenderPresetList(self) -> list[str]:
        return list(self.render_presets)

    def SaveAsNewRenderPreset(self, presetName: str) -> bool:
        calls.record("Project", "SaveAsNewRenderPreset", presetName)
        if not presetName or presetName in self.render_presets:
            return False
        self.render_presets[presetName] = {"settings": dict(self.render_settings), "format": self.render_format}
        return True

    def LoadRenderPreset(self, presetName: str) -> bool:
        calls.record("Project", "LoadRenderPreset", presetName)
        preset = self.render_presets.get(presetName)
        if preset is None or self.IsRenderingInProgress():
            return False
        self.render_settings = dict(preset["settings"])
        self.render_format = preset["format"]
        return True

    def DeleteRenderPreset(self, presetName: str) -> bool:
        calls.record("Project", "DeleteRenderPreset", presetName)
        if presetName not in self.render_presets or presetName in self.builtin_presets:
            return False
        del self.render_presets[presetName]
        return True

    def AddRenderJob(self) -> str:
        calls.record("Project", "AddRenderJob")
        if self.current_timeline is None:
            return ""  # Resolve queues nothing without a timeline
        job = _uid()
        self.render_jobs[job] = {
            "settings": dict(self.render_settings),
            "timeline": self.current_timeline,
            "format": self.render_format,
            "mode": self.render_mode,
            "JobStatus": "Ready",
            "CompletionPercentage": 0,
        }
        return job

    def DeleteRenderJob(self, jobId: str) -> bool:
        calls.record("Project", "DeleteRenderJob", jobId)
        return self.render_jobs.pop(jobId, None) is not None

    def GetRenderJobStatus(self, jobId: str) -> dict[str, Any]:
        info = self.render_jobs.get(jobId)
        if info is None:
            return {}
        out = {"JobStatus": info["JobStatus"], "CompletionPercentage": info["CompletionPercentage"]}
        if "Error" in info:
            out["Error"] = info["Error"]
        return out

    def IsRenderingInProgress(self) -> bool:
        return self._render_thread is not None and self._render_thread.is_alive()

    def StopRendering(self) -> None:
        calls.record("Project", "StopRendering")
        self._stop.set()
        if self._render_thread is not None:
            self._render_thread.join(timeout=10)

    def StartRendering(self, *args: Any) -> bool:
        calls.record("Project", "StartRendering", *args)
        jobs = args[0] if args and isinstance(args[0], list) else [a for a in args if isinstance(a, str)]
        if not jobs or any(j not in self.render_jobs for j in jobs) or self.IsRenderingInProgress():
            return False
        self._stop.clear()
        self._render_thread = threading.Thread(target=self._render, args=(jobs,), daemon=True)
        self._render_thread.start()
        return True

    def _render(self, jobs: list[str]) -> None:
        for job in jobs:
            info = self.render_jobs[job]
            info["JobStatus"] = "Rendering"
            try:
                ops = self._render_ops(info)
                batches = [[op] for op in ops] if self.render_s_per_frame else [ops]
                for i, batch in enumerate(batches):
                    if self._stop.is_set():
                        info["JobStatus"] = "Cancelled"
                        return
                    run_ops(batch)
                    time.sleep(self.render_s_per_frame)
                    info["CompletionPercentage"] = int(100 * (i + 1) / len(batches))
                info["JobStatus"], info["CompletionPercentage"] = "Complete", 100
            except Exception as exc:  # a failed render is a status, as in Resolve
                info["JobStatus"], info["Error"] = "Failed", str(exc)

    def _render_ops(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        settings, timeline = info["settings"], info["timeline"]
        if info["format"][0] != "exr":
            raise ValueError("this fake renders EXR only")
        if info["mode"] != 1:
            raise ValueError("this fake renders a single clip only (render mode 1)")
        if settings.get("SelectAllFrames", True):
            first, last = timeline.start, timeline.GetEndFrame() - 1
        else:
            first, last = int(settings["MarkIn"]), int(settings["MarkOut"])
        # Resolve renders at the render resolution, the source scaled to it
        size = [int(settings["FormatWidth"]), int(settings["FormatHeight"])]
        ops = []
        for record in range(first, last + 1):
            item = timeline.item_at(record)
            if item is None or item.media is None:
                raise ValueError(f"record frame {record} of {timeline.name} is empty")
            src = item.media.frame_file(item.source_start + record - item.start)
            dst = os.path.join(settings["TargetDir"], f"{settings['CustomName']}_{record:08d}.exr")
            ops.append({"op": "copy", "src": src, "dst": dst, "channels": None, "size": size})
        return ops


class ProjectManager:
    def __init__(self, project: Project | None):
        self.project = project

    def GetCurrentProject(self) -> Project | None:
        return self.project


class MediaStorage:
    def AddClipMattesToMediaPool(self, item: MediaPoolItem, paths: list[str], eye: str | None = None) -> bool:
        item.mattes.extend(paths)
        return True


class Resolve:
    def __init__(self, project: Project | None = None, fusion: Fusion | None = None):
        self.project_manager = ProjectManager(project)
        self.fusion = fusion or Fusion()
        self.media_storage = MediaStorage()

    def GetProjectManager(self) -> ProjectManager:
        return self.project_manager

    def GetMediaStorage(self) -> MediaStorage:
        return self.media_storage

    def Fusion(self) -> Fusion:
        return self.fusion

    def GetProductName(self) -> str:
        return "DaVinci Resolve (fake)"

    def GetVersionString(self) -> str:
        return "20.0.0 (fake)"

    def GetCurrentPage(self) -> str:
        return "edit"
