"""The engine harness the demo, the tests and the benchmarks share (void_engine.service.local)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from void_engine.config import write_config
from void_engine.service.local import LOOPBACK_ANY_PORT, EngineStartError, LocalEngine

from .engine_harness import REPO, wait_until


def _config(tmp_path, **server):
    return write_config(
        tmp_path / "engine.toml",
        {"server": {"bind": LOOPBACK_ANY_PORT, "state_dir": str(tmp_path / "state"), **server}},
    )


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie (dead, not yet reaped by its new parent) counts as gone.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_an_engine_that_exits_at_start_raises_with_its_exit_code_and_log(tmp_path):
    engine = LocalEngine(_config(tmp_path, no_such_key=1), cwd=REPO)
    with pytest.raises(EngineStartError) as err:
        engine.start()
    assert err.value.reason == "the engine exited (code 2)"
    assert "unknown key 'no_such_key'" in str(err.value)  # the log's tail comes with it


def test_stop_ends_the_engine_it_started_and_the_log_holds_its_output(tmp_path):
    with LocalEngine(_config(tmp_path), cwd=REPO) as engine:
        assert engine.endpoint.startswith("tcp://127.0.0.1:")
        pid = engine.pid
    assert engine.proc is not None and engine.proc.returncode == 0
    assert "void-engine stopped" in engine.output()
    assert f"listening on {engine.endpoint}" in engine.log()
    assert pid is not None and _gone(pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_the_engine_dies_with_a_parent_killed_without_cleaning_up(tmp_path):
    parent = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from void_engine.service.local import LocalEngine
        engine = LocalEngine(Path({str(_config(tmp_path))!r}), cwd=Path({str(REPO)!r})).start()
        print(engine.pid, flush=True)
        time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True, cwd=REPO)
    engine_pid = None
    try:
        assert proc.stdout is not None
        engine_pid = int(proc.stdout.readline())
        assert not _gone(engine_pid)
        proc.send_signal(signal.SIGKILL)  # no finally, no atexit: only the kernel can stop the engine now
        proc.wait(10)
        assert wait_until(lambda: _gone(engine_pid), timeout=20)
    finally:
        proc.kill()
        proc.wait()
        if engine_pid is not None and not _gone(engine_pid):
            os.kill(engine_pid, signal.SIGKILL)  # the test failed: leave no engine behind
