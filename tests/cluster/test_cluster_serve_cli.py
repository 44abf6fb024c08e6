"""`void-engine serve --cluster local` as a real process: it starts its own Ray, its engine actor
runs a preview job submitted by a plain EngineClient, and an admin `shutdown` stops the gateway,
its actors and the Ray it started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridge.client import EngineClient
from bridge.protocol import JobSpec
from tests.engine.engine_harness import EngineProcess, write_config

# A local Ray: its default ports and folders are machine-wide, so run alone (tests/parallel.py).
pytestmark = pytest.mark.serial

pytest.importorskip("ray", reason="the cluster tests need the [cluster] extra (ray 2.60)")

ADMIN = "admin-secret-1234-for-tests-only-0123456789abcdef"


def test_serve_with_cluster_flag_runs_jobs_on_a_ray_actor_and_shuts_down(tmp_path):
    from void_engine.demo.samples import make_sample_shot

    shot = make_sample_shot(tmp_path / "shot", seed=2, width=160, height=96, frames=2)
    out = tmp_path / "out"
    out.mkdir()
    config = write_config(
        tmp_path / "engine.toml",
        {
            "server": {
                "bind": "tcp://127.0.0.1:*",
                "state_dir": str(tmp_path / "state"),
                "roots": [str(shot.root), str(out)],
            },
            "worker": {"backend": "preview", "model_size": [32, 64]},
            # No GPU here: one engine that holds none, so Ray can place it on this CPU machine.
            "cluster": {"engines": 1, "gpus_per_engine": 0.0, "cpus_per_engine": 1.0},
            "security": {"admin_token": ADMIN},
        },
    )
    eng = EngineProcess(config, extra_args=["--cluster", "local"]).start(timeout=60)
    try:
        with EngineClient(eng.endpoint, timeout=30, admin_token=ADMIN) as client:
            jid = client.submit(
                JobSpec(
                    plate=shot.plate,
                    frames=tuple(shot.frames),
                    prompt="wall",
                    out=str(out),
                    remove=shot.remove_matte,
                    affected=shot.affected_matte,
                )
            )
            status = client.wait(jid)
            assert status.state == "done", (status.error, eng.log()[-3000:])
            assert Path(status.output).parent == out / "v001"
            ray_processes = descendants(eng.proc.pid)
            assert ray_processes, "the gateway started no Ray processes"
            client.shutdown()
        assert eng.proc is not None
        assert eng.proc.wait(timeout=60) == 0
        assert "void-engine stopped" in eng.output()  # its stdout (the harness drains the pipe)
    finally:
        eng.kill()
    # The Ray the gateway started (GCS, raylet, workers) went with it.
    alive = [pid for pid in ray_processes if _alive(pid)]
    assert alive == [], [_cmdline(pid) for pid in alive]


def descendants(root: int) -> list[int]:
    """Every live process under ``root`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == pid]
        found += kids
        frontier += kids
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")[:200]
    except OSError:
        return "?"
