"""``nuke -t batch.py`` as a farm runs it: a missing script, --save, progress lines, one error
line, and SIGINT/SIGTERM cancelling the engine job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from bridge.client import EngineClient
from tests.engine.engine_harness import free_port

from .nuke_helpers import FAKES, PLUGIN, REPO, make_scene

TOKEN = "nuke-tests-token"


def _batch(nuke, argv):
    from void_nuke import batch

    return batch.main(argv)


def test_a_missing_script_is_one_line_naming_it(fake_nuke, tmp_path, capsys):
    fake_nuke.fake_reset(gui=False)
    missing = tmp_path / "nope.nk"
    rc = _batch(fake_nuke, ["--script", str(missing), "--plate", "Read1", "--remove", "Roto1", "--prompt", "x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert str(missing) in err[0] and "Traceback" not in err[0]


def test_save_puts_the_result_read_into_the_script_and_progress_is_printed(fake_nuke, engine, capsys):
    nuke = fake_nuke
    nuke.fake_reset(gui=False)
    address, root = engine
    shot = root / uuid.uuid4().hex[:8]
    read, roto = make_scene(nuke, shot, range(1, 4), select=False)
    roto.setInput(0, read)
    script = shot / "comp.nk"
    nuke.scriptSaveAs(str(script))
    nuke.fake_reset(gui=False)  # a fresh nuke -t: the script is opened by batch.py

    rc = _batch(
        nuke,
        ["--script", str(script), "--plate", "Read1", "--remove", "Roto1", "--prompt", "wall"]
        + ["--engine", address, "--save"],
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0, out
    assert any("Rendering Roto1" in line for line in out) and any("Queued on the engine" in line for line in out)
    pattern = out[-1].split()[-1]
    nuke.fake_reset(gui=False)
    nuke.scriptOpen(str(script))
    result = nuke.toNode("VOID_result")
    assert result is not None and result["file"].value() == pattern


def test_a_failed_job_prints_its_error_once_naming_the_flag(fake_nuke, tmp_path, capsys, monkeypatch):
    nuke = fake_nuke
    nuke.fake_reset(gui=False)
    monkeypatch.setenv("VOID_ENGINE_TIMEOUT", "0.3")
    read, roto = make_scene(nuke, tmp_path, range(1, 3), select=False)
    nobody = f"tcp://127.0.0.1:{free_port()}"
    rc = _batch(nuke, ["--plate", read.name(), "--remove", roto.name(), "--prompt", "x", "--engine", nobody])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert rc == 1 and len(err) == 1, captured
    assert nobody in err[0] and "--engine" in err[0] and "panel" not in err[0]
    assert "can't reach" not in captured.out


CHILD = r"""
import sys
fakes, plugin, repo, shot, address = sys.argv[1:6]
sys.path[:0] = [fakes, plugin, repo]
from pathlib import Path
import nuke
nuke.fake_reset(gui=False)
from tests.nuke.nuke_helpers import make_scene
read, roto = make_scene(nuke, Path(shot), range(1, 61), select=False)
from void_nuke import batch
sys.exit(batch.main(["--plate", read.name(), "--remove", roto.name(), "--prompt", "empty street",
                     "--engine", address]))
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_job_cancels_the_engine_job_and_exits_non_zero(engine, signum):
    address, root = engine
    env = dict(os.environ, VOID_BRIDGE_TOKEN=TOKEN, PYTHONUNBUFFERED="1")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(FAKES), str(PLUGIN), str(REPO), str(root / uuid.uuid4().hex[:8]), address],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    job = None
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if "Queued on the engine (job " in line:
                job = line.split("(job ")[1].rstrip(")\n")
                break
        assert job is not None, child.stderr.read() if child.stderr else ""
        child.send_signal(signum)
        _, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 128 + signum
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"job {job} cancelled on the engine" in lines[0], err
    deadline = time.monotonic() + 5
    with EngineClient(address, timeout=5, token=TOKEN) as client:
        while client.status(job).state != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.status(job).state == "cancelled"
