"""Mask mode "text" through a real engine on 127.0.0.1, on real EXR plates, with the tiny SAM3.

By path (EngineClient), by value (`void-bridge submit --remove-text ... --by-value`) and in
process (`void-engine run --remove-text ...`): each publishes the quadmask it used beside the
result. An engine without SAM3 refuses the job at submit naming the setting; a text SAM3 finds
nowhere fails the job naming the text and the frames searched; the reasoner's named object is
segmented by SAM3. The tiny SAM3 is seeded: score threshold 0 finds "it" everywhere, 0.99 nowhere.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridge import protocol as P
from bridge.client import EngineClient
from bridge.protocol import JobMasks, JobSpec
from tests.fakes.gemini_server import FakeGemini

from .engine_harness import REPO, env_for_engine
from .test_engine_masks_pass2 import KEY_ENV, provenance, quadmasks_of


@pytest.fixture
def one_thread_engine(monkeypatch):
    """Engines (and `void-engine run`) started here run torch on one thread (see the pass-2 tests)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv("VOID_SAM3_CHECKPOINT", raising=False)


def text_config(engine_config, threshold: float = 0.0, **over):
    return engine_config(
        masks__sam2_random_weights=True,
        masks__sam3_random_weights=True,
        masks__sam3_score_threshold=threshold,
        **over,
    )


def text_job(shot, out: Path | None, text: str = "the red ball", **masks) -> JobSpec:
    return JobSpec(
        plate=shot.plate,
        frames=tuple(shot.frames),
        prompt="the wall behind the ball",
        out=str(out) if out else None,
        masks=JobMasks(mode="text", remove_text=text, **masks),
    )


def test_text_job_by_path_publishes_the_quadmask_it_used(
    engine_config, start_engine, sample_shot, tmp_path, one_thread_engine
):
    from void_engine.plates import FrameSequence

    eng = start_engine(text_config(engine_config))
    with EngineClient(eng.endpoint, timeout=30.0) as client:
        hello = client.hello()
        assert "text" in hello["mask_modes"] and hello["sam3"] is True
        events = list(client.events(client.submit(text_job(sample_shot, tmp_path / "out")), give_up_after=120))
    assert events[-1].state == "done", (events[-1], eng.log()[-3000:])
    stages = [e.stage for e in events if e.kind == "stage"]
    assert stages.index("masks") < stages.index("find") < stages.index("model")
    version = Path(events[-1].output).parent
    quads = quadmasks_of(version, sample_shot.frames)
    assert len(quads) == len(sample_shot.frames)
    prov = provenance(FrameSequence(events[-1].output, sample_shot.frames).path(sample_shot.frames[0]))
    assert prov["void:mask_source"] == "text"
    assert (version / prov["void:quadmask"].replace("####", f"{sample_shot.frames[0]:04d}")).is_file()


def test_void_bridge_submit_remove_text_by_value(engine_config, start_engine, sample_shot, tmp_path, one_thread_engine):
    eng = start_engine(text_config(engine_config))
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
            "--remove-text",
            "the red ball",
            "--text-frames",
            str(sample_shot.frames[1]),
            "--prompt",
            "the wall",
            "--by-value",
            "--wait",
        ],
        cwd=REPO,
        env=env_for_engine(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr[-2000:] + eng.log()[-2000:]
    job_id = cli.stdout.splitlines()[0].strip()
    out_dir = tmp_path / "state" / "jobs" / job_id / "out"
    assert len(quadmasks_of(next(out_dir.glob("v*")), sample_shot.frames)) == len(sample_shot.frames)
    assert cli.stdout.strip().splitlines()[-1].endswith("sample_void.####.exr")


def test_void_engine_run_remove_text_publishes_the_quadmask(engine_config, sample_shot, tmp_path, one_thread_engine):
    config = text_config(engine_config)
    out = tmp_path / "out"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "void_engine.cli",
            "run",
            "--config",
            str(config),
            "--plate",
            sample_shot.plate,
            "--frames",
            sample_shot.frame_range,
            "--remove-text",
            "the red ball",
            "--prompt",
            "the wall",
            "--out",
            str(out),
            "--backend",
            "preview",
        ],
        cwd=REPO,
        env=env_for_engine(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines()[-1].split()[-1] == str(out / "v001" / "sample_void.####.exr")
    assert len(quadmasks_of(out / "v001", sample_shot.frames)) == len(sample_shot.frames)


def test_text_job_without_sam3_is_refused_at_submit_naming_the_setting(
    engine_config, start_engine, sample_shot, tmp_path, one_thread_engine
):
    eng = start_engine(engine_config(masks__sam2_random_weights=True))  # SAM2, but no SAM3 checkpoint
    with EngineClient(eng.endpoint) as client:
        hello = client.hello()
        assert "text" not in hello["mask_modes"] and hello["sam3"] is False
        with pytest.raises(P.ProtocolError) as info:
            client.submit(text_job(sample_shot, tmp_path / "out"))
        assert info.value.field == "job.masks.mode"
        assert "SAM3" in info.value.message and "sam3_checkpoint" in info.value.message
        assert client.list() == []


def test_text_found_nowhere_fails_naming_the_text_and_the_frames(
    engine_config, start_engine, sample_shot, tmp_path, one_thread_engine
):
    eng = start_engine(text_config(engine_config, threshold=0.99))
    with EngineClient(eng.endpoint, timeout=30.0) as client:
        events = list(
            client.events(client.submit(text_job(sample_shot, tmp_path / "out", "the glass")), give_up_after=120)
        )
    last = events[-1]
    assert last.state == "failed", (last, eng.log()[-3000:])
    first, final = sample_shot.frames[0], sample_shot.frames[-1]
    assert "'the glass'" in last.message and f"{first}-{final}" in last.message, last.message
    assert not list((tmp_path / "out").rglob("*.exr"))


def test_reason_job_segments_the_named_object_with_sam3(
    engine_config, start_engine, sample_shot, tmp_path, one_thread_engine, monkeypatch
):
    from void_engine.masks.grid import Grid
    from void_engine.masks.quadmask import split_quadmask

    cells = [(6, 0), (7, 0), (7, 1)]  # bottom left, where the seeded tiny SAM3 "sees" a cushion
    answer = {
        "reasoning": "the ball leans on a cushion",
        "integral_belongings": [],
        "affected_objects": [
            {
                "noun": "the cushion",
                "category": "physical",
                "why": "pressed by the ball",
                "cells_now": [
                    {"frame": f, "cells": [{"row": r, "col": c} for r, c in cells]} for f in sample_shot.frames
                ],
                "will_move": False,
            }
        ],
        "scene_description": "a wall and a floor",
    }
    with FakeGemini() as fake:
        fake.reply_json(answer)
        monkeypatch.setenv(KEY_ENV, "test-key")
        eng = start_engine(
            text_config(
                engine_config,
                masks__reasoner_api_key_env=KEY_ENV,
                masks__reasoner_base_url=fake.base_url,
                masks__reasoner_model="gemini-test",
                masks__reasoner_timeout_s=20.0,
            )
        )
        spec = text_job(sample_shot, tmp_path / "out", instruction="remove the red ball and what it presses")
        with EngineClient(eng.endpoint, timeout=30.0) as client:
            events = list(client.events(client.submit(spec), give_up_after=180))
    assert events[-1].state == "done", (events[-1], eng.log()[-3000:])
    logs = [e.message for e in events if e.kind == "log"]
    assert any("'the cushion': segmented by SAM3" in m for m in logs), logs
    limit = Grid.for_frame(sample_shot.width, sample_shot.height).cells_mask(cells, pad_cells=1)
    for q in quadmasks_of(Path(events[-1].output).parent, sample_shot.frames):
        _, affected = split_quadmask(q)
        assert affected.any() and not (affected & ~limit).any()
    prov = provenance(events[-1].output.replace("####", f"{sample_shot.frames[0]:04d}"))
    assert prov["void:mask_source"] == "text+reasoner"
