"""Bounded disk: the spool cap (`busy`, naming the cap) and the retention of by-value results
(at start and periodically; by-path results are never deleted)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bridge.client import EngineClient
from bridge.protocol import BUSY, NOT_FOUND, JobSpec, ProtocolError

from .engine_harness import wait_until

TOKEN = "artist-token-spool"


def job_for(shot, out_dir: Path | None) -> JobSpec:
    return JobSpec(
        plate=shot.plate,
        frames=tuple(shot.frames),
        prompt="the wall behind the ball",
        out=str(out_dir) if out_dir else None,
        remove=shot.remove_matte,
        affected=shot.affected_matte,
    )


def input_bytes(shot) -> int:
    from void_engine.plates import FrameSequence

    return sum(
        p.stat().st_size
        for pattern in (shot.plate, shot.remove_matte, shot.affected_matte)
        for p in FrameSequence(pattern, tuple(shot.frames)).paths()
    )


def test_an_upload_past_the_spool_cap_is_answered_busy_naming_the_cap(engine_config, start_engine):
    eng = start_engine(engine_config(limits__max_spool_bytes=1000))
    with EngineClient(eng.endpoint, token=TOKEN) as client:
        with pytest.raises(ProtocolError) as err:
            client.request("upload", files=[{"name": "plate.1001.exr", "size": 2000}])
    assert err.value.code == BUSY
    assert "max_spool_bytes = 1000" in err.value.message


def test_the_spool_cap_counts_the_results_of_finished_by_value_jobs(engine_config, start_engine, sample_shot, tmp_path):
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint, token=TOKEN) as client:
        first = client.submit(job_for(sample_shot, None), by_value=True)
        assert client.wait(first).state == "done"
    eng.kill()
    from void_engine.service.spool import tree_bytes

    results = tree_bytes(tmp_path / "state" / "jobs")
    assert results > 0
    # The next upload fits the cap alone, not beside the first job's results.
    cap = results + input_bytes(sample_shot) - 1
    eng = start_engine(engine_config(limits__max_spool_bytes=cap))
    with EngineClient(eng.endpoint, token=TOKEN) as client:
        with pytest.raises(ProtocolError) as err:
            client.submit(job_for(sample_shot, None), by_value=True)
    assert err.value.code == BUSY and f"max_spool_bytes = {cap}" in err.value.message


def test_by_value_results_past_their_age_are_deleted_at_start_and_by_path_results_never(
    engine_config, start_engine, sample_shot, tmp_path
):
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint, token=TOKEN) as client:
        by_value = client.submit(job_for(sample_shot, None), by_value=True)
        by_path = client.submit(job_for(sample_shot, tmp_path / "out"))
        assert client.wait(by_value).state == "done" and client.wait(by_path).state == "done"
    eng.kill()
    time.sleep(0.2)
    eng = start_engine(engine_config(server__result_retention_s=0.1))
    with EngineClient(eng.endpoint, token=TOKEN) as client:
        with pytest.raises(ProtocolError) as err:
            client.fetch(by_value)
        assert client.fetch(by_path).frames == tuple(sample_shot.frames)
    assert err.value.code == NOT_FOUND and "retention" in err.value.message
    assert not (tmp_path / "state" / "jobs" / by_value / "out").exists()
    assert len(list((tmp_path / "out").glob("v001/*.exr"))) == 3


# -- the keeper alone ------------------------------------------------------------------------


def _finished_by_value_job(journal, state: Path, size: int) -> str:
    spec = JobSpec(plate="plate.####.exr", frames=(1,), prompt="x", remove="remove.####.exr", upload="u")
    rec, _ = journal.submit("token:someone", spec)
    journal.claim_next()
    out = state / "jobs" / rec.id / "out" / "v001"
    out.mkdir(parents=True)
    (out / "result.0001.exr").write_bytes(b"x" * size)
    journal.finish(rec.id, "done", result={"version_dir": str(out), "pattern": "result.####.exr", "frames": [1]})
    return rec.id


def test_retention_by_size_deletes_the_oldest_results_first_and_never_a_running_jobs(tmp_path):
    from void_engine.service.journal import Journal
    from void_engine.service.spool import Retention, SpoolKeeper

    journal = Journal(tmp_path / "journal.sqlite3")
    old = _finished_by_value_job(journal, tmp_path, 1000)
    time.sleep(0.01)
    new = _finished_by_value_job(journal, tmp_path, 1000)
    running, _ = journal.submit(
        "token:someone", JobSpec(plate="p.####.exr", frames=(1,), prompt="y", remove="r.####.exr", upload="v")
    )
    journal.claim_next()
    staging = tmp_path / "jobs" / running.id / "out" / ".void-partial-x"
    staging.mkdir(parents=True)
    (staging / "frame.exr").write_bytes(b"y" * 5000)

    keeper = SpoolKeeper(tmp_path, journal, Retention(max_bytes=1500))
    assert keeper.sweep() == [old]
    assert not (tmp_path / "jobs" / old / "out").exists()
    assert (tmp_path / "jobs" / new / "out").is_dir() and staging.is_dir()
    assert keeper.used_bytes() == 1000 + 5000
    journal.close()


def test_retention_is_applied_periodically_on_the_keepers_thread(tmp_path):
    from void_engine.service.journal import Journal
    from void_engine.service.spool import Retention, SpoolKeeper

    journal = Journal(tmp_path / "journal.sqlite3")
    keeper = SpoolKeeper(tmp_path, journal, Retention(max_age_s=0.2), interval_s=0.05)
    keeper.start()
    try:
        jid = _finished_by_value_job(journal, tmp_path, 10)  # after the keeper started
        assert (tmp_path / "jobs" / jid / "out").is_dir()
        assert wait_until(lambda: not (tmp_path / "jobs" / jid / "out").exists(), 5, 0.02)
    finally:
        keeper.stop()
        journal.close()
