"""The Edit page leaves the artist's project as it was and runs again on the same shot (issue 19)."""

from __future__ import annotations

import pytest
from fake_resolve import run_script, summary

from .conftest import EDIT_SCRIPT
from .test_resolve_edit_script import RECORD, _bin, _frame, _movie_scene, _pixels, _sequence_scene


def test_a_movie_render_leaves_every_render_setting_as_it_found_them(engine, plugin_env, shot, work):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="1")
    host = _movie_scene(shot, work)
    before = host.project.render_snapshot()
    assert before["settings"]["FormatWidth"] == 1920 != shot.width  # the project is not the clip's size
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "done", record.message
    assert host.project.render_snapshot() == before


def test_a_cancelled_movie_render_leaves_the_render_settings_as_found(plugin_env, shot, work, monkeypatch):
    from fake_resolve import Artist, UIDispatcher

    plugin_env("tcp://127.0.0.1:9", VOID_FAKE_RENDER_S_PER_FRAME="0.3")
    monkeypatch.setattr(UIDispatcher, "artist", Artist(cancel_when="render queue"))
    host = _movie_scene(shot, work)
    before = host.project.render_snapshot()
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "cancelled", record.message
    assert host.project.render_snapshot() == before


def test_the_plate_is_rendered_at_the_source_resolution_not_the_timeline_s(engine, plugin_env, shot, work):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="0")
    host = _movie_scene(shot, work)
    assert host.project.GetSetting("timelineResolutionWidth") == "1920"
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "done", record.message
    clip = _bin(summary(host, record))["clips"][0]
    assert _pixels(_frame(clip["path"], clip["start"])).shape == (shot.height, shot.width, 4)


def test_a_clip_whose_resolution_cannot_be_read_is_named(plugin_env, shot, work):
    plugin_env("tcp://127.0.0.1:9")
    host = _movie_scene(shot, work)
    host.source_item.media.props["Resolution"] = ""
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "error"
    assert "resolution of" in record.message and "A001C003.mov" in record.message
    assert host.project.render_jobs == {} and [t.name for t in host.project.timelines] == ["Edit v1"]


def test_a_second_run_on_the_same_shot_gives_v002_above_v001(engine, plugin_env, shot):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="0")
    host = _sequence_scene(shot, mattes=("remove",))
    first = run_script(EDIT_SCRIPT, host)
    assert first.state == "done", first.message
    # the playhead has not moved: v001 is now the top clip under it
    second = run_script(EDIT_SCRIPT, host)
    assert second.state == "done", second.message
    s = summary(host, second)
    clips = {c["name"]: c for c in _bin(s)["clips"]}
    assert sorted(clips) == ["sample_void_v001", "sample_void_v002"]
    assert "/results/v002/" in clips["sample_void_v002"]["path"]
    tracks = s["tracks"]
    assert [i["name"] for i in tracks["2"]] == ["sample_void_v001"]
    assert [i["name"] for i in tracks["3"]] == ["sample_void_v002"]
    assert (tracks["3"][0]["start"], tracks["3"][0]["duration"], tracks["3"][0]["source_start"]) == (RECORD, 3, 1003)


def test_bin_names_follow_the_engine_s_result_versions(engine, plugin_env, shot, work):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="0")
    for old in ("v001", "v002"):  # versions an earlier session left on disk, not in this project's bin
        (work / "sample" / "results" / old).mkdir(parents=True)
    host = _sequence_scene(shot, mattes=("remove",))
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "done", record.message
    clip = _bin(summary(host, record))["clips"][0]
    assert clip["name"] == "sample_void_v003" and "/results/v003/" in clip["path"]


def test_the_plate_render_folder_is_removed_when_the_run_ends(engine, plugin_env, shot, work):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="1")
    record = run_script(EDIT_SCRIPT, _movie_scene(shot, work))
    assert record.state == "done", record.message
    renders = work / "A001C003" / "renders"  # the shot is named after the movie
    assert not renders.exists() or list(renders.iterdir()) == []
    assert list((work / "A001C003" / "results" / "v001").glob("*.exr"))  # the result stays


def test_the_plate_render_folder_is_kept_when_the_engine_did_not_answer(plugin_env, shot, work):
    from tests.engine.engine_harness import free_port

    plugin_env(f"tcp://127.0.0.1:{free_port()}", VOID_TIMEOUT="1", VOID_HANDLES="1")
    record = run_script(EDIT_SCRIPT, _movie_scene(shot, work))
    assert record.state == "unreachable", record.message
    (stamp,) = (work / "A001C003" / "renders").iterdir()  # an engine that got the job may still read it
    assert len(list(stamp.glob("*.exr"))) == 5


@pytest.mark.parametrize("origin, source_start", [("file", 1003), ("zero", 2), ("zero-api", 2)])
def test_image_sequences_line_up_whether_resolve_counts_from_the_first_file_or_zero(
    engine, plugin_env, shot, origin, source_start
):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="8")
    host = _sequence_scene(shot, origin=origin)
    assert host.source_item.GetSourceStartFrame() == source_start
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "done", record.message
    s = summary(host, record)
    clip = _bin(s)["clips"][0]
    assert clip["path"].endswith(".[1001-1008].exr")  # the engine was sent files 1001-1008
    placed = s["tracks"]["2"][0]
    assert (placed["start"], placed["duration"], placed["source_start"]) == (RECORD, 3, source_start)
    # the placed frames are the cut's: result frame 1003 sits at the record start
    result = host.project.current_timeline.item_at(RECORD, 2)
    assert result.media.frame_file(result.source_start).endswith(".1003.exr")


def test_render_settings_resolve_will_not_put_back_are_named_with_their_preset(plugin_env, shot, work, monkeypatch):
    plugin_env("tcp://127.0.0.1:9", VOID_HANDLES="0")
    host = _movie_scene(shot, work)
    monkeypatch.setattr(host.project, "LoadRenderPreset", lambda name: False)
    record = run_script(EDIT_SCRIPT, host)
    assert record.state == "error"
    assert "would not put back the render settings" in record.message and '"VOID keep ' in record.message
    (kept,) = [p for p in host.project.render_presets if p.startswith("VOID keep ")]  # left for the artist
    assert kept in record.message
    assert host.project.render_jobs == {} and [t.name for t in host.project.timelines] == ["Edit v1"]


def test_a_bin_name_already_taken_gets_a_suffix_and_still_counts_as_a_result(engine, plugin_env, shot, work):
    import shutil

    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HANDLES="0")
    host = _sequence_scene(shot, mattes=("remove",))
    assert run_script(EDIT_SCRIPT, host).state == "done"
    shutil.rmtree(work / "sample" / "results")  # the work folder was emptied: the engine starts at v001 again
    second = run_script(EDIT_SCRIPT, host)
    assert second.state == "done", second.message
    s = summary(host, second)
    assert sorted(c["name"] for c in _bin(s)["clips"]) == ["sample_void_v001", "sample_void_v001_2"]
    assert [i["name"] for i in s["tracks"]["3"]] == ["sample_void_v001_2"]
    third = run_script(EDIT_SCRIPT, host)  # the playhead is on v001_2 now: still the shot below is cleaned
    assert third.state == "done", third.message
