"""Running a Resolve script as Resolve does, on a scene built for a test; and reading back the result.

``run_script(path, host)`` executes the script file with the globals Resolve gives a menu script
(``resolve``, ``fusion``/``fu``, ``comp``, ``bmd``, ``app``). Scenes are built from plain data so
the same scene can be built in a bare interpreter (the install test): ``python -I -S`` with
``sys.path`` = the install folder + the fakes, then :func:`driver_main`.
"""

from __future__ import annotations

import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import calls
from .fusion import Composition, Fusion, add_plate, add_polygon
from .resolve import MediaPoolItem, Project, Resolve, Timeline, sequence_item
from .ui import BMD, DISPATCHERS, UIManager


@dataclass
class Host:
    fusion: Fusion
    resolve: Resolve
    bmd: BMD
    comp: Composition | None = None
    project: Project | None = None
    source_item: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def script_globals(self) -> dict[str, Any]:
        g: dict[str, Any] = {
            "fusion": self.fusion,
            "fu": self.fusion,
            "bmd": self.bmd,
            "resolve": self.resolve,
            "app": self.fusion,
        }
        if self.comp is not None:
            g["comp"] = self.comp
        return g


def _new_host(project: Project | None) -> Host:
    fusion = Fusion(UIManager())
    resolve = Resolve(project, fusion)
    bmd = BMD({"Resolve": resolve, "Fusion": fusion})
    return Host(fusion, resolve, bmd, project=project)


def fusion_scene(spec: dict[str, Any]) -> Host:
    """A Fusion page comp: plate (MediaIn/Loader) -> ColorCorrector -> MediaOut, plus masks.

    spec: plate (first frame path), render_range [a, b], size [w, h] (the comp's frame format,
    unless ``format`` gives another; masks are sized to it, or to ``mask_size``), plate_tool
    ("MediaIn"), masks: [{"name", "points", "comments"?, "motion"?}], filename.
    """
    calls.reset()
    host = _new_host(Project())
    frame_format = tuple(spec.get("format", spec["size"]))
    comp = host.fusion.NewComp("Shot_comp", tuple(spec["render_range"]), spec.get("filename", ""), frame_format)
    plate = add_plate(
        comp,
        spec["plate"],
        regid=spec.get("plate_tool", "MediaIn"),
        global_in=spec.get("global_in", spec["render_range"][0]),
    )
    grade = comp.AddTool("ColorCorrector")
    grade.ConnectInput("Input", plate)
    out = comp.AddTool("MediaOut")
    out.ConnectInput("Input", grade)
    if spec.get("artist_saver"):  # the artist's own Saver, which a VOID render must not trigger
        saver = comp.AddTool("Saver")
        saver.inputs["Clip"] = spec["artist_saver"]
        saver.ConnectInput("Input", grade)
    for mask in spec.get("masks", []):
        add_polygon(
            comp,
            [tuple(p) for p in mask["points"]],
            name=mask.get("name"),
            size=tuple(spec.get("mask_size", frame_format)),
            motion=tuple(mask.get("motion", (0.0, 0.0))),
            comments=mask.get("comments", ""),
        )
    calls.reset()  # the scene is the artist's; the log holds only what the script does
    host.comp = comp
    return host


def edit_scene(spec: dict[str, Any]) -> Host:
    """An Edit page timeline: one clip on V1 (a sequence or a movie) with its clip mattes.

    spec: source (printf pattern), first, last (the media's files), kind ("sequence"|"movie"),
    record_start, cut_first (file number of the cut's first frame), cut_duration, mattes
    (Resolve-style paths ``x.[1001-1010].exr``), playhead offset, tracks (video track count),
    resolution (the media's [w, h]; read from its first file when left out), project_resolution
    (the timeline format, default [1920, 1080]), origin (how Resolve counts an image sequence:
    "file" from its first file's number, "zero" from 0).
    """
    calls.reset()
    origin = str(spec.get("origin", "file"))
    project = Project(resolution=tuple(spec.get("project_resolution", (1920, 1080))), origin=origin)
    host = _new_host(project)
    first, last = int(spec["first"]), int(spec["last"])
    source = spec["source"]
    resolution = tuple(spec["resolution"]) if spec.get("resolution") else _probe_size(source % first)
    if spec.get("kind", "sequence") == "movie":
        n = last - first + 1
        media = MediaPoolItem(
            spec.get("movie_path", "/media/A001C003.mov"),
            0,
            n - 1,
            backing=(source, first),
            kind="movie",
            resolution=resolution,
        )
        cut_first = int(spec["cut_first"]) - first
    else:
        import re

        m = re.search(r"%0?(\d*)d", source)
        pad = int(m.group(1) or 0)
        shown = source[: m.start()] + f"[{first:0{pad}d}-{last:0{pad}d}]" + source[m.end() :]
        media = sequence_item(shown, source, first, last, origin, resolution=resolution)
        cut_first = int(spec["cut_first"]) - (first if origin in ("zero", "zero-api") else 0)
    project.media_pool.root.clips.append(media)
    host.resolve.GetMediaStorage().AddClipMattesToMediaPool(media, list(spec.get("mattes", [])))
    timeline = Timeline("Edit v1")
    for _ in range(int(spec.get("tracks", 1)) - 1):
        timeline.AddTrack("video")
    project.timelines.append(timeline)
    project.current_timeline = timeline
    record = int(spec.get("record_start", timeline.start + 48))
    item = timeline.place(media, 1, record, cut_first, int(spec["cut_duration"]))
    for blocker in spec.get("blockers", []):  # clips already on upper tracks
        timeline.place(None, int(blocker["track"]), int(blocker["start"]), 0, int(blocker["duration"]), "Title")
    timeline.playhead = record + int(spec.get("playhead", 1))
    host.source_item = item
    calls.reset()
    return host


def _probe_size(path: str) -> tuple[int, int] | None:
    """The size of an image file (the media pool's "Resolution"), when OpenImageIO is at hand."""
    try:
        import OpenImageIO as oiio
    except ImportError:
        return None
    spec = oiio.ImageInput.open(path)
    if spec is None:
        return None
    size = (spec.spec().full_width, spec.spec().full_height)
    spec.close()
    return size


def run_script(path: str | Path, host: Host) -> Any:
    """Execute a menu script as Resolve does; returns what it left in ``VOID_RUN``."""
    DISPATCHERS.clear()
    calls.LOG.host_thread = __import__("threading").get_ident()
    g = runpy.run_path(str(path), init_globals=host.script_globals(), run_name="__main__")
    return g.get("VOID_RUN")


def summary(host: Host, record: Any = None) -> dict[str, Any]:
    """What the script left behind, as plain data (for asserts, and across processes)."""
    out: dict[str, Any] = {}
    if host.comp is not None:
        comp = host.comp
        out["tools"] = [
            {
                "name": t.name,
                "regid": t.regid,
                "inputs": {k: v for k, v in t.inputs.items() if isinstance(v, (str, int, float))},
                "links": {k: o.tool.name for k, o in t.links.items()},
            }
            for t in comp.tools.values()
        ]
        out["lock_depth"] = comp.lock_depth
        out["undo_open"] = list(comp.undo_stack)
        out["undo_history"] = [list(u) for u in comp.undo_history]
        out["renders"] = [{k: (v.name if hasattr(v, "name") else v) for k, v in r.items()} for r in comp.renders]
        out["unknown_inputs"] = list(comp.unknown_inputs)
    if host.project is not None:
        pool = host.project.media_pool

        def folder(f: Any) -> dict[str, Any]:
            return {
                "name": f.name,
                "clips": [
                    {"name": c.GetName(), "path": c.props["File Path"], "start": c.first, "end": c.last}
                    for c in f.clips
                ],
                "folders": [folder(s) for s in f.subfolders],
            }

        out["media_pool"] = folder(pool.root)
        out["current_folder"] = pool.current.name
        out["timelines"] = [t.name for t in host.project.timelines]
        tl = host.project.current_timeline
        out["current_timeline"] = tl.name if tl else None
        if tl is not None:
            out["tracks"] = {
                str(k): [
                    {
                        "name": i.name,
                        "start": i.start,
                        "duration": i.duration,
                        "source_start": i.source_start,
                        "path": i.media.props["File Path"] if i.media else None,
                    }
                    for i in v
                ]
                for k, v in tl.tracks.items()
            }
        out["render_jobs"] = len(host.project.render_jobs)
    windows = [w for d in DISPATCHERS for w in d.windows]
    out["status"] = [t for w in windows for t in w.status_texts()]
    out["off_thread"] = calls.LOG.off_thread + [x for w in windows for x in w.off_thread]
    out["handler_seconds"] = [[n, s] for d in DISPATCHERS for n, s in d.handler_seconds]
    out["clicked"] = [c for d in DISPATCHERS for c in (d.artist.clicked if d.artist else [])]
    out["calls"] = calls.LOG.names()
    if record is not None:
        out["record"] = {
            "state": record.state,
            "message": record.message,
            "job": record.job,
            "messages": list(record.messages),
        }
    return out


def driver_main(argv: list[str] | None = None) -> int:
    """``driver_main([scene.json, out.json])``: build the scene, run its script, write the summary."""
    args = list(sys.argv[1:] if argv is None else argv)
    spec = json.loads(Path(args[0]).read_text())
    host = fusion_scene(spec["scene"]) if spec["page"] == "fusion" else edit_scene(spec["scene"])
    record = run_script(spec["script"], host)
    data = summary(host, record)
    data["sys_path"] = list(sys.path)
    data["module_files"] = {
        name: getattr(sys.modules.get(name), "__file__", None)
        for name in ("bridge", "void_resolve", "zmq", "msgpack", "numpy", "OpenImageIO")
    }
    Path(args[1]).write_text(json.dumps(data, indent=1, default=str))
    return 0
