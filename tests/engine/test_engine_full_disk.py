"""A full disk: the job fails naming the folder and the space it needed, nothing partial is published,
its staging folder is gone, and the engine serves the next job. On real (small) tmpfs mounts."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.client import EngineClient
from bridge.protocol import JobSpec

from .engine_harness import wait_until

KB = 1024


def mount_tmpfs(path: Path, size_kb: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")


@pytest.fixture
def small_disk(tmp_path) -> Iterator:
    """``small_disk(name, size_kb)`` mounts a tmpfs under tmp_path; all are unmounted at teardown.

    Ask for this fixture before ``start_engine`` so the engines are killed before their disk goes.
    """
    mounted: list[Path] = []

    def make(name: str, size_kb: int) -> Path:
        path = tmp_path / name
        mount_tmpfs(path, size_kb)
        mounted.append(path)
        return path

    yield make
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path, leave_bytes: int) -> Path:
    """Write a filler file into ``folder`` until only about ``leave_bytes`` are free."""
    filler = folder / "filler.bin"
    free = shutil.disk_usage(folder).free
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave_bytes))
    return filler


def job(shot, out: Path | None) -> JobSpec:
    return JobSpec(
        plate=shot.plate,
        frames=tuple(shot.frames),
        prompt="the wall",
        out=str(out) if out else None,
        remove=shot.remove_matte,
    )


def left_behind(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name != "filler.bin") if out.exists() else []


def has_step(client: EngineClient, job_id: str) -> bool:
    return any(e.get("kind") == "step" for e in client.request("events", job=job_id, after=0).header["events"])


def test_a_job_that_cannot_fit_is_refused_before_it_writes(small_disk, engine_config, start_engine, sample_shot):
    disk = small_disk("disk", 128)
    out = disk / "sh010"
    eng = start_engine(engine_config(server__roots=[str(Path(sample_shot.root)), str(disk)]))
    with EngineClient(eng.endpoint) as client:
        status = client.wait(client.submit(job(sample_shot, out)))
    assert status.state == "failed"
    assert f"not enough space in {out}" in status.error and "MB are free" in status.error
    assert left_behind(out) == []


def test_disk_filling_mid_job_fails_it_cleanly_and_the_next_job_runs(
    small_disk, engine_config, start_engine, sample_shot
):
    disk = small_disk("disk", 1024)
    out = disk / "sh010"
    eng = start_engine(engine_config(server__roots=[str(Path(sample_shot.root)), str(disk)]), step_s=1.0)
    with EngineClient(eng.endpoint) as client:
        first = client.submit(job(sample_shot, out))
        assert wait_until(lambda: has_step(client, first), timeout=30)
        filler = fill(disk, leave_bytes=16 * KB)  # another writer takes the space while the model runs
        status = client.wait(first)
        assert status.state == "failed"
        assert f"the disk holding {out} filled up" in status.error and "needs about" in status.error
        assert left_behind(out) == []  # no v###, no staging folder
        filler.unlink()
        second = client.wait(client.submit(job(sample_shot, out)))
        assert second.state == "done", second.error
        assert left_behind(out) == ["v001"]


def test_by_value_job_on_a_full_spool_fails_cleanly_and_the_engine_keeps_serving(
    small_disk, engine_config, start_engine, sample_shot, tmp_path
):
    state = small_disk("state", 2048)
    eng = start_engine(engine_config(server__state_dir=str(state)), step_s=1.0)
    with EngineClient(eng.endpoint) as client:
        first = client.submit(job(sample_shot, None), by_value=True)
        assert wait_until(lambda: has_step(client, first), timeout=30)
        filler = fill(state, leave_bytes=96 * KB)  # room for the journal, not for the frames
        status = client.wait(first)
        assert status.state == "failed"
        assert "filled up" in status.error and str(state) in status.error
        results = state / "jobs" / first / "out"
        assert left_behind(results) == []
        filler.unlink()
        second = client.submit(job(sample_shot, None), by_value=True)
        status = client.wait(second)
        assert status.state == "done", status.error
        client.fetch(second, tmp_path / "fetched")
        assert len(list((tmp_path / "fetched").glob("*.exr"))) == len(sample_shot.frames)


def test_an_upload_that_fills_the_spool_is_refused_naming_it_and_leaves_nothing(
    small_disk, engine_config, start_engine, sample_shot
):
    from bridge import protocol as P

    state = small_disk("state", 512)
    eng = start_engine(engine_config(server__state_dir=str(state)))
    with EngineClient(eng.endpoint) as client:
        fill(state, leave_bytes=96 * KB)  # the journal fits; a 3-frame plate does not
        with pytest.raises(P.ProtocolError) as info:
            client.submit(job(sample_shot, None), by_value=True)
        assert info.value.code == P.BUSY
        assert f"the engine's spool {state / 'spool'}" in info.value.message
        assert list((state / "spool").iterdir()) == []
        assert client.ping() < 1.0
