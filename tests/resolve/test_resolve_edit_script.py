"""The Edit-page script against the fake Resolve and a real engine on 127.0.0.1."""

from __future__ import annotations

import re
import shutil
import time

import numpy as np
import OpenImageIO as oiio
import pytest
from fake_resolve import edit_scene, run_script, summary

from .conftest import EDIT_SCRIPT

RECORD = 86400 + 48


def _resolve_path(pattern: str, first: int, last: int) -> str:
    """``x.####.exr`` -> ``x.[1001-1008].exr`` as the media pool shows a sequence."""
    return pattern.replace("####", f"[{first:04d}-{last:04d}]")


def _printf(pattern: str) -> str:
    return pattern.replace("####", "%04d")


def _sequence_scene(shot, mattes=("remove", "affected"), **extra):
    paths = {"remove": shot.remove_matte, "affected": shot.affected_matte}
    return edit_scene(
        {
            "source": _printf(shot.plate),
            "first": 1001,
            "last": 1008,
            "kind": "sequence",
            "record_start": RECORD,
            "cut_first": 1003,
            "cut_duration": 3,
            "mattes": [_resolve_path(paths[m], 1001, 1008) for m in mattes],
            **extra,
        }
    )


def _frame(resolve_path: str, frame: int) -> str:
    m = re.search(r"\[(\d+)-(\d+)\]", resolve_path)
    return resolve_path[: m.start()] + f"{frame:0{len(m.group(1))}d}" + resolve_path[m.end() :]


def _pixels(path: str) -> np.ndarray:
    buf = oiio.ImageBuf(path)
    assert not buf.has_error, buf.geterror()
    return buf.get_pixels(oiio.FLOAT)


def _bin(s, name="VOID"):
    return next(f for f in s["media_pool"]["folders"] if f["name"] == name)


def test_edit_script_imports_the_result_and_places_it_on_the_track_above(engine, plugin_env, shot):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="8")
    host = _sequence_scene(shot)
    record = run_script(EDIT_SCRIPT, host)
    assert record is not None and record.state == "done", record and record.message
    s = summary(host, record)

    clips = _bin(s)["clips"]
    assert [c["name"] for c in clips] == ["sample_void_v001"]
    # handles: 2 frames exist before the cut (1001-1002) and 3 after (1006-1008); all were sent
    assert (clips[0]["start"], clips[0]["end"]) == (1001, 1008)
    assert "/results/v001/" in clips[0]["path"] and clips[0]["path"].endswith(".[1001-1008].exr")
    placed = s["tracks"]["2"]
    assert len(placed) == 1
    assert (placed[0]["start"], placed[0]["duration"], placed[0]["source_start"]) == (RECORD, 3, 1003)
    assert s["tracks"]["1"][0]["start"] == RECORD  # the source clip is untouched
    assert s["current_folder"] == "Master"  # the media pool's folder is restored
    # the files behind the clip are valid EXRs of the plate's size
    for f in range(1001, 1009):
        assert _pixels(_frame(clips[0]["path"], f)).shape == (shot.height, shot.width, 4)
    assert s["off_thread"] == []
    assert "MediaPool.ImportMedia" in s["calls"] and "Project.AddRenderJob" not in s["calls"]


def test_a_second_run_is_versioned_and_goes_above_the_first(engine, plugin_env, shot):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="0")
    host = _sequence_scene(shot, mattes=("remove",), tracks=2)
    assert run_script(EDIT_SCRIPT, host).state == "done"
    # the result is now the top clip at the playhead: the editor selects V1 to run it on the source again
    host.project.current_timeline.current_track = 1
    second = run_script(EDIT_SCRIPT, host)
    assert second.state == "done", second.message
    s = summary(host, second)
    assert sorted(c["name"] for c in _bin(s)["clips"]) == ["sample_void_v001", "sample_void_v002"]
    assert [len(s["tracks"][k]) for k in ("1", "2", "3")] == [1, 1, 1]
    assert s["tracks"]["3"][0]["start"] == RECORD and s["tracks"]["3"][0]["duration"] == 3


def _movie_scene(shot, work):
    # A movie's clip frames count from 0; its mattes are numbered the same way.
    mattes = work / "movie_mattes"
    mattes.mkdir(exist_ok=True)
    for i, f in enumerate(range(1001, 1009)):
        shutil.copy(shot.path(shot.remove_matte, f), mattes / f"shot_remove.{i:04d}.exr")
    return edit_scene(
        {
            "source": _printf(shot.plate),
            "first": 1001,
            "last": 1008,
            "kind": "movie",
            "record_start": RECORD,
            "cut_first": 1003,
            "cut_duration": 3,
            "mattes": [str(mattes / "shot_remove.[0000-0007].exr")],
        }
    )


def test_movie_source_goes_through_the_render_queue(engine, plugin_env, shot, work):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="1", VOID_FAKE_RENDER_S_PER_FRAME="0.05")
    host = _movie_scene(shot, work)
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "done", record.message
    s = summary(host, record)
    for call in (
        "Project.SetRenderSettings",
        "Project.AddRenderJob",
        "Project.StartRendering",
        "Project.DeleteRenderJob",
        "MediaPool.DeleteTimelines",
    ):
        assert call in s["calls"]
    assert s["timelines"] == ["Edit v1"] and s["current_timeline"] == "Edit v1"
    assert s["render_jobs"] == 0
    # the window kept running while Resolve rendered: progress came from the timer
    assert any("render queue" in t for t in s["status"])
    assert max(sec for name, sec in s["handler_seconds"]) < 1.0
    clip = _bin(s)["clips"][0]
    assert (clip["start"], clip["end"]) == (1, 5)  # clip frames 2-4 plus one handle each side
    placed = s["tracks"]["2"][0]
    assert (placed["start"], placed["duration"], placed["source_start"]) == (RECORD, 3, 2)
    # the plate rendered from the movie is its frames, numbered as source frames: the result
    # outside the masks is those frames, bit for bit
    for clip_frame in range(1, 6):
        result = _pixels(_frame(clip["path"], clip_frame))
        plate = _pixels(str(shot.path(shot.plate, 1001 + clip_frame)))
        assert np.array_equal(result[:3, :3], plate[:3, :3])


def test_track_above_taken_puts_the_result_on_a_free_track(engine, plugin_env, shot):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="0")
    host = _sequence_scene(
        shot, mattes=("remove",), tracks=2, blockers=[{"track": 2, "start": RECORD + 2, "duration": 12}]
    )
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "done", record.message
    s = summary(host, record)
    assert [i["name"] for i in s["tracks"]["2"]] == ["Title"]
    assert s["tracks"]["3"][0]["start"] == RECORD
    assert "Timeline.AddTrack" in s["calls"]


def test_clip_without_a_matte_says_how_to_attach_one(plugin_env, shot):
    plugin_env("tcp://127.0.0.1:9")
    host = _sequence_scene(shot, mattes=())
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "error"
    assert "has no matte" in record.message and "Add Matte" in record.message
    assert "VOID" not in [f["name"] for f in summary(host)["media_pool"]["folders"]]


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_engine_unreachable_on_the_edit_page(plugin_env, shot):
    from tests.engine.engine_harness import free_port

    address = f"tcp://127.0.0.1:{free_port()}"
    plugin_env(address, VOID_TIMEOUT="1")
    host = _sequence_scene(shot)
    started = time.monotonic()
    record = run_script(EDIT_SCRIPT, host)
    assert time.monotonic() - started < 15, "an unreachable engine must not hang the script"
    assert record.state == "unreachable" and address in record.message
    s = summary(host, record)
    assert "VOID" not in [f["name"] for f in s["media_pool"]["folders"]]
    assert len(s["tracks"]) == 1


def test_headless_run_reports_on_the_console(engine, plugin_env, shot, capsys):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="0", VOID_HEADLESS="1")
    host = _sequence_scene(shot, mattes=("remove",))
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "done", record.message
    out = capsys.readouterr().out
    assert "step" in out and "Done: sample_void_v001" in out
    s = summary(host, record)
    assert s["status"] == [] and s["tracks"]["2"][0]["start"] == RECORD  # no window was opened


def test_cancel_during_the_render_queue_stops_it_and_cleans_up(plugin_env, shot, work, monkeypatch):
    from fake_resolve import Artist, UIDispatcher

    plugin_env("tcp://127.0.0.1:9", VOID_FAKE_RENDER_S_PER_FRAME="0.3")  # the engine is never reached
    monkeypatch.setattr(UIDispatcher, "artist", Artist(cancel_when="render queue"))
    host = _movie_scene(shot, work)
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "cancelled" and "nothing was sent" in record.message
    s = summary(host, record)
    assert "Project.StopRendering" in s["calls"] and s["render_jobs"] == 0
    assert s["timelines"] == ["Edit v1"] and s["current_timeline"] == "Edit v1"
    assert "VOID" not in [f["name"] for f in s["media_pool"]["folders"]]
