"""The mask modes and pass 2 through a real engine on 127.0.0.1.

(c) a one-frame roto propagated by the tiny SAM2, by path and by value through `void-bridge
submit`; (d) the same roto plus an instruction, reasoned about by the local fake Gemini (reached
through the SDK's base_url); (d) without an API key (skipped, job done); pass 2 on the tiny VOID
model (both passes run); what the engine cannot do is refused at submit, naming the field.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bridge import protocol as P
from bridge.client import EngineClient
from bridge.protocol import JobMasks, JobSpec
from tests.fakes.gemini_server import FakeGemini

from .engine_harness import REPO, env_for_engine

KEY_ENV = "VOID_TEST_GEMINI_KEY"


@pytest.fixture
def one_thread_engine(monkeypatch):
    """Engines started in this test run torch on one thread: the tiny SAM2's ops gain nothing from
    threads and, on a shared 2-core machine, spinning OpenMP workers made them ten times slower."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv(KEY_ENV, raising=False)


def sam2_config(engine_config, **over):
    return engine_config(masks__sam2_random_weights=True, **over)


def propagate_job(shot, out: Path | None, **over) -> JobSpec:
    key = shot.frames[1]
    masks = JobMasks(mode="propagate", roto=shot.remove_matte, keyframes=(key,))
    base = dict(
        plate=shot.plate,
        frames=tuple(shot.frames),
        prompt="the wall behind the ball",
        out=str(out) if out else None,
        masks=masks,
    )
    base.update(over)
    return JobSpec(**base)


def quadmasks_of(version_dir: Path, frames) -> list[np.ndarray]:
    from void_engine.masks import read_quadmask_sequence
    from void_engine.plates import FrameSequence

    files = sorted((version_dir / "quadmask").glob("*.exr"))
    assert len(files) == len(frames), files
    pattern = files[0].name.rsplit(".", 2)[0] + ".####.exr"  # <name>_quadmask.1001.exr
    seq = FrameSequence(str(version_dir / "quadmask" / pattern), tuple(frames))
    return read_quadmask_sequence(seq)


def provenance(path: str) -> dict[str, str]:
    from void_engine.plates import read_plate

    return {a.name: str(a.value) for a in read_plate(path).spec.attributes if a.name.startswith("void:")}


def key_matte(shot) -> np.ndarray:
    from void_engine.masks import read_matte
    from void_engine.plates import FrameSequence

    return read_matte(FrameSequence(shot.remove_matte, shot.frames).path(shot.frames[1])) > 0.5


def test_propagate_job_builds_the_quadmask_with_sam2_by_path_and_by_value(
    engine_config, start_engine, sample_shot, tmp_path, one_thread_engine
):
    from void_engine.masks import REMOVE
    from void_engine.plates import FrameSequence

    eng = start_engine(sam2_config(engine_config))
    with EngineClient(eng.endpoint, timeout=30.0) as client:
        hello = client.hello()
        assert "propagate" in hello["mask_modes"] and hello["sam2"] is True
        job = client.submit(propagate_job(sample_shot, tmp_path / "out"))
        events = list(client.events(job, give_up_after=120))
    assert events[-1].state == "done", (events[-1], eng.log()[-3000:])
    stages = [e.stage for e in events if e.kind == "stage"]
    assert stages.index("masks") < stages.index("propagate") < stages.index("read") < stages.index("model")
    version = Path(events[-1].output).parent
    quads = quadmasks_of(version, sample_shot.frames)
    assert len(quads) == len(sample_shot.frames)
    assert np.array_equal(quads[1] == REMOVE, key_matte(sample_shot))  # exact on the key frame
    prov = provenance(FrameSequence(events[-1].output, sample_shot.frames).path(sample_shot.frames[0]))
    assert prov["void:mask_source"] == "propagate" and prov["void:passes"] == "1"
    assert prov["void:mask_keyframes"] == str(sample_shot.frames[1])
    assert (version / prov["void:quadmask"].replace("####", f"{sample_shot.frames[0]:04d}")).is_file()

    # By value through the CLI: the roto's one key frame travels with the plate.
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridge.cli",
            "--engine",
            eng.endpoint,
            "--timeout",
            "30",
            "--token",
            "cli-user",
            "submit",
            "--plate",
            sample_shot.plate,
            "--frames",
            sample_shot.frame_range,
            "--roto",
            sample_shot.remove_matte,
            "--roto-frames",
            str(sample_shot.frames[1]),
            "--prompt",
            "the wall",
            "--by-value",
            "--wait",
            "--fetch",
            str(tmp_path / "fetched"),
        ],
        cwd=REPO,
        env=env_for_engine(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    job_id = cli.stdout.splitlines()[0].strip()
    out_dir = tmp_path / "state" / "jobs" / job_id / "out"
    by_value = quadmasks_of(next(out_dir.glob("v*")), sample_shot.frames)
    assert np.array_equal(by_value[1] == REMOVE, key_matte(sample_shot))
    assert cli.stdout.strip().splitlines()[-1].endswith("sample_void.####.exr")


def _shadow_answer(frames, cells):
    return {
        "reasoning": "the ball casts a shadow on the ground",
        "integral_belongings": [],
        "affected_objects": [
            {
                "noun": "shadow",
                "category": "visual_artifact",
                "why": "cast by the ball",
                "cells_now": [{"frame": f, "cells": [{"row": r, "col": c} for r, c in cells]} for f in frames],
                "will_move": False,
            }
        ],
        "scene_description": "a wall and a floor",
    }


def test_reason_job_asks_the_fake_gemini_and_marks_the_affected_region(
    engine_config, start_engine, sample_shot, tmp_path, one_thread_engine, monkeypatch
):
    from void_engine.masks.grid import Grid
    from void_engine.masks.quadmask import split_quadmask

    cells = [(0, 0), (0, 1)]  # the top-left corner: far from the ball
    with FakeGemini() as fake:
        fake.reply_json(_shadow_answer(sample_shot.frames, cells))
        monkeypatch.setenv(KEY_ENV, "test-key")
        eng = start_engine(
            sam2_config(
                engine_config,
                masks__reasoner_api_key_env=KEY_ENV,
                masks__reasoner_base_url=fake.base_url,
                masks__reasoner_model="gemini-test",
                masks__reasoner_timeout_s=20.0,
            )
        )
        spec = propagate_job(sample_shot, tmp_path / "out")
        spec = JobSpec(
            **{
                **spec.__dict__,
                "masks": JobMasks(
                    mode="reason",
                    roto=sample_shot.remove_matte,
                    keyframes=(sample_shot.frames[1],),
                    instruction="remove the red ball and its shadow",
                ),
            }
        )
        with EngineClient(eng.endpoint, timeout=30.0) as client:
            assert client.hello()["reasoner"] is True
            events = list(client.events(client.submit(spec), give_up_after=120))
        requests = list(fake.requests)
    assert events[-1].state == "done", (events[-1], eng.log()[-3000:])
    assert len(requests) == 1 and requests[0].path.endswith("gemini-test:generateContent")
    assert any("remove the red ball and its shadow" in t for t in requests[0].texts())
    assert "reason" in [e.stage for e in events if e.kind == "stage"]
    quads = quadmasks_of(Path(events[-1].output).parent, sample_shot.frames)
    region = Grid.for_frame(sample_shot.width, sample_shot.height).cells_mask(cells)
    for q in quads:
        _, affected = split_quadmask(q)
        assert affected[region].all()
    prov = provenance(events[-1].output.replace("####", f"{sample_shot.frames[0]:04d}"))
    assert prov["void:mask_source"] == "propagate+reasoner"


def test_reason_job_without_api_key_is_done_with_a_reasoning_skipped_event(
    engine_config, start_engine, sample_shot, tmp_path, one_thread_engine
):
    from void_engine.masks import AFFECTED, OVERLAP

    eng = start_engine(
        engine_config(masks__reasoner_api_key_env=KEY_ENV, masks__reasoner_base_url="http://127.0.0.1:9")
    )
    spec = JobSpec(
        plate=sample_shot.plate,
        frames=tuple(sample_shot.frames),
        prompt="the wall",
        out=str(tmp_path / "out"),
        masks=JobMasks(mode="reason", remove=sample_shot.remove_matte, instruction="remove the ball"),
    )
    with EngineClient(eng.endpoint, timeout=30.0) as client:
        assert client.hello()["reasoner"] is False
        events = list(client.events(client.submit(spec), give_up_after=60))
    assert events[-1].state == "done", (events[-1], eng.log()[-3000:])
    logs = [e.message for e in events if e.kind == "log"]
    assert any("reasoning skipped" in m and KEY_ENV in m for m in logs), logs
    quads = quadmasks_of(Path(events[-1].output).parent, sample_shot.frames)
    assert not any(((q == AFFECTED) | (q == OVERLAP)).any() for q in quads)


def test_what_the_engine_cannot_run_is_refused_at_submit_naming_the_field(
    engine_config, start_engine, sample_shot, tmp_path, monkeypatch
):
    monkeypatch.delenv("VOID_SAM2_CHECKPOINT", raising=False)
    eng = start_engine(engine_config())  # echo backend (no pass 2), no SAM2 configured
    with EngineClient(eng.endpoint) as client:
        hello = client.hello()
        assert hello["pass2"] is False and "pass 2" in hello["pass2_error"]
        assert "propagate" not in hello["mask_modes"]
        for spec, field, words in (
            (propagate_job(sample_shot, tmp_path / "out"), "job.masks.mode", "SAM2"),
            (
                JobSpec(
                    plate=sample_shot.plate,
                    frames=tuple(sample_shot.frames),
                    prompt="x",
                    out=str(tmp_path / "out"),
                    remove=sample_shot.remove_matte,
                    pass2=True,
                ),
                "job.pass2",
                "pass 2",
            ),
        ):
            with pytest.raises(P.ProtocolError) as info:
                client.submit(spec)
            assert info.value.field == field and words in info.value.message
        assert client.list() == []


def test_by_path_roto_outside_the_roots_is_refused(engine_config, start_engine, sample_shot, tmp_path):
    eng = start_engine(sam2_config(engine_config))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    spec = propagate_job(sample_shot, tmp_path / "out")
    spec = JobSpec(
        **{
            **spec.__dict__,
            "masks": JobMasks(
                mode="propagate", roto=str(outside / "roto.####.exr"), keyframes=(sample_shot.frames[0],)
            ),
        }
    )
    with EngineClient(eng.endpoint) as client:
        with pytest.raises(P.ProtocolError) as info:
            client.submit(spec)
    assert (info.value.code, info.value.field) == (P.UNAUTHORISED, "job.masks.roto")


@pytest.fixture(scope="module")
def tiny_model_with_pass2(tmp_path_factory) -> Path:
    from void_engine.pipeline.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny_model_p2") / "model", with_pass2=True)


def test_pass2_on_the_tiny_model_runs_both_passes(
    engine_config, start_engine, sample_shot, tiny_model_with_pass2, tmp_path, one_thread_engine
):
    config = engine_config(
        worker__backend="void",
        worker__model=str(tiny_model_with_pass2),
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
        pass2=True,
        seed=2,
    )
    with EngineClient(eng.endpoint, timeout=30.0) as client:
        assert client.hello()["pass2"] is True
        events = list(client.events(client.submit(spec), give_up_after=300))
    assert events[-1].state == "done", (events[-1], eng.log()[-3000:])
    kinds = [
        ("pass2" if e.stage == "pass2" else "model")
        if e.kind == "stage" and e.stage in ("model", "pass2")
        else "step"
        if e.kind == "step"
        else None
        for e in events
    ]
    kinds = [k for k in kinds if k]
    first, second = kinds.index("model"), kinds.index("pass2")
    assert first < second
    assert kinds[first + 1 : second].count("step") == 2 and kinds[second + 1 :].count("step") == 2
    prov = provenance(events[-1].output.replace("####", f"{sample_shot.frames[0]:04d}"))
    assert prov["void:passes"] == "1+2"


def test_pass2_file_name_matches_the_model_folder_layout():
    from void_engine import backends
    from void_engine.pipeline.model_dir import PASS2_FILE

    assert backends._PASS2_FILE == PASS2_FILE
