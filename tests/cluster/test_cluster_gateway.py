"""The cluster gateway on one CPU machine: a local Ray with two fake GPUs, two engine actors.

A real ZeroMQ client (bridge.client.EngineClient) talks to the gateway over tcp://127.0.0.1
exactly as to a single engine. The "sleepy" test backend (cluster_test_backends) returns the
model-space input and takes a known time per step, so tests can see jobs run side by side,
kill an engine mid-job and cancel through Ray. Ray starts once for the module.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path

import pytest

from bridge.client import EngineClient
from bridge.protocol import JobSpec
from tests.engine.engine_harness import wait_until
from void_engine.cluster.gateway import ClusterGateway  # imports Ray only when a gateway starts
from void_engine.config import load_config

# A local Ray (its default ports and folders are machine-wide) and asserted cancel times: run alone.
pytestmark = pytest.mark.serial

ray = pytest.importorskip("ray", reason="the cluster tests need the [cluster] extra (ray 2.60)")

REPO = Path(__file__).resolve().parents[2]
STEP_S = 0.1


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray with two fake GPUs; its workers import the test backend from this checkout."""
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    ray.init(
        address="local",
        num_cpus=2,
        num_gpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=80 * 1024 * 1024,
        namespace="void-engine-tests",
        runtime_env={"env_vars": {"PYTHONPATH": path, "VOID_CLUSTER_STEP_S": str(STEP_S)}},
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    from void_engine.demo.samples import make_sample_shot

    return make_sample_shot(tmp_path_factory.mktemp("cluster_shot") / "shot", seed=5, width=160, height=96, frames=3)


@pytest.fixture(scope="module")
def gateway(ray_cluster, shot, tmp_path_factory):
    """One gateway (in this process: Ray's driver) with two engine actors, serving on 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("gateway")
    out = tmp / "out"
    out.mkdir()
    cfg = load_config(
        None,
        bind="tcp://127.0.0.1:*",
        state_dir=tmp / "state",
        roots=[Path(shot.root), out],
        plugins=["tests.cluster.cluster_test_backends"],
        backend="sleepy",
        steps=3,
        model_size=[32, 64],
        ray_address="auto",
        engines=2,
        cpus_per_engine=1.0,
        gpus_per_engine=1.0,
        admin_token="admin-secret-1234-for-tests-only-0123456789abcdef",
    )
    gw = ClusterGateway(cfg)
    thread = threading.Thread(target=gw.serve_forever, daemon=True)
    thread.start()
    assert gw.dispatcher.ready.wait(60), "engine actors did not start"
    gw.out = out  # type: ignore[attr-defined]
    try:
        yield gw
    finally:
        gw.stop()
        thread.join(timeout=30)


def job(shot, out: Path | None, **over) -> JobSpec:
    base = dict(
        plate=shot.plate,
        frames=tuple(shot.frames),
        prompt="the wall behind the ball",
        out=str(out) if out else None,
        remove=shot.remove_matte,
        affected=shot.affected_matte,
    )
    base.update(over)
    return JobSpec(**base)


def slot_running(gw, job_id):
    return next((s for s in gw.dispatcher.slots if s.job == job_id), None)


def test_client_talks_to_the_gateway_as_to_one_engine_by_path_and_by_value(gateway, shot, tmp_path):
    from void_engine.plates import FrameSequence, read_plate

    with EngineClient(gateway.endpoint) as client:
        hello = client.hello()
        assert hello["protocol"] == 1 and "sleepy" in hello["backends"]
        assert wait_until(lambda: client.hello()["backend_state"] == "ready", 30)
        by_path = client.submit(job(shot, gateway.out, steps=2))
        by_value = client.submit(job(shot, None, steps=2), by_value=True)
        events = list(client.events(by_path))
        assert client.wait(by_value).state == "done"
        fetched = client.fetch(by_value, tmp_path / "fetched")
    assert [e.state for e in events if e.kind == "state"] == ["queued", "running", "done"]
    assert {"resolve", "read", "model", "write"} <= {e.stage for e in events if e.kind == "stage"}
    assert [e.step for e in events if e.kind == "step"] == [1, 2]
    out_seq = FrameSequence(events[-1].output, tuple(shot.frames))
    assert out_seq.missing() == []
    # By value: inputs went to the engine and results came back through Ray's object store.
    assert len(fetched.files) == 3
    for frame in shot.frames:
        a = read_plate(FrameSequence(fetched.local_pattern, fetched.frames).path(frame)).pixels
        b = read_plate(out_seq.path(frame)).pixels
        assert a.shape == b.shape and abs(a - b).max() < 1e-3
    assert wait_until(lambda: not (gateway.cfg.state_dir / "jobs" / by_value / "inputs").exists(), timeout=5)
    # The engine's store holds the same version folder a by-path job publishes (quadmask included).
    from void_engine.cluster.messages import result_files

    store = gateway.cfg.state_dir / "jobs" / by_value / "out" / "v001"
    assert result_files(store) == result_files(Path(events[-1].output).parent)


def test_two_engines_run_two_jobs_at_once_and_the_third_queues(gateway, shot):
    with EngineClient(gateway.endpoint) as client:
        jobs = [client.submit(job(shot, gateway.out, steps=12, seed=i)) for i in range(3)]
        assert wait_until(lambda: [client.status(j).state for j in jobs[:2]] == ["running", "running"], 30)
        assert client.status(jobs[2]).state == "queued"
        finals = [client.wait(j) for j in jobs]
        history = {j: list(client.events(j, wait=0.1)) for j in jobs}
    assert [s.state for s in finals] == ["done"] * 3

    def ts(j, state):
        return next(e.ts for e in history[j] if e.kind == "state" and e.state == state)

    # The first two overlapped; the third started only when one of them had finished.
    assert max(ts(j, "running") for j in jobs[:2]) < min(ts(j, "done") for j in jobs[:2])
    assert ts(jobs[2], "running") >= min(ts(j, "done") for j in jobs[:2])


def test_cancel_reaches_the_running_engine_and_leaves_no_partial_output(gateway, shot):
    with EngineClient(gateway.endpoint) as client:
        jid = client.submit(job(shot, gateway.out, steps=200))
        assert wait_until(lambda: any(e.kind == "step" for e in client.events(jid, wait=0.1)), 30)
        t0 = time.monotonic()
        client.cancel(jid)
        status = client.wait(jid)
        took = time.monotonic() - t0
        steps = [e.step for e in client.events(jid, wait=0.1) if e.kind == "step"]
    assert status.state == "cancelled"
    assert took < 5 and max(steps) < 100
    assert not list(gateway.out.glob(".void-partial-*"))


def test_killed_engine_restarts_and_the_gateway_retries_its_job_once(gateway, shot):
    with EngineClient(gateway.endpoint) as client:
        jid = client.submit(job(shot, gateway.out, steps=15))
        assert wait_until(lambda: any(e.kind == "step" for e in client.events(jid, wait=0.1)), 30)
        slot = slot_running(gateway, jid)
        assert slot is not None
        ray.kill(slot.actor, no_restart=False)  # Ray restarts it (max_restarts=-1)
        status = client.wait(jid)
        events = list(client.events(jid, wait=0.1))
    assert status.state == "done" and status.attempts == 2
    states = [(e.state, e.message or "") for e in events if e.kind == "state"]
    assert [s for s, _ in states] == ["queued", "running", "queued", "running", "done"]
    assert "died" in states[2][1] and "retry 1 of 1" in states[2][1]
    assert not list(gateway.out.glob(".void-partial-*"))


def test_a_job_that_kills_its_engine_is_retried_once_then_failed_and_engines_keep_serving(gateway, shot):
    with EngineClient(gateway.endpoint) as client:
        bad = client.submit(job(shot, gateway.out, prompt="poison", steps=3))
        status = client.wait(bad)
        assert status.state == "failed" and status.attempts == 2
        assert "died 2 times" in status.error
        # Both engines are back (restarted by Ray) and take work.
        good = [client.submit(job(shot, gateway.out, steps=2, seed=100 + i)) for i in range(2)]
        assert [client.wait(j).state for j in good] == ["done", "done"]


def test_through_ray_client_the_gateway_polls_progress_and_cancel_still_works(ray_cluster, gateway, shot):
    """Ray Client (ray://) refuses streaming actor methods, so there the gateway polls the actor:
    same events, same cancel. Forced here on the local Ray; one engine that holds no fake GPU."""
    cfg = dataclasses.replace(
        gateway.cfg,
        bind="tcp://127.0.0.1:*",
        engines=1,
        gpus_per_engine=0.0,
        cpus_per_engine=0.0,
        state_dir=gateway.cfg.state_dir.parent / "polled",
    )
    gw = ClusterGateway(cfg, streaming=False)
    thread = threading.Thread(target=gw.serve_forever, daemon=True)
    thread.start()
    try:
        with EngineClient(gw.endpoint) as client:
            done = client.submit(job(shot, gateway.out, steps=3, seed=7))
            events = list(client.events(done))
            long = client.submit(job(shot, gateway.out, steps=200, seed=8))
            assert wait_until(lambda: any(e.kind == "step" for e in client.events(long, wait=0.1)), 30)
            client.cancel(long)
            assert client.wait(long).state == "cancelled"
    finally:
        gw.stop()
        thread.join(timeout=30)
    assert [e.state for e in events if e.kind == "state"] == ["queued", "running", "done"]
    assert [e.step for e in events if e.kind == "step"] == [1, 2, 3]


def test_a_job_that_finishes_while_the_gateway_stops_is_recorded_done(tmp_path, shot):
    from void_engine.cluster.dispatcher import ClusterDispatcher
    from void_engine.cluster.messages import ActorOutcome
    from void_engine.service.journal import Journal

    cfg = load_config(None, state_dir=tmp_path / "state", roots=[Path(shot.root), tmp_path], ray_address="auto")
    journal = Journal(tmp_path / "journal.sqlite3")
    dispatcher = ClusterDispatcher(journal, cfg, lambda job_id: None)
    journal.submit("token:someone", job(shot, tmp_path / "out"))
    rec = journal.claim_next()
    dispatcher.stop()  # the gateway is shutting down while the engine sends the job's last words
    result = {
        "version_dir": str(tmp_path / "out" / "v001"),
        "pattern": str(tmp_path / "out" / "v001" / "x.####.exr"),
        "frames": list(shot.frames),
    }
    dispatcher._record_outcome(rec, ActorOutcome("done", result=result), None)
    assert journal.get(rec.id).state == "done"  # not run a second time after the restart
    journal.close()
