"""The Resolve scripts send pass 2 and a key-frame roto (mask mode c/d) to a real engine on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_resolve import fusion_scene, run_script, summary

from .conftest import COMP_SCRIPT

SQUARE = [[0.3, 0.3], [0.7, 0.3], [0.7, 0.7], [0.3, 0.7]]


def _scene(shot, masks, render_range=(1002, 1005)):
    return fusion_scene(
        {
            "plate": str(shot.path(shot.plate, 1001)),
            "render_range": list(render_range),
            "size": [shot.width, shot.height],
            "masks": masks,
            "plate_tool": "MediaIn",
            "global_in": 1001,
        }
    )


def _job_spec(endpoint: str, job: str) -> dict:
    from bridge.client import EngineClient

    with EngineClient(endpoint, token="resolve-tests-token") as client:
        return client.status(job).spec


def _provenance(path: str) -> dict[str, str]:
    from void_engine.plates import read_plate

    return {a.name: str(a.value) for a in read_plate(path).spec.attributes if a.name.startswith("void:")}


def test_fusion_script_sends_pass2_and_the_engine_runs_both_passes(engine, plugin_env, shot):
    eng = engine("echo-pass2")
    plugin_env(eng.endpoint, VOID_PASS2="1")
    host = _scene(shot, [{"name": "remove_ball", "points": SQUARE}])
    record = run_script(COMP_SCRIPT, host)
    assert record is not None and record.state == "done", record and record.message
    spec = _job_spec(eng.endpoint, record.job)
    assert spec["pass2"] is True and spec["remove"].endswith(".exr")  # plain mattes keep the older fields
    loader = next(t for t in host.comp.tools.values() if t.regid == "Loader")
    assert _provenance(loader.source_file(1002))["void:passes"] == "1+2"


def test_fusion_key_frame_roto_is_rendered_on_its_key_frame_and_sent_as_mode_c(
    shot, work, plugin_env, tmp_path, monkeypatch
):
    from tests.engine.engine_harness import EngineProcess, free_port, write_config

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny SAM2: threads only spin on shared cores
    config = write_config(
        tmp_path / "sam2.toml",
        {
            "server": {
                "bind": f"tcp://127.0.0.1:{free_port()}",
                "state_dir": str(tmp_path / "state"),
                "roots": [str(shot.root), str(work)],
            },
            "worker": {"backend": "preview", "steps": 2, "max_attempts": 1},
            "masks": {"sam2_random_weights": True},
        },
    )
    eng = EngineProcess(config).start()
    try:
        plugin_env(eng.endpoint)
        host = _scene(shot, [{"name": "remove_ball", "points": SQUARE, "comments": "void:keyframes 1003"}])
        record = run_script(COMP_SCRIPT, host)
        assert record is not None and record.state == "done", record and record.message
        spec = _job_spec(eng.endpoint, record.job)
    finally:
        eng.kill()
    assert spec["masks"]["mode"] == "propagate" and spec["masks"]["keyframes"] == [1003]
    assert "remove" not in spec
    renders = [(r["Start"], r["End"]) for r in summary(host, record)["renders"]]
    assert sorted(renders) == [(1002, 1005), (1003, 1003)]  # the plate over the range, the roto on its key
    loader = next(t for t in host.comp.tools.values() if t.regid == "Loader")
    assert _provenance(loader.source_file(1002))["void:mask_source"] == "propagate"


@pytest.mark.parametrize(
    "keyframes, instruction, mode",
    [((1003,), None, "propagate"), ((1003,), "the ball", "reason"), ((), "the ball", "reason")],
)
def test_build_spec_picks_the_mask_mode_from_key_frames_and_instruction(keyframes, instruction, mode):
    from bridge.protocol import JobSpec
    from void_resolve.jobs import build_spec
    from void_resolve.settings import settings_from_env

    settings = settings_from_env({"VOID_PASS2": "yes", **({"VOID_INSTRUCTION": instruction} if instruction else {})})
    spec = build_spec(
        settings,
        plate="/s/p.####.exr",
        frames=(1002, 1003, 1004),
        prompt="wall",
        name="s_void",
        remove="/s/r.####.exr",
        affected=None,
        out=Path("/s/out"),
        keyframes=keyframes,
    )
    assert spec.pass2 and spec.masks is not None and spec.masks.mode == mode
    assert spec.masks.keyframes == keyframes and spec.masks.instruction == instruction
    JobSpec.from_wire(spec.to_wire())  # valid as sent


def test_bad_pass2_variable_is_named():
    from void_resolve.settings import settings_from_env

    with pytest.raises(ValueError, match="VOID_PASS2"):
        settings_from_env({"VOID_PASS2": "maybe"})
