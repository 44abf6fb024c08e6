"""The engine as a real process on 127.0.0.1: jobs by path and by value, events, cancel, ownership,
path roots, upload caps and clean-up. The "echo" test backend returns the model-space input, so
these tests exercise transport, journal and the plate round-trip; the model has its own e2e test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import zmq

from bridge import protocol as P
from bridge.client import EngineClient
from bridge.protocol import JobSpec

from .engine_harness import raw_dealer, wait_until

ADMIN = "admin-secret-1234-for-tests-only-0123456789abcdef"


def job_for(shot, out_dir: Path | None, **over) -> JobSpec:
    base = dict(
        plate=shot.plate,
        frames=tuple(shot.frames),
        prompt="the wall behind the ball",
        out=str(out_dir) if out_dir else None,
        remove=shot.remove_matte,
        affected=shot.affected_matte,
    )
    base.update(over)
    return JobSpec(**base)


def far_from_mask(shot, frame: int, margin: int = 30) -> np.ndarray:
    """Pixels further than ``margin`` from every remove/affected pixel (beyond dilate + feather)."""
    from void_engine.plates import FrameSequence, read_image_channel

    rm = read_image_channel(FrameSequence(shot.remove_matte, shot.frames).path(frame))
    af = read_image_channel(FrameSequence(shot.affected_matte, shot.frames).path(frame))
    region = ((rm > 0) | (af > 0)).astype(np.uint8)
    grown = cv2.dilate(region, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    return grown == 0


def test_job_by_path_streams_stage_and_step_events_and_keeps_outside_pixels(
    engine_config, start_engine, sample_shot, tmp_path
):
    from void_engine.plates import FrameSequence, read_plate

    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint) as client:
        hello = client.hello()
        assert hello["protocol"] == P.PROTOCOL_VERSION and "echo" in hello["backends"]
        job = client.submit(job_for(sample_shot, tmp_path / "out"))
        events = list(client.events(job))
    states = [e.state for e in events if e.kind == "state"]
    assert states == ["queued", "running", "done"]
    stages = [e.stage for e in events if e.kind == "stage"]
    assert {"resolve", "read", "model", "write"} <= set(stages)
    assert [e.step for e in events if e.kind == "step"] == [1, 2, 3]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))

    pattern = events[-1].output
    assert pattern == str(tmp_path / "out" / "v001" / "sample_void.####.exr")
    out_seq = FrameSequence(pattern, tuple(sample_shot.frames))
    plate_seq = FrameSequence(sample_shot.plate, tuple(sample_shot.frames))
    for frame in sample_shot.frames:
        out, plate = read_plate(out_seq.path(frame)), read_plate(plate_seq.path(frame))
        keep = far_from_mask(sample_shot, frame)
        assert keep.sum() > 1000
        assert np.array_equal(out.pixels[keep], plate.pixels[keep])


def test_job_by_value_uploads_and_fetches_the_same_pixels_as_by_path(
    engine_config, start_engine, sample_shot, tmp_path
):
    from void_engine.plates import FrameSequence, read_plate

    # Small chunks and credit so the transfer really is many pipelined chunks.
    eng = start_engine(engine_config(limits__chunk_bytes=16384, limits__credit=3))
    with EngineClient(eng.endpoint) as client:
        by_path = client.submit(job_for(sample_shot, tmp_path / "out"))
        by_value = client.submit(job_for(sample_shot, None), by_value=True)
        assert client.wait(by_path).state == "done"
        st = client.wait(by_value)
        assert st.state == "done"
        fetched = client.fetch(by_value, tmp_path / "fetched")
        path_result = client.fetch(by_path)
    # The uploaded inputs are gone once the job is done; its results stay in the engine's store.
    job_dir = tmp_path / "state" / "jobs" / by_value
    # Three result frames, and beside them the three quadmask frames the job ran with.
    # (deleted just after the end is recorded, so a client may see "done" a moment before)
    assert wait_until(lambda: not (job_dir / "inputs").exists(), timeout=5)
    assert len(list((job_dir / "out").glob("v*/*.exr"))) == 3
    assert len(list((job_dir / "out").glob("v*/quadmask/*.exr"))) == 3
    assert list((tmp_path / "state" / "spool").iterdir()) == []
    assert len(fetched.files) == 3 and fetched.local_pattern.endswith("sample_void.####.exr")
    assert not list((tmp_path / "fetched").glob(".*"))  # no temporary leftovers
    for frame in sample_shot.frames:
        a = read_plate(FrameSequence(fetched.local_pattern, fetched.frames).path(frame))
        b = read_plate(FrameSequence(path_result.pattern, path_result.frames).path(frame))
        keep = far_from_mask(sample_shot, frame)
        assert np.array_equal(a.pixels[keep], b.pixels[keep])
        # Inside the matte the plate path's float maths may differ in the last bits between runs.
        assert np.allclose(a.pixels, b.pixels, atol=1e-6)


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_events_wait_longer_than_the_engine_allows_is_shortened_not_refused(
    engine_config, start_engine, sample_shot, tmp_path
):
    eng = start_engine(engine_config(server__events_wait_max_s=0.5))
    with EngineClient(eng.endpoint) as client:
        job = client.submit(job_for(sample_shot, tmp_path / "out"))
        assert client.wait(job, wait=5.0).state == "done"  # the client's default wait
        t0 = time.monotonic()
        reply = client.request("events", job=job, after=10_000, wait=5.0, timeout=3.0, retries=0).header
        assert reply["events"] == [] and time.monotonic() - t0 < 2.0


def test_events_wait_of_nan_is_refused_instead_of_parked_forever(engine_config, start_engine, sample_shot, tmp_path):
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint) as client:
        job = client.submit(job_for(sample_shot, tmp_path / "out"))
        with pytest.raises(P.ProtocolError) as info:
            client.request("events", job=job, after=10_000, wait=float("nan"), timeout=3.0, retries=0)
        assert (info.value.code, info.value.field) == (P.BAD_REQUEST, "wait")


def test_by_value_job_is_not_run_before_its_uploaded_inputs_are_in_place(
    engine_config, start_engine, sample_shot, tmp_path
):
    eng = start_engine(engine_config(server__plugins=["engine_test_backends", "slow_upload_take"]))
    with EngineClient(eng.endpoint) as client:
        job = client.submit(job_for(sample_shot, None), by_value=True)
        status = client.wait(job)
    assert status.state == "done", status.error


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_loop_answers_ping_and_status_while_a_job_runs(engine_config, start_engine, sample_shot, tmp_path):
    eng = start_engine(engine_config(worker__steps=8), step_s=0.25)
    with EngineClient(eng.endpoint) as client:
        job = client.submit(job_for(sample_shot, tmp_path / "out"))
        assert wait_until(lambda: client.status(job).state == "running", 20)
        rtts = [client.ping() for _ in range(5)]
        assert client.status(job).state == "running"
        assert max(rtts) < 0.2, rtts
        client.cancel(job)
        assert client.wait(job).state == "cancelled"


def test_cancel_stops_within_one_step_and_leaves_no_partial_output(engine_config, start_engine, sample_shot, tmp_path):
    eng = start_engine(engine_config(worker__steps=40), step_s=0.1)
    with EngineClient(eng.endpoint) as client:
        job = client.submit(job_for(sample_shot, tmp_path / "out"))
        steps_before = 0
        for ev in client.events(job):
            if ev.kind == "step":
                steps_before = ev.step
                if ev.step == 2:
                    client.cancel(job)
                    break
        rest = list(client.events(job, after=ev.seq))
    assert rest[-1].state == "cancelled"
    assert len([e for e in rest if e.kind == "step"]) <= 1
    assert not [e for e in rest if e.kind == "stage" and e.stage == "write"]
    out = tmp_path / "out"
    assert not list(out.rglob("*.exr")) and not [p for p in out.iterdir() if p.name.startswith(".void-partial")]
    assert steps_before == 2


def test_cancelling_a_queued_by_value_job_deletes_its_uploaded_inputs(
    engine_config, start_engine, sample_shot, tmp_path
):
    # The serial worker, so the second job stays queued behind the first (the pipelined one would
    # claim it at once, to prepare it).
    eng = start_engine(engine_config(worker__steps=40, worker__pipeline=False), step_s=0.1)
    with EngineClient(eng.endpoint) as client:
        running = client.submit(job_for(sample_shot, tmp_path / "out"))
        assert wait_until(lambda: client.status(running).state == "running")
        queued = client.submit(job_for(sample_shot, None), by_value=True)
        inputs = tmp_path / "state" / "jobs" / queued / "inputs"
        assert client.status(queued).state == "queued" and inputs.is_dir()
        assert client.cancel(queued) == "cancelled"
        assert not inputs.exists()
        client.cancel(running)


def test_other_client_cannot_see_cancel_or_fetch_a_job_but_admin_can(
    engine_config, start_engine, sample_shot, tmp_path
):
    eng = start_engine(engine_config())
    with (
        EngineClient(eng.endpoint, token="alice-token-1") as alice,
        EngineClient(eng.endpoint, token="mallory-token-1") as mallory,
        EngineClient(eng.endpoint, token="root-token-1", admin_token=ADMIN) as admin,
    ):
        job = alice.submit(job_for(sample_shot, tmp_path / "out"))
        assert alice.wait(job).state == "done"
        for call in (
            lambda: mallory.cancel(job),
            lambda: mallory.fetch(job),
            lambda: mallory.status(job),
            lambda: mallory.fetch(job, tmp_path / "stolen"),
        ):
            with pytest.raises(P.ProtocolError) as info:
                call()
            assert info.value.code == P.UNAUTHORISED and "another client" in info.value.message
        assert not (tmp_path / "stolen").exists() or not list((tmp_path / "stolen").iterdir())
        assert [j.job for j in mallory.list()] == []
        with pytest.raises(P.ProtocolError) as info:
            mallory.shutdown()
        assert info.value.code == P.UNAUTHORISED
        assert admin.fetch(job).pattern.endswith(".####.exr")
        assert job in [j.job for j in admin.list(everyone=True)]
        with pytest.raises(P.ProtocolError):
            mallory.list(everyone=True)
        admin.shutdown()
    assert eng.proc.wait(15) == 0


def test_fetch_serves_no_symlink_planted_in_a_result_folder(engine_config, start_engine, sample_shot, tmp_path):
    secret = tmp_path / "engine_secret.key_secret"  # outside every root
    secret.write_text("secret-key-bytes")
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint) as client:
        job = client.submit(job_for(sample_shot, tmp_path / "out"))
        assert client.wait(job).state == "done"
        version_dir = Path(client.fetch(job).pattern).parent
        os.symlink(secret, version_dir / "sample_void.9999.exr")  # anyone who can write the shared out folder
        manifest = client.request("fetch", job=job).header
        assert "sample_void.9999.exr" not in [f["name"] for f in manifest["files"]]
        with pytest.raises(P.ProtocolError) as info:
            client.request("fetch", job=job, file="sample_void.9999.exr", offset=0, length=1024)
        assert info.value.code == P.NOT_FOUND


def test_fetch_serves_nothing_from_a_result_folder_swapped_for_a_symlink(
    engine_config, start_engine, sample_shot, tmp_path
):
    elsewhere = tmp_path / "elsewhere"  # outside every root
    elsewhere.mkdir()
    (elsewhere / "private.exr").write_bytes(b"not yours")
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint) as client:
        job = client.submit(job_for(sample_shot, tmp_path / "out"))
        assert client.wait(job).state == "done"
        version_dir = Path(client.fetch(job).pattern).parent
        version_dir.rename(version_dir.with_name("moved"))
        os.symlink(elsewhere, version_dir)
        for fields in ({}, {"file": "private.exr", "offset": 0, "length": 1024}):
            with pytest.raises(P.ProtocolError) as info:
                client.request("fetch", job=job, **fields)
            assert info.value.code == P.UNAUTHORISED


def test_resubmit_with_same_job_key_returns_the_same_job(engine_config, start_engine, sample_shot, tmp_path):
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint, token="alice-token-1") as client:
        a = client.submit(job_for(sample_shot, tmp_path / "out", job_key="shot010-take3"))
        b = client.submit(job_for(sample_shot, tmp_path / "out", job_key="shot010-take3"))
        assert a == b
        with pytest.raises(P.ProtocolError) as info:
            client.submit(job_for(sample_shot, tmp_path / "out", job_key="shot010-take3", prompt="other"))
        assert info.value.field == "job.job_key"
        client.wait(a)
    assert len(list((tmp_path / "out").glob("v*"))) == 1


def test_resent_by_value_submit_finds_its_job_after_the_first_took_the_upload(
    engine_config, start_engine, sample_shot, tmp_path
):
    # What EngineClient.request does when the first submit's reply is lost: the same message again.
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint) as client:
        spec = client._upload_inputs(job_for(sample_shot, None, job_key="take-1"), None)
        first = client.request("submit", job=spec.to_wire()).header
        again = client.request("submit", job=spec.to_wire()).header
        assert (again["job"], again["created"]) == (first["job"], False)
        assert client.wait(first["job"]).state == "done"


def test_full_queue_answers_busy_but_resubmits_still_find_their_job(engine_config, start_engine, sample_shot, tmp_path):
    eng = start_engine(engine_config(limits__max_queued=1, worker__steps=30), step_s=0.1)
    with EngineClient(eng.endpoint) as client:
        running = client.submit(job_for(sample_shot, tmp_path / "out", prompt="a"))
        assert wait_until(lambda: client.status(running).state == "running")
        waiting = client.submit(job_for(sample_shot, tmp_path / "out", prompt="b", job_key="b"))
        with pytest.raises(P.ProtocolError) as info:
            client.submit(job_for(sample_shot, tmp_path / "out", prompt="c"))
        assert info.value.code == P.BUSY
        assert client.submit(job_for(sample_shot, tmp_path / "out", prompt="b", job_key="b")) == waiting
        for job in (running, waiting):
            client.cancel(job)


def test_paths_outside_roots_and_missing_frames_are_refused_at_submit(
    engine_config, start_engine, sample_shot, tmp_path
):
    outside = tmp_path / "outside"
    outside.mkdir()
    link = Path(sample_shot.root) / "escape"
    if not link.exists():
        os.symlink(outside, link)
    eng = start_engine(engine_config())
    shot_dir = Path(sample_shot.root)
    cases = [
        (dict(plate=str(shot_dir / "plate" / ".." / ".." / "x.####.exr")), P.UNAUTHORISED, "job.plate"),
        (dict(remove="/etc/passwd.####"), P.UNAUTHORISED, "job.remove"),
        (dict(out="/tmp"), P.UNAUTHORISED, "job.out"),
        (dict(out=str(link / "results")), P.UNAUTHORISED, "job.out"),
        (dict(affected=str(link / "a.####.exr")), P.UNAUTHORISED, "job.affected"),
        (dict(frames=(1001, 1002, 1003, 1004)), P.NOT_FOUND, "job.plate"),
        (dict(plate=str(shot_dir / "plate" / "sample.exr")), P.BAD_REQUEST, "job.plate"),
        (dict(backend="nope"), P.BAD_REQUEST, "job.backend"),
    ]
    with EngineClient(eng.endpoint) as client:
        for over, code, field in cases:
            with pytest.raises(P.ProtocolError) as info:
                client.submit(job_for(sample_shot, tmp_path / "out", **over))
            assert (info.value.code, info.value.field) == (code, field), (over, info.value)
        missing = pytest.raises(
            P.ProtocolError, client.submit, job_for(sample_shot, tmp_path / "out", frames=(1001, 1004))
        )
        assert "frame 1004" in missing.value.message
        assert client.list() == []


def test_upload_caps_are_checked_before_anything_is_written(engine_config, start_engine, tmp_path):
    eng = start_engine(
        engine_config(limits__max_file_bytes=100_000, limits__max_job_bytes=150_000, limits__chunk_bytes=65536)
    )
    spool = tmp_path / "state" / "spool"
    with EngineClient(eng.endpoint) as client:
        for files, field in (
            ([{"name": "plate.1001.exr", "size": 10**12}], "files[0].size"),
            ([{"name": f"p.{i}.exr", "size": 90_000} for i in range(2)], "files"),
        ):
            with pytest.raises(P.ProtocolError) as info:
                client.request("upload", files=files)
            assert (info.value.code, info.value.field) == (P.TOO_LARGE, field)
        with pytest.raises(P.ProtocolError) as info:
            client.request("upload", files=[{"name": "../x.exr", "size": 5}])
        assert info.value.code == P.BAD_REQUEST
        assert list(spool.iterdir()) == []
        # A chunk past the announced size is refused and nothing beyond it is kept.
        up = client.request("upload", files=[{"name": "p.1.exr", "size": 10}]).header["upload"]
        with pytest.raises(P.ProtocolError) as info:
            client.request("chunk", (b"x" * 11,), upload=up, file=0, offset=0)
        assert info.value.code == P.TOO_LARGE
    # A message over MAXMSGSIZE is dropped by libzmq before the engine sees it; it keeps serving.
    # (MAXMSGSIZE is a chunk or the largest header, whichever is larger, plus 64 KiB.)
    too_big = max(65536, P.MAX_HEADER_BYTES) + 64 * 1024 + 1
    sock = raw_dealer(eng.endpoint)
    sock.send_multipart(P.encode({"type": "chunk", "id": 1, "upload": up, "file": 0, "offset": 0}, [b"x" * too_big]))
    assert sock.poll(500) == 0
    sock.close(0)
    with EngineClient(eng.endpoint) as client:
        assert client.ping() < 1.0


def test_client_that_vanishes_mid_upload_leaves_no_garbage(engine_config, start_engine, tmp_path):
    eng = start_engine(engine_config(server__upload_timeout_s=0.5))
    spool = tmp_path / "state" / "spool"
    ctx = zmq.Context()
    try:
        with EngineClient(eng.endpoint, context=ctx) as client:
            up = client.request(
                "upload",
                files=[{"name": "plate.1001.exr", "size": 300_000}, {"name": "plate.1002.exr", "size": 300_000}],
            ).header["upload"]
            client.request("chunk", (b"\x76\x2f\x31\x01" + b"\0" * 99_996,), upload=up, file=0, offset=0)
            assert sum(1 for _ in spool.rglob("*.exr")) == 1
        # The client is gone; after the upload timeout nothing of it remains.
        assert wait_until(lambda: list(spool.iterdir()) == [], 10)
        with EngineClient(eng.endpoint, context=ctx) as client:
            with pytest.raises(P.ProtocolError) as info:
                client.request("chunk", (b"x",), upload=up, file=0, offset=100_000)
            assert info.value.code == P.NOT_FOUND
    finally:
        ctx.term()


def test_failed_job_reports_the_bad_frame(engine_config, start_engine, sample_shot, tmp_path):
    import shutil

    from void_engine.plates import FrameSequence

    shot_copy = Path(sample_shot.root) / "broken"
    shot_copy.mkdir(exist_ok=True)
    seq = FrameSequence(sample_shot.plate, tuple(sample_shot.frames))
    for f in sample_shot.frames:
        shutil.copy(seq.path(f), shot_copy / f"plate.{f}.exr")
    (shot_copy / "plate.1002.exr").write_bytes(b"v/1\x01 not really an exr")
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint) as client:
        job = client.submit(job_for(sample_shot, tmp_path / "out", plate=str(shot_copy / "plate.####.exr")))
        st = client.wait(job)
    assert st.state == "failed"
    assert "plate.1002.exr" in st.error
    assert not list((tmp_path / "out").rglob("*.exr"))


def test_quadmask_job_by_value_gives_the_same_result_as_the_mattes(engine_config, start_engine, sample_shot, tmp_path):
    from void_engine.masks.quadmask import quadmask_from_mattes, read_matte, write_quadmask_sequence
    from void_engine.plates import FrameSequence, read_plate

    frames = tuple(sample_shot.frames)
    rm, af = FrameSequence(sample_shot.remove_matte, frames), FrameSequence(sample_shot.affected_matte, frames)
    quad = FrameSequence(str(tmp_path / "quad" / "shot_quad.####.exr"), frames)
    write_quadmask_sequence(
        quad, [quadmask_from_mattes(read_matte(rm.path(f)), read_matte(af.path(f))) for f in frames]
    )
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint) as client:
        from_mattes = client.submit(job_for(sample_shot, tmp_path / "out"))
        from_quad = client.submit(
            job_for(sample_shot, None, remove=None, affected=None, quadmask=quad.pattern), by_value=True
        )
        assert client.wait(from_mattes).state == "done"
        assert client.wait(from_quad).state == "done"
        a = client.fetch(from_mattes)
        b = client.fetch(from_quad, tmp_path / "fetched")
    for f in frames:
        pa = read_plate(FrameSequence(a.pattern, frames).path(f)).pixels
        pb = read_plate(FrameSequence(b.local_pattern, frames).path(f)).pixels
        assert np.allclose(pa, pb, atol=1e-6)


def test_events_on_poll_runs_before_every_request_so_a_host_can_cancel(
    engine_config, start_engine, sample_shot, tmp_path
):
    """A host loop cancels from the events() iterator itself, without a second connection."""
    eng = start_engine(engine_config(worker__steps=40), step_s=0.1)
    with EngineClient(eng.endpoint) as client:
        job = client.submit(job_for(sample_shot, tmp_path / "out"))
        polls = []

        def on_poll():
            polls.append(time.monotonic())
            if len(polls) == 3:
                client.cancel(job)

        events = list(client.events(job, wait=0.2, on_poll=on_poll))
    assert events[-1].state == "cancelled"
    assert len(polls) >= 3


def test_hello_says_ready_once_the_default_backend_has_loaded(engine_config, start_engine):
    eng = start_engine(engine_config())
    with EngineClient(eng.endpoint) as client:
        assert wait_until(lambda: client.hello()["backend_state"] == "ready")
        assert client.hello()["backend_error"] is None


def test_hello_says_why_the_default_backend_failed_to_load(engine_config, start_engine):
    eng = start_engine(engine_config(worker__backend="void"))  # no model folder configured
    with EngineClient(eng.endpoint) as client:
        assert wait_until(lambda: client.hello()["backend_state"] == "error")
        assert "needs a model folder" in client.hello()["backend_error"]
