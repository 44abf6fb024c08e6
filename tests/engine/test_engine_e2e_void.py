"""End to end: a real engine process with the tiny VOID model ("void" backend), real EXR plates.

Submit by path and by value, receive per-step events, fetch the results; outside the matte the
output is bit-identical to the plate. The model works at a small model_size to keep CPU time low.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from bridge.client import EngineClient
from bridge.protocol import JobSpec

from .test_engine_server import far_from_mask

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("void_engine.pipeline.tiny") is None,
    reason="void_engine.pipeline (issue 4) is not in this build; the 'void' backend cannot be tested",
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from void_engine.pipeline.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny_model") / "model")


def test_void_backend_by_path_and_by_value_with_step_events(
    engine_config, start_engine, sample_shot, tiny_model, tmp_path
):
    from void_engine.plates import FrameSequence, read_plate

    config = engine_config(
        worker__backend="void",
        worker__model=str(tiny_model),
        worker__steps=2,
        worker__model_size=[32, 64],
        worker__window_frames=21,
    )
    eng = start_engine(config)
    spec = JobSpec(
        plate=sample_shot.plate,
        frames=tuple(sample_shot.frames),
        prompt="an empty wall",
        out=str(tmp_path / "out"),
        remove=sample_shot.remove_matte,
        affected=sample_shot.affected_matte,
        seed=3,
    )
    with EngineClient(eng.endpoint, timeout=30.0) as client:
        hello = client.hello()
        assert hello["backend"] == "void" and "void" in hello["backends"]
        by_path = client.submit(spec)
        by_value = client.submit(JobSpec(**{**spec.__dict__, "out": None}), by_value=True)
        events = list(client.events(by_path, give_up_after=300))
        st_value = client.wait(by_value, give_up_after=300)
        fetched = client.fetch(by_value, tmp_path / "fetched")
    assert events[-1].state == "done", (events[-1], eng.log()[-3000:])
    steps = [(e.step, e.total) for e in events if e.kind == "step"]
    assert steps and steps[-1][0] == steps[-1][1] and len(steps) >= 2
    assert st_value.state == "done"

    out_seq = FrameSequence(events[-1].output, tuple(sample_shot.frames))
    fetched_seq = FrameSequence(fetched.local_pattern, tuple(sample_shot.frames))
    plate_seq = FrameSequence(sample_shot.plate, tuple(sample_shot.frames))
    changed = 0
    for frame in sample_shot.frames:
        plate = read_plate(plate_seq.path(frame))
        keep = far_from_mask(sample_shot, frame)
        for seq in (out_seq, fetched_seq):
            out = read_plate(seq.path(frame))
            assert out.spec.channel_names == plate.spec.channel_names
            assert np.array_equal(out.pixels[keep], plate.pixels[keep])
            changed += int((out.pixels != plate.pixels).any())
        assert "void:job" in {a.name for a in read_plate(out_seq.path(frame)).spec.attributes}
    assert changed > 0  # the model's pixels did land inside the matte
