"""The Remove Object action against a real engine running the VOID pipeline on the tiny random model.

The preview-backend tests cover the plugin's behaviour in detail; this one proves the same artist
path drives the real pipeline (VAE, transformer, scheduler) end to end. The engine works at a small
model box (32x64, 21-frame window) so the tiny model takes seconds, not minutes, on 2 CPU cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.engine_harness import EngineProcess, free_port, write_config

from .nuke_helpers import PLATE_HW, answer_panel, make_scene, pump_until_finished, read_exr

FRAMES = range(1001, 1004)


@pytest.fixture
def tiny_engine(tmp_path):
    from void_engine.pipeline.tiny import make_tiny_model

    model = make_tiny_model(tmp_path / "model")
    root = tmp_path / "shots"
    root.mkdir()
    config = write_config(
        tmp_path / "engine.toml",
        {
            "server": {
                "bind": f"tcp://127.0.0.1:{free_port()}",
                "state_dir": str(tmp_path / "state"),
                "roots": [str(root)],
            },
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
        yield eng.endpoint, root
    finally:
        eng.kill()


def test_remove_object_runs_the_void_pipeline_on_the_tiny_model(fake_nuke, tiny_engine):
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    address, root = tiny_engine
    read, _ = make_scene(nuke, root / "sh010", FRAMES)
    answer_panel(nukescripts, address)

    job = remove_object()
    assert job is not None
    pump_until_finished(nuke, job, timeout=240)

    assert job.outcome.state == "done", job.outcome
    result = nuke.toNode(job.outcome.read_node)
    pattern = str(result["file"].value())
    assert (result["first"].value(), result["last"].value()) == (FRAMES[0], FRAMES[-1])
    assert result["colorspace"].value() == "ACES - ACEScg"
    for f in FRAMES:
        px, channels = read_exr(Path(nuke.fake_frame_path(pattern, f)))
        plate, _ = read_exr(root / "sh010" / "plates" / f"plate.{f:04d}.exr")
        assert px.shape[:2] == PLATE_HW and channels[:4] == ["R", "G", "B", "A"]
        assert (px[:, 100:, :3] == plate[:, 100:, :3]).all()  # far from the roto: the plate's bits
        assert not (px[40:52, 20:30, :3] == plate[40:52, 20:30, :3]).all()  # the model painted here
    task = nuke.fake_state.progress_tasks[-1]
    assert any("step" in m for m in task.messages)
