"""The monitor page's HTTP side on a real engine process: jobs and progress, thumbnails, admin
actions and their refusals, and where the page may be served."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.engine.engine_harness import REPO, env_for_engine, free_port, wait_until

from .monitor_helpers import ADMIN, http, monitor_keys, shot_spec, start_monitored


def test_a_submitted_job_is_listed_with_its_shot_owner_and_progress_that_advances(
    engine_config, start_engine, sample_shot, tmp_path
):
    mon = start_monitored(engine_config, start_engine, step_s=0.25, worker__steps=12)
    with mon.client(token="artist-token-1") as c:
        jid = c.submit(shot_spec(sample_shot, tmp_path / "out"))

    def row() -> dict:
        return next((j for j in mon.jobs()["jobs"] if j["id"] == jid), {"stage": "", "progress": -1})

    assert wait_until(lambda: row()["stage"].startswith("model · step"), 20)
    first = row()
    assert first["state"] == "running" and first["elapsed_s"] > 0 and first["eta_s"] is not None
    assert first["shot"] == "sample" and first["frames"] == "1001-1003" and first["owner"].startswith("token:")
    seen = [first["progress"]]
    assert wait_until(lambda: seen.append(row()["progress"]) or len(set(seen)) >= 3, 20)
    assert seen == sorted(seen)  # one window: it only moves forward


def test_the_job_page_shows_plate_quadmask_and_result_thumbnails_once_done(
    engine_config, start_engine, sample_shot, tmp_path
):
    mon = start_monitored(engine_config, start_engine, monitor={"thumbnail_px": 80})
    with mon.client() as c:
        jid = c.submit(shot_spec(sample_shot, tmp_path / "out"))
        c.wait(jid)
    assert wait_until(lambda: mon.job(jid)["job"]["state"] == "done", 10)
    strip = mon.job(jid)["strip"]
    assert strip == {"frames": [1001, 1002, 1003], "available": {"plate": True, "quadmask": True, "result": True}}
    for kind in ("plate", "quadmask", "result"):
        r = http(f"{mon.url}/thumbs/{jid}/{kind}/1002.jpg")
        assert r.status == 200 and r.headers["content-type"] == "image/jpeg"
        import OpenImageIO as oiio

        path = tmp_path / f"{kind}.jpg"
        path.write_bytes(r.body)
        spec = oiio.ImageInput.open(str(path)).spec()
        assert (spec.width, spec.height, spec.nchannels) == (80, 48, 3)  # 160x96 shrunk to an 80 px long side


def test_a_frame_the_job_does_not_have_is_a_404_naming_why(engine_config, start_engine, sample_shot, tmp_path):
    mon = start_monitored(engine_config, start_engine)
    with mon.client() as c:
        jid = c.submit(shot_spec(sample_shot, tmp_path / "out"))
    r = http(f"{mon.url}/thumbs/{jid}/plate/7.jpg")
    assert r.status == 404 and "frame 7 is not one of job" in r.json()["error"]


def test_metrics_parse_with_prometheus_clients_parser_and_move_with_jobs(
    engine_config, start_engine, sample_shot, tmp_path
):
    from prometheus_client.parser import text_string_to_metric_families

    mon = start_monitored(engine_config, start_engine, step_s=0.05)

    def scrape() -> dict[tuple[str, tuple], float]:
        text = http(f"{mon.url}/metrics").body.decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
        }

    before = scrape()
    assert before[("void_engine_jobs_finished_total", (("state", "done"),))] == 0
    assert before[("void_engine_queue_length", ())] == 0 and before[("void_engine_uptime_seconds", ())] > 0
    with mon.client() as c:
        jobs = [c.submit(shot_spec(sample_shot, tmp_path / "out", seed=i)) for i in range(2)]
        for jid in jobs:
            c.wait(jid)
    assert wait_until(lambda: scrape()[("void_engine_jobs_finished_total", (("state", "done"),))] == 2, 10)
    after = scrape()
    assert after[("void_engine_jobs_submitted_total", ())] == 2
    assert after[("void_engine_jobs", (("state", "done"),))] == 2
    assert after[("void_engine_job_seconds_count", (("state", "done"),))] == 2
    assert after[("void_engine_denoise_step_seconds_count", (("stage", "model"),))] == 2 * 3  # 3 steps a job
    assert after[("void_engine_denoise_step_seconds_sum", (("stage", "model"),))] >= 2 * 3 * 0.05
    assert after[("void_engine_plate_frames_total", (("direction", "read"),))] == 2 * 3
    assert after[("void_engine_plate_io_seconds_count", (("direction", "write"),))] == 2
    assert after[("void_engine_uptime_seconds", ())] > before[("void_engine_uptime_seconds", ())]


def test_gpu_memory_is_absent_from_the_metrics_of_an_engine_that_never_used_cuda(
    engine_config, start_engine, sample_shot, tmp_path
):
    mon = start_monitored(engine_config, start_engine)
    text = http(f"{mon.url}/metrics").body.decode()
    assert "# TYPE void_engine_gpu_memory_used_bytes gauge" in text
    assert "void_engine_gpu_memory_used_bytes{" not in text


def test_cancel_and_retry_without_the_admin_token_are_refused_and_change_nothing(
    engine_config, start_engine, sample_shot, tmp_path
):
    mon = start_monitored(engine_config, start_engine, step_s=0.2, worker__steps=30)
    with mon.client() as c:
        jid = c.submit(shot_spec(sample_shot, tmp_path / "out"))
        assert wait_until(lambda: c.status(jid).state == "running", 20)
        for token in (None, "not-the-admin-token", ADMIN + "x"):
            for verb in ("cancel", "retry"):
                r = http(f"{mon.url}/api/jobs/{jid}/{verb}", "POST", token=token)
                assert r.status == 401 and "admin token" in r.json()["error"]
        assert http(f"{mon.url}/api/admin", "POST", token="wrong-token-123").status == 401
        time.sleep(0.5)
        assert c.status(jid).state == "running"


def test_an_engine_without_an_admin_token_refuses_every_change_from_the_page(
    engine_config, start_engine, sample_shot, tmp_path
):
    mon = start_monitored(engine_config, start_engine, step_s=0.2, worker__steps=30, security__admin_token="")
    with mon.client() as c:
        jid = c.submit(shot_spec(sample_shot, tmp_path / "out"))
        r = http(f"{mon.url}/api/jobs/{jid}/cancel", "POST", token="")
        assert r.status == 403 and "no [security] admin token" in r.json()["error"]
        assert c.status(jid).state in ("queued", "running")


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_an_admin_cancel_from_the_page_stops_the_running_job_and_its_follower_hears_at_once(
    engine_config, start_engine, sample_shot, tmp_path
):
    mon = start_monitored(engine_config, start_engine, step_s=0.2, worker__steps=50)
    with mon.client() as c:
        jid = c.submit(shot_spec(sample_shot, tmp_path / "out"))
        assert wait_until(lambda: c.status(jid).state == "running", 20)
        r = http(f"{mon.url}/api/jobs/{jid}/cancel", "POST", token=ADMIN)
        assert r.status == 200 and r.json()["job"] == jid
        t0 = time.monotonic()
        final = c.wait(jid, wait=10.0)
        assert final.state == "cancelled"
        # The page told the loop: the long poll is answered within a step, not at its 10 s wait.
        assert time.monotonic() - t0 < 5.0
    assert not list((tmp_path / "out").glob("v*"))


def test_a_queued_job_cancelled_from_the_page_is_cancelled_without_running(
    engine_config, start_engine, sample_shot, tmp_path
):
    mon = start_monitored(engine_config, start_engine, step_s=0.2, worker__steps=50)
    with mon.client() as c:
        first = c.submit(shot_spec(sample_shot, tmp_path / "out"))
        second = c.submit(shot_spec(sample_shot, tmp_path / "out", seed=1))
        assert wait_until(lambda: c.status(first).state == "running", 20)
        r = http(f"{mon.url}/api/jobs/{second}/cancel", "POST", token=ADMIN)
        assert r.status == 200 and r.json()["state"] == "cancelled"
        assert c.status(second).state == "cancelled"
        assert http(f"{mon.url}/api/jobs/{second}/cancel", "POST", token=ADMIN).status == 409


def test_retry_queues_a_cancelled_jobs_spec_as_a_new_job_of_the_same_owner_that_runs(
    engine_config, start_engine, sample_shot, tmp_path
):
    mon = start_monitored(engine_config, start_engine, step_s=0.1, worker__steps=10)
    with mon.client(token="artist-token-2") as c:
        jid = c.submit(shot_spec(sample_shot, tmp_path / "out"))
        assert wait_until(lambda: c.status(jid).state == "running", 20)
        c.cancel(jid)
        assert c.wait(jid).state == "cancelled"
        r = http(f"{mon.url}/api/jobs/{jid}/retry", "POST", token=ADMIN)
        assert r.status == 200
        new = r.json()["retried_as"]
        assert new != jid
        assert c.wait(new).state == "done"  # the artist's own job: status is not refused
        assert c.status(jid).state == "cancelled"
    assert any(e.get("message") == f"retried from the monitor as job {new}" for e in mon.job(jid)["events"])


def test_retry_of_a_done_job_is_refused(engine_config, start_engine, sample_shot, tmp_path):
    mon = start_monitored(engine_config, start_engine)
    with mon.client() as c:
        jid = c.submit(shot_spec(sample_shot, tmp_path / "out"))
        c.wait(jid)
    r = http(f"{mon.url}/api/jobs/{jid}/retry", "POST", token=ADMIN)
    assert r.status == 409 and "only failed or cancelled jobs" in r.json()["error"]


def test_a_request_naming_another_host_is_refused_by_a_loopback_page(engine_config, start_engine):
    mon = start_monitored(engine_config, start_engine)
    assert http(f"{mon.url}/api/jobs", headers={"Host": "attacker.example"}).status == 400
    assert http(f"{mon.url}/api/jobs", headers={"Host": "localhost"}).status == 200


def serve(config) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "void_engine.cli", "serve", "--config", str(config)],
        cwd=str(REPO),
        env=env_for_engine(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_page_is_not_served_on_a_non_loopback_address_unless_configured(engine_config):
    res = serve(engine_config(**monitor_keys(enabled=True, bind="0.0.0.0", port=free_port())))
    assert res.returncode == 2
    assert "refusing to serve the monitor page on 0.0.0.0" in res.stderr and "monitor_allow_remote = true" in res.stderr


def test_a_non_loopback_page_is_served_when_allow_remote_is_set(engine_config, start_engine):
    port = free_port()
    cfg = engine_config(**monitor_keys(enabled=True, bind="0.0.0.0", port=port, allow_remote=True))
    start_engine(cfg)
    assert http(f"http://127.0.0.1:{port}/api/jobs").status == 200


def test_the_monitor_is_off_by_default(engine_config, start_engine):
    import socket

    port = free_port()
    start_engine(engine_config(**monitor_keys(port=port)))  # a port, but not enabled
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_pages_and_thumbnails_never_hold_up_the_engines_socket_loop(engine_config, start_engine, tmp_path):
    from void_engine.demo.samples import make_sample_shot

    big = make_sample_shot(tmp_path / "big", seed=3, width=1920, height=1080, frames=4)
    mon = start_monitored(
        engine_config, start_engine, server__roots=[str(big.root), str(tmp_path / "out")], monitor={"strip_frames": 4}
    )
    with mon.client() as c:
        jid = c.submit(shot_spec(big, tmp_path / "out"))
        c.wait(jid)
        import threading

        def load_thumbs() -> None:
            for kind in ("plate", "quadmask", "result"):
                for f in big.frames:
                    assert http(f"{mon.url}/thumbs/{jid}/{kind}/{f}.jpg").status == 200

        loader = threading.Thread(target=load_thumbs)
        loader.start()
        worst = 0.0
        while loader.is_alive():
            worst = max(worst, c.ping())
            time.sleep(0.02)
        loader.join()
    assert worst < 0.25, f"a ping took {worst:.3f} s while the page made 12 thumbnails of HD frames"


def test_a_by_value_jobs_plate_thumbnails_outlive_its_uploaded_frames(
    engine_config, start_engine, sample_shot, tmp_path
):
    mon = start_monitored(engine_config, start_engine, step_s=0.2, worker__steps=10)
    with mon.client() as c:
        jid = c.submit(shot_spec(sample_shot, None), by_value=True)
        assert c.wait(jid).state == "done"
    # The engine deletes the upload just after recording the end, so a client can see "done" first.
    assert wait_until(lambda: not (tmp_path / "state" / "jobs" / jid / "inputs").exists(), timeout=5)
    assert mon.job(jid)["strip"]["available"]["plate"] is True
    for frame in sample_shot.frames:
        assert http(f"{mon.url}/thumbs/{jid}/plate/{frame}.jpg").status == 200
