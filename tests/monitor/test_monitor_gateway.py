"""The monitor on a cluster gateway: a local Ray with one fake GPU, one engine actor, the page on
loopback. Jobs run on the actor; the page lists them from the gateway's journal and an admin's
cancel from it reaches the engine through Ray."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from bridge.client import EngineClient
from tests.engine.engine_harness import free_port, wait_until
from void_engine.config import load_config

from .monitor_helpers import ADMIN, http, shot_spec

# A local Ray: its default ports and folders are machine-wide, so run alone (tests/parallel.py).
pytestmark = pytest.mark.serial

ray = pytest.importorskip("ray", reason="the gateway's monitor test needs the [cluster] extra (ray 2.60)")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gateway_with_monitor(tmp_path_factory):
    from void_engine.cluster.gateway import ClusterGateway  # imports ray
    from void_engine.demo.samples import make_sample_shot

    tmp = tmp_path_factory.mktemp("gateway_monitor")
    shot = make_sample_shot(tmp / "shot", seed=5, width=160, height=96, frames=3)
    out = tmp / "out"
    out.mkdir()
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    ray.init(
        address="local",
        num_cpus=1,
        num_gpus=1,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=80 * 1024 * 1024,
        namespace="void-engine-monitor-tests",
        runtime_env={"env_vars": {"PYTHONPATH": path, "VOID_CLUSTER_STEP_S": "0.1"}},
    )
    port = free_port()
    cfg = load_config(
        None,
        bind="tcp://127.0.0.1:*",
        state_dir=tmp / "state",
        roots=[Path(shot.root), out],
        plugins=["tests.cluster.cluster_test_backends"],
        backend="sleepy",
        steps=200,
        model_size=[32, 64],
        ray_address="auto",
        engines=1,
        cpus_per_engine=1.0,
        gpus_per_engine=1.0,
        admin_token=ADMIN,
        monitor_enabled=True,
        monitor_port=port,
        monitor_refresh_s=0.25,
    )
    gw = ClusterGateway(cfg)
    thread = threading.Thread(target=gw.serve_forever, daemon=True)
    thread.start()
    try:
        assert gw.dispatcher.ready.wait(60), "engine actors did not start"
        yield gw, shot, out, f"http://127.0.0.1:{port}"
    finally:
        gw.stop()
        thread.join(timeout=30)
        ray.shutdown()


def test_the_gateways_page_lists_a_pool_job_and_an_admin_cancel_reaches_its_engine(gateway_with_monitor):
    gw, shot, out, url = gateway_with_monitor
    with EngineClient(gw.endpoint) as client:
        jid = client.submit(shot_spec(shot, out))

        def row() -> dict:
            jobs = http(f"{url}/api/jobs").json()["jobs"]
            return next((j for j in jobs if j["id"] == jid), {"stage": ""})

        assert wait_until(lambda: row()["stage"].startswith("model · step"), 60)
        assert http(f"{url}/api/jobs/{jid}/cancel", "POST", token=ADMIN).status == 200
        assert client.wait(jid).state == "cancelled"
    assert wait_until(
        lambda: 'void_engine_jobs_finished_total{state="cancelled"} 1.0' in http(f"{url}/metrics").body.decode(), 10
    )
