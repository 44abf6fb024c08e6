"""Crash recovery: kill -9 the engine mid-job (and mid-write), restart it, every job finishes and no
partial EXR is left anywhere; a client following events resumes across the restart."""

from __future__ import annotations

import threading
from pathlib import Path

from bridge.client import EngineClient
from bridge.protocol import JobSpec

from .engine_harness import free_port, wait_until

TOKEN = "artist-token-restart"


def job(shot, out: Path, n: int) -> JobSpec:
    return JobSpec(
        plate=shot.plate,
        frames=tuple(shot.frames),
        prompt=f"take {n}",
        out=str(out),
        remove=shot.remove_matte,
        affected=shot.affected_matte,
        job_key=f"take-{n}",
    )


def visible_problems(out: Path) -> list[str]:
    """Partial output where an artist looks: temp files, staging folders, incomplete versions.

    The one hidden file a complete version holds is the worker's published-job marker."""
    from void_engine.service.runner import PUBLISHED_MARKER

    problems = [str(p) for p in out.rglob("*") if p.name.startswith(".") and p.name != PUBLISHED_MARKER]
    for version in out.glob("v*"):
        frames = sorted(p.name for p in version.glob("*.exr"))
        if len(frames) != 3:
            problems.append(f"{version}: {frames}")
    return problems


def test_kill_9_with_one_running_and_two_queued_then_restart_finishes_all(
    engine_config, start_engine, sample_shot, tmp_path
):
    address = f"tcp://127.0.0.1:{free_port()}"
    # The serial worker: one job claimed at a time, so the other two are still queued. The pipelined
    # worker's crash (a job writing, one running, one prepared) is the next test.
    config = engine_config(server__bind=address, worker__steps=6, worker__pipeline=False)
    out = tmp_path / "out"
    eng = start_engine(config, step_s=0.15)
    with EngineClient(address, timeout=5.0, token=TOKEN) as client:
        jobs = [client.submit(job(sample_shot, out, n)) for n in range(3)]
        # Follow the first job from another client for the whole story, restarts included.
        seen: list = []
        follower = threading.Thread(target=lambda: seen.extend(_follow(address, jobs[0])), daemon=True)
        follower.start()
        assert wait_until(lambda: client.status(jobs[0]).last_seq >= 5 and client.status(jobs[0]).state == "running")
        states = [client.status(j).state for j in jobs]
        assert states == ["running", "queued", "queued"]
        eng.kill()  # SIGKILL: no clean-up of any kind

        eng = start_engine(config, step_s=0.15)

        # Second crash, this time while a job is writing frames into its staging folder.
        def writing() -> bool:
            for j in jobs:
                for ev in snapshot(client, j):
                    if ev.kind == "stage" and ev.stage == "write" and (ev.step or 0) >= 1:
                        return True
            return False

        # Best effort: on a slow machine all writes may slip between two looks; the crash still counts.
        wait_until(writing, 15, 0.02)
        eng.kill()
        assert visible_problems(out) == [] or all(".void-partial" in p or ".tmp" in p for p in visible_problems(out))
        eng = start_engine(config, step_s=0.15)
        final = [client.wait(j) for j in jobs]

    follower.join(30)
    assert [s.state for s in final] == ["done", "done", "done"]
    assert final[0].attempts >= 2
    assert visible_problems(out) == []
    assert len(list(out.glob("v*"))) == 3
    assert len({s.output for s in final}) == 3
    # The follower saw job 0 from queued to done without a gap in seq, across two restarts.
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert seen[-1].state == "done"
    assert any(e.message == "re-queued after engine restart" for e in seen)


def _stages(client: EngineClient, job_id: str) -> dict[str, int]:
    """The furthest step each stage of the job's events has reached (model steps under "step")."""
    reached: dict[str, int] = {}
    for ev in snapshot(client, job_id):
        name = ev.stage if ev.kind == "stage" else ev.kind
        if name:
            reached[name] = max(reached.get(name, 0), ev.step or 0)
    return reached


def test_kill_9_with_one_job_writing_one_running_and_one_prepared_then_restart_finishes_all(
    engine_config, start_engine, sample_shot, tmp_path
):
    address = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "out"
    # Frames written at 0.5 s each and 8 model steps of 0.25 s: the three jobs stand in the three
    # places of the pipeline for a while.
    slow = engine_config(server__bind=address, server__plugins=["engine_test_backends", "slow_write"], worker__steps=8)
    eng = start_engine(slow, step_s=0.25)
    with EngineClient(address, timeout=5.0, token=TOKEN) as client:
        jobs = [client.submit(job(sample_shot, out, n)) for n in range(3)]

        def in_three_places() -> bool:
            writing, running, prepared = (_stages(client, j) for j in jobs)
            return (
                writing.get("write", 0) >= 1
                and running.get("step", 0) >= 1
                and prepared.get("read", 0) == len(sample_shot.frames)
                and "model" not in prepared
            )

        assert wait_until(in_three_places, 60, 0.02)
        assert [client.status(j).state for j in jobs] == ["running"] * 3
        eng.kill()  # SIGKILL: no clean-up of any kind
        # The writing job's frames are in its hidden staging folder, never in a v### folder.
        assert all(".void-partial" in p or ".tmp" in p for p in visible_problems(out))

        eng = start_engine(engine_config(server__bind=address, worker__steps=8), step_s=0.05)
        final = [client.wait(j) for j in jobs]

    assert [s.state for s in final] == ["done", "done", "done"]
    assert all(s.attempts == 2 for s in final)
    assert visible_problems(out) == []
    assert len(list(out.glob("v*"))) == 3
    assert len({s.output for s in final}) == 3


def _follow(address: str, job_id: str) -> list:
    with EngineClient(address, timeout=2.0, token=TOKEN) as c:
        return list(c.events(job_id, wait=1.0, give_up_after=60))


def snapshot(client: EngineClient, job_id: str):
    """The job's events so far (no waiting); [] while the engine is away."""
    from bridge.protocol import events_from_wire

    try:
        msg = client.request("events", job=job_id, after=0, wait=0.0, timeout=1.0, retries=0)
    except Exception:
        client.reconnect()
        return []
    return events_from_wire(msg.header["events"])


def _interrupted_job(state: Path, spec: JobSpec, *, cancel: bool) -> str:
    """Journal a job the way a crash leaves it: running (its cancel asked, if ``cancel``)."""
    from void_engine.service.journal import Journal

    journal = Journal(state / "journal.sqlite3")
    try:
        rec, _ = journal.submit("token:someone", spec)
        journal.claim_next()
        if cancel:
            journal.request_cancel(rec.id)
        return rec.id
    finally:
        journal.close()


def test_job_cancelled_at_restart_leaves_no_staging_folder(engine_config, start_engine, sample_shot, tmp_path):
    from void_engine.service.runner import staging_dir

    config = engine_config()
    out = tmp_path / "out"
    jid = _interrupted_job(tmp_path / "state", job(sample_shot, out, 0), cancel=True)
    partial = staging_dir(out, jid)
    partial.mkdir(parents=True)
    (partial / "sample_void.1001.exr").write_bytes(b"half a frame")
    eng = start_engine(config)
    with EngineClient(eng.endpoint, admin_token="admin-secret-1234-for-tests-only-0123456789abcdef") as admin:
        assert admin.status(jid).state == "cancelled"
    assert visible_problems(out) == []


def test_by_value_job_failed_at_restart_leaves_no_uploaded_inputs(engine_config, start_engine, tmp_path):
    config = engine_config(worker__max_attempts=1)
    spec = JobSpec(
        plate="plate.####.exr",
        frames=(1001,),
        prompt="x",
        remove="remove.####.exr",
        upload="upload-1",
        name="shot_void",
    )
    jid = _interrupted_job(tmp_path / "state", spec, cancel=False)
    inputs = tmp_path / "state" / "jobs" / jid / "inputs"
    inputs.mkdir(parents=True)
    (inputs / "plate.1001.exr").write_bytes(b"uploaded plate")
    eng = start_engine(config)
    with EngineClient(eng.endpoint, admin_token="admin-secret-1234-for-tests-only-0123456789abcdef") as admin:
        assert admin.status(jid).state == "failed"
    assert not inputs.exists()


def test_a_rerun_after_publishing_returns_the_published_version_instead_of_a_duplicate(sample_shot, tmp_path):
    """The engine can die after renaming staging to v### but before recording done; the re-run
    must find that version (its marker travelled with the rename), not compute a v002."""
    from bridge.protocol import JobSpec
    from tests.engine.engine_test_backends import EchoBackend
    from void_engine.backends import BackendSettings
    from void_engine.service.admission import resolve_job
    from void_engine.service.runner import run_job

    out = tmp_path / "out"
    spec = JobSpec(
        plate=sample_shot.plate,
        frames=tuple(sample_shot.frames),
        prompt="wall",
        out=str(out),
        remove=sample_shot.remove_matte,
        affected=sample_shot.affected_matte,
    )
    job = resolve_job(spec, [sample_shot.root, tmp_path])
    backend = EchoBackend(BackendSettings())
    events = []

    def attempt(job_id):
        return run_job(
            job_id,
            job,
            backend,
            prompt="wall",
            seed=1,
            steps=2,
            cancel=lambda: False,
            report=lambda kind, **f: events.append((kind, f)),
            settings={"model_size": (32, 64)},
        )

    first = attempt("job-a")
    frame = first.version_dir / Path(first.pattern).name.replace("####", f"{sample_shot.frames[0]:04d}")
    before = frame.stat().st_mtime_ns
    again = attempt("job-a")  # the journal never heard "done": the job runs again
    assert again == first and frame.stat().st_mtime_ns == before
    assert sorted(p.name for p in out.iterdir()) == ["v001"]
    assert any("already published" in f.get("message", "") for k, f in events if k == "log")
    other = attempt("job-b")  # another job is not fooled by job-a's marker
    assert other.version_dir.name == "v002"
