"""The Fusion-page script against the fake Fusion and a real engine on 127.0.0.1."""

from __future__ import annotations

import time

import numpy as np
import OpenImageIO as oiio
import pytest
from fake_resolve import Artist, UIDispatcher, fusion_scene, run_script, summary

from .conftest import COMP_SCRIPT

SQUARE = [[0.3, 0.3], [0.7, 0.3], [0.7, 0.7], [0.3, 0.7]]
SHADOW = [[0.3, 0.1], [0.7, 0.1], [0.7, 0.25], [0.3, 0.25]]


def _pixels(path: str) -> np.ndarray:
    buf = oiio.ImageBuf(path)
    assert not buf.has_error, buf.geterror()
    return buf.get_pixels(oiio.FLOAT)


def _scene(shot, masks, render_range=(1002, 1005), plate_tool="MediaIn", **extra):
    return fusion_scene(
        {
            "plate": str(shot.path(shot.plate, 1001)),
            "render_range": list(render_range),
            "size": [shot.width, shot.height],
            "masks": masks,
            "plate_tool": plate_tool,
            "global_in": 1001,
            **extra,
        }
    )


def test_fusion_script_ends_with_a_loader_on_the_result_frames(engine, plugin_env, shot, tmp_path):
    eng = engine("preview")
    plugin_env(eng.endpoint)
    artist_out = tmp_path / "artist" / "comp_out.0000.exr"
    host = _scene(
        shot,
        [
            {"name": "remove_ball", "points": SQUARE},
            {"name": "Polygon_shadow", "points": SHADOW, "comments": "void:affected"},
        ],
        artist_saver=str(artist_out),
    )
    record = run_script(COMP_SCRIPT, host)
    assert record is not None and record.state == "done", record and record.message

    loaders = [t for t in host.comp.tools.values() if t.regid == "Loader"]
    assert len(loaders) == 1
    loader = loaders[0]
    assert (loader.inputs["GlobalIn"], loader.inputs["GlobalOut"]) == (1002, 1005)
    attrs = loader.GetAttrs()
    assert attrs["TOOLIT_Clip_StartFrame"] == [1002] and attrs["TOOLIT_Clip_Length"] == [4]
    # every result frame is a valid EXR of the plate's size; far from the masks it is the plate
    for t in range(1002, 1006):
        result = _pixels(loader.source_file(t))
        plate = _pixels(str(shot.path(shot.plate, t)))
        assert result.shape == plate.shape
        assert np.array_equal(result[:4, :4], plate[:4, :4])
    # wired where the plate was; the plate, the masks and the artist's tools are untouched
    assert host.comp.tools["ColorCorrector1"].links["Input"].tool is loader
    assert sorted(t.regid for t in host.comp.tools.values()) == sorted(
        ["MediaIn", "ColorCorrector", "MediaOut", "Saver", "PolylineMask", "PolylineMask", "Loader"]
    )
    # the artist's Saver was muted for our renders (never written) and is live again
    assert host.comp.tools["Saver1"].attrs["TOOLB_PassThrough"] is False
    assert not artist_out.parent.exists()
    s = summary(host, record)
    assert s["lock_depth"] == 0 and s["undo_open"] == []
    assert ["VOID result", True] in s["undo_history"] and ["VOID render", False] in s["undo_history"]
    # three temporary Savers rendered the comp's range, one Render each, none blocking the UI (issue 19.6)
    assert [(r["Start"], r["End"], r["Wait"]) for r in s["renders"]] == [(1002, 1005, False)] * 3
    assert s["off_thread"] == [], "host objects were touched from the job's thread"
    assert max(sec for name, sec in s["handler_seconds"] if name.endswith("Timeout")) < 1.0


def test_comp_without_a_mask_says_what_to_do(engine, plugin_env, shot):
    plugin_env("tcp://127.0.0.1:9")  # never contacted: the comp is checked first
    host = _scene(shot, [])
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "error"
    assert "no mask" in record.message and "remove" in record.message
    assert not any(t.regid in ("Saver", "Loader") for t in host.comp.tools.values())
    assert summary(host)["renders"] == []


def test_unmarked_masks_are_named_in_the_message(engine, plugin_env, shot):
    plugin_env("tcp://127.0.0.1:9")
    host = _scene(shot, [{"name": None, "points": SQUARE}])
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "error"
    assert "Polygon1" in record.message and "void:remove" in record.message


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_engine_unreachable_gives_a_clear_message_without_hanging(plugin_env, shot, work):
    from tests.engine.engine_harness import free_port

    address = f"tcp://127.0.0.1:{free_port()}"
    plugin_env(address, VOID_TIMEOUT="1")
    host = _scene(shot, [{"name": "remove", "points": SQUARE}])
    started = time.monotonic()
    record = run_script(COMP_SCRIPT, host)
    assert time.monotonic() - started < 15, "an unreachable engine must not hang the script"
    assert record.state == "unreachable"
    assert address in record.message and "void-engine serve" in record.message
    assert not any(t.regid in ("Saver", "Loader") for t in host.comp.tools.values())
    assert summary(host)["lock_depth"] == 0


def test_cancel_from_the_window_cancels_the_engine_job(engine, plugin_env, shot, monkeypatch):
    eng = engine("echo", step_s=0.4, steps=40)
    plugin_env(eng.endpoint)
    monkeypatch.setattr(UIDispatcher, "artist", Artist(cancel_when="step"))
    host = _scene(shot, [{"name": "remove", "points": SQUARE}])
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "cancelled", record.message
    assert "Cancelled" in record.message
    assert not any(t.regid == "Loader" for t in host.comp.tools.values())
    from bridge.client import EngineClient

    with EngineClient(eng.endpoint, token="resolve-tests-token", timeout=3) as c:
        assert c.status(record.job).state == "cancelled"


def test_frames_go_by_value_to_an_engine_without_shared_storage(engine, plugin_env, shot, tmp_path):
    eng = engine("preview")
    local = tmp_path / "artist_local"  # not one of the engine's roots: by path would be refused
    plugin_env(eng.endpoint, VOID_BY_VALUE="1", VOID_WORK_DIR=str(local))
    host = _scene(shot, [{"name": "remove", "points": SQUARE}], render_range=(1001, 1003))
    record = run_script(COMP_SCRIPT, host)
    assert record.state == "done", record.message
    loader = next(t for t in host.comp.tools.values() if t.regid == "Loader")
    assert loader.inputs["Clip"].startswith(str(local / "MediaIn1" / "fetched"))
    assert (loader.inputs["GlobalIn"], loader.inputs["GlobalOut"]) == (1001, 1003)
    for t in (1001, 1002, 1003):
        assert _pixels(loader.source_file(t)).shape == (shot.height, shot.width, 4)


def test_fusion_script_with_the_tiny_void_model(tmp_path, shot, work, plugin_env, monkeypatch):
    from tests.engine.engine_harness import EngineProcess, free_port, write_config
    from void_engine.pipeline.tiny import make_tiny_model

    model = make_tiny_model(tmp_path / "model")
    config = write_config(
        tmp_path / "tiny.toml",
        {
            "server": {
                "bind": f"tcp://127.0.0.1:{free_port()}",
                "state_dir": str(tmp_path / "state"),
                "roots": [str(shot.root), str(work)],
            },
            # A small model box and window keep the tiny model's CPU time to seconds; at the default
            # 384x672 / 85 frames even random tiny weights take minutes on 2 cores.
            "worker": {
                "backend": "void",
                "model": str(model),
                "steps": 2,
                "max_attempts": 1,
                "model_size": [32, 64],
                "window_frames": 21,
            },
        },
    )
    eng = EngineProcess(config).start(timeout=120)
    try:
        plugin_env(eng.endpoint)
        monkeypatch.setattr(UIDispatcher, "max_loop_s", 1800.0)
        host = _scene(shot, [{"name": "remove", "points": SQUARE}], render_range=(1001, 1003))
        record = run_script(COMP_SCRIPT, host)
        assert record.state == "done", record.message
        loader = next(t for t in host.comp.tools.values() if t.regid == "Loader")
        assert (loader.inputs["GlobalIn"], loader.inputs["GlobalOut"]) == (1001, 1003)
    finally:
        eng.kill()
