"""The Fusion page: mattes at the plate's size, a second run, renders that leave the UI free (issue 19)."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest
from fake_resolve import UIDispatcher, fusion_scene, run_script, summary

from .conftest import COMP_SCRIPT
from .test_resolve_fusion_script import SQUARE, _pixels, _scene


def test_mattes_are_rendered_at_the_plate_s_size_when_the_comp_format_differs(engine, plugin_env, shot):
    eng = engine("preview")
    plugin_env(eng.endpoint)
    host = _scene(shot, [{"name": "remove", "points": SQUARE}], format=[1920, 1080])
    assert host.comp.tools["remove"].inputs["Width"] == 1920  # the mask renders at the comp's format
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "done", record.message
    loader = next(t for t in host.comp.tools.values() if t.regid == "Loader")
    assert _pixels(loader.source_file(1002)).shape == (shot.height, shot.width, 4)
    assert host.comp.tools["remove"].inputs["Width"] == 1920  # the artist's mask is left as it was


def test_a_second_run_gives_v002_wired_where_v001_was(engine, plugin_env, shot):
    eng = engine("preview")
    plugin_env(eng.endpoint)
    host = _scene(shot, [{"name": "remove", "points": SQUARE}])
    first = run_script(COMP_SCRIPT, host)
    assert first.state == "done", first.message
    second = run_script(COMP_SCRIPT, host)
    assert second.state == "done", second.message
    loaders = sorted(t.name for t in host.comp.tools.values() if t.regid == "Loader")
    assert loaders == ["VOID_MediaIn1_v001", "VOID_MediaIn1_v002"]
    v002 = host.comp.tools["VOID_MediaIn1_v002"]
    assert "/results/v002/" in v002.inputs["Clip"]
    assert (v002.inputs["GlobalIn"], v002.inputs["GlobalOut"]) == (1002, 1005)
    assert host.comp.tools["ColorCorrector1"].links["Input"].tool is v002
    assert summary(host)["lock_depth"] == 0


def test_a_result_loader_fusion_will_not_add_is_a_clear_message(engine, plugin_env, shot):
    eng = engine("preview")
    plugin_env(eng.endpoint)
    host = _scene(shot, [{"name": "remove", "points": SQUARE}])
    host.comp.refuse_tools.add("Loader")
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "failed"
    assert "would not add a Loader" in record.message and "NoneType" not in record.message
    assert summary(host)["lock_depth"] == 0 and summary(host)["undo_open"] == []


def test_no_tool_input_is_set_that_fusion_does_not_have(engine, plugin_env, shot):
    eng = engine("preview")
    plugin_env(eng.endpoint)
    host = _scene(
        shot,
        [
            {"name": "remove_ball", "points": SQUARE},
            {"name": "shadow", "points": SQUARE, "comments": "void:affected"},
        ],
    )
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "done", record.message
    assert summary(host, record)["unknown_inputs"] == []


def _long_plate(folder, frames: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for f in range(1001, 1001 + frames):
        spec = oiio.ImageSpec(32, 24, 4, oiio.HALF)
        out = oiio.ImageOutput.create(str(folder / f"long.{f:04d}.exr"))
        out.open(str(folder / f"long.{f:04d}.exr"), spec)
        out.write_image(rng.random((24, 32, 4), dtype=np.float32))
        out.close()
    return str(folder / "long.1001.exr")


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_the_window_keeps_answering_while_a_100_frame_plate_renders(plugin_env, tmp_path, monkeypatch):
    from tests.engine.engine_harness import free_port

    plugin_env(f"tcp://127.0.0.1:{free_port()}", VOID_TIMEOUT="1", VOID_FAKE_FUSION_RENDER_S_PER_FRAME="0.01")
    monkeypatch.setattr(UIDispatcher, "max_loop_s", 120.0)
    plate = _long_plate(tmp_path / "long", 100)
    host = fusion_scene(
        {
            "plate": plate,
            "render_range": [1001, 1100],
            "size": [32, 24],
            "masks": [{"name": "remove", "points": SQUARE}],
            "global_in": 1001,
        }
    )
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "unreachable", record.message  # every frame rendered; no engine to take them
    s = summary(host, record)
    slowest = max(sec for name, sec in s["handler_seconds"])
    assert slowest < 0.25, s["handler_seconds"]
    plate_progress = {t for t in s["status"] if t.startswith("Fusion is rendering the plate")}
    assert len(plate_progress) >= 3, s["status"]  # progress kept moving
    assert s["lock_depth"] == 0 and s["undo_open"] == []


@pytest.mark.parametrize("delivery", ["window", "dispatcher", "both"])
def test_timer_ticks_reach_the_window_wherever_the_build_delivers_them(engine, plugin_env, shot, monkeypatch, delivery):
    eng = engine("preview")
    plugin_env(eng.endpoint)
    monkeypatch.setattr(UIDispatcher, "timer_delivery", delivery)
    monkeypatch.setattr(UIDispatcher, "max_loop_s", 20.0)
    host = _scene(shot, [{"name": "remove", "points": SQUARE}])
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "done", record.message


def test_render_folders_are_removed_when_the_run_ends(engine, plugin_env, shot, work):
    eng = engine("preview")
    plugin_env(eng.endpoint)
    record = run_script(COMP_SCRIPT, _scene(shot, [{"name": "remove", "points": SQUARE}]))
    assert record.state == "done", record.message
    renders = work / "MediaIn1" / "renders"
    assert not renders.exists() or list(renders.iterdir()) == []
    assert len(list((work / "MediaIn1" / "results" / "v001").glob("*.exr"))) == 4


def test_cancel_during_fusion_s_render_stops_it_and_restores_the_comp(plugin_env, shot, monkeypatch, work):
    from fake_resolve import Artist

    plugin_env("tcp://127.0.0.1:9", VOID_FAKE_FUSION_RENDER_S_PER_FRAME="0.3")
    monkeypatch.setattr(UIDispatcher, "artist", Artist(cancel_when="Fusion is rendering"))
    host = _scene(shot, [{"name": "remove", "points": SQUARE}], artist_saver=str(work / "artist" / "out.0000.exr"))
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "cancelled", record.message
    s = summary(host, record)
    assert f"{host.comp.name}.AbortRender" in s["calls"] and not host.comp.IsRendering()
    assert sorted(t.regid for t in host.comp.tools.values()) == [
        "ColorCorrector",
        "MediaIn",
        "MediaOut",
        "PolylineMask",
        "Saver",
    ]
    assert host.comp.tools["Saver1"].attrs["TOOLB_PassThrough"] is False
    assert s["lock_depth"] == 0 and s["undo_open"] == []
    renders = work / "MediaIn1" / "renders"
    assert not renders.exists() or list(renders.iterdir()) == []


def test_headless_fusion_run_renders_and_reports_on_the_console(engine, plugin_env, shot, capsys):
    eng = engine("preview")
    plugin_env(eng.endpoint, VOID_HEADLESS="1")
    host = _scene(shot, [{"name": "remove", "points": SQUARE}])
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "done", record.message
    assert "Done: Loader VOID_MediaIn1_v001" in capsys.readouterr().out
    assert summary(host, record)["status"] == []  # no window was opened
