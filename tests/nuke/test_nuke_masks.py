"""The panel's "propagate" mask mode for real: the roto is rendered on the key frame only (the current
frame by default) and reaches a real engine (tiny random SAM2, preview backend) as mask mode (c)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from .nuke_helpers import answer_panel, make_scene, pump_until_finished, start_engine

FRAMES = range(1001, 1005)


@pytest.fixture
def sam2_engine(tmp_path, monkeypatch):
    """An engine whose mask stage has the tiny random SAM2; torch on one thread (tiny ops, shared cores)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    root, state = tmp_path / "root", tmp_path / "state"
    root.mkdir()
    state.mkdir()
    config = tmp_path / "engine.toml"
    config.write_text("[masks]\nsam2_random_weights = true\n")
    eng = start_engine(root, state, config=config)
    try:
        yield eng.endpoint, root
    finally:
        eng.stop()


def test_propagate_mode_renders_the_key_frame_only_and_reaches_the_engine_as_mode_c(fake_nuke, sam2_engine):
    nuke = fake_nuke
    import nukescripts

    from bridge.client import EngineClient
    from void_nuke.action import remove_object
    from void_nuke.settings import MASK_MODES

    address, root = sam2_engine
    shot = root / uuid.uuid4().hex[:8]
    _, roto = make_scene(nuke, shot, FRAMES)
    nuke.frame(1002)  # the artist checked the roto here
    answer_panel(nukescripts, address, mask_mode=MASK_MODES.index("propagate"), pass2=False)

    job = remove_object()
    assert job is not None
    pump_until_finished(nuke, job)

    assert job.outcome.state == "done", job.outcome
    rendered = [(start, end) for _name, start, end in nuke.fake_state.executed]
    assert rendered == [(1002, 1002)]  # the plate is a Read of EXRs; the roto only on its key frame
    with EngineClient(address, token="nuke-tests-token") as client:
        spec = client.status(job.outcome.job).spec
    masks = spec["masks"]
    assert masks["mode"] == "propagate" and masks["keyframes"] == [1002]
    assert masks["roto"].endswith("roto.####.exr") and "remove" not in spec
    # The engine built the whole quadmask from the one frame and ran the job.
    version = Path(job.outcome.output).parent
    assert sorted(p.name for p in (version / "quadmask").glob("*.exr")) == [
        f"{Path(job.outcome.output).name.split('.')[0]}_quadmask.{f}.exr" for f in FRAMES
    ]
    assert nuke.toNode(job.outcome.read_node) is not None
