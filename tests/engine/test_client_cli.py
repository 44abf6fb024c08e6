"""The command lines external checks call: `void-bridge ... submit --wait`, status/cancel/fetch,
`void-engine run` (progress bar, last line ends with the output pattern) and `void-engine doctor`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from .engine_harness import REPO, env_for_engine
from .test_engine_server import far_from_mask


def cli(module: str, *args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = env_for_engine(extra={"VOID_BRIDGE_HOME": str(home)})
    env.pop("VOID_BRIDGE_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=str(REPO), env=env, capture_output=True, text=True, timeout=timeout
    )


def job_flags(shot, out: Path) -> list[str]:
    return [
        "--plate",
        shot.plate,
        "--frames",
        f"{shot.frames[0]}-{shot.frames[-1]}",
        "--remove",
        shot.remove_matte,
        "--affected",
        shot.affected_matte,
        "--prompt",
        "the wall",
        "--out",
        str(out),
    ]


def test_submit_wait_ends_with_the_output_pattern_and_status_fetch_cancel_work(
    engine_config, start_engine, sample_shot, tmp_path
):
    eng = start_engine(engine_config())
    home = tmp_path / "home"
    res = cli(
        "bridge.cli", "--engine", eng.endpoint, "submit", *job_flags(sample_shot, tmp_path / "out"), "--wait", home=home
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    job = lines[0].strip()
    pattern = lines[-1].split()[-1]
    assert pattern == str(tmp_path / "out" / "v001" / "sample_void.####.exr")
    assert all((tmp_path / "out" / "v001" / f"sample_void.{f}.exr").is_file() for f in sample_shot.frames)
    assert "model" in res.stderr and "3/3" in res.stderr  # the progress bar
    assert re.search(r"^finish: upscale [0-9.]+x, [0-9.]+% of the fill from the plate", res.stderr, re.M)

    # A second invocation is the same artist (token kept in VOID_BRIDGE_HOME): status, fetch, cancel.
    st = cli("bridge.cli", "--engine", eng.endpoint, "status", job, home=home)
    assert st.returncode == 0 and st.stdout.split()[:2] == [job, "done"] and st.stdout.split()[-1] == pattern
    fe = cli("bridge.cli", "--engine", eng.endpoint, "fetch", job, "--to", str(tmp_path / "copy"), home=home)
    assert fe.returncode == 0 and fe.stdout.split()[-1] == str(tmp_path / "copy" / "sample_void.####.exr")
    assert len(list((tmp_path / "copy").glob("*.exr"))) == 3
    ca = cli("bridge.cli", "--engine", eng.endpoint, "cancel", job, home=home)
    assert ca.returncode == 0 and ca.stdout.split() == [job, "done"]
    # Another user (another token) is refused.
    other = cli("bridge.cli", "--engine", eng.endpoint, "fetch", job, home=tmp_path / "other-home")
    assert other.returncode == 1 and "unauthorised" in other.stderr


def test_submit_wait_exits_nonzero_when_the_job_fails(engine_config, start_engine, sample_shot, tmp_path):
    eng = start_engine(engine_config())
    broken = Path(sample_shot.root) / "cli_broken"
    broken.mkdir(exist_ok=True)
    for f in sample_shot.frames:
        (broken / f"plate.{f}.exr").write_bytes(b"not an exr")
    flags = job_flags(sample_shot, tmp_path / "out")
    flags[1] = str(broken / "plate.####.exr")
    res = cli("bridge.cli", "--engine", eng.endpoint, "submit", *flags, "--wait", home=tmp_path / "home")
    assert res.returncode == 1
    assert "failed" in res.stdout.strip().splitlines()[-1] and "plate.1001.exr" in res.stdout


def test_submit_to_an_absent_engine_says_so(tmp_path):
    from .engine_harness import free_port

    res = cli(
        "bridge.cli", "--engine", f"tcp://127.0.0.1:{free_port()}", "--timeout", "0.5", "ping", home=tmp_path / "home"
    )
    assert res.returncode == 3 and "no reply" in res.stderr


def test_engine_run_preview_prints_progress_and_ends_with_the_output_pattern(sample_shot, tmp_path):
    from void_engine.plates import FrameSequence, read_plate

    res = cli(
        "void_engine.cli",
        "run",
        *job_flags(sample_shot, tmp_path / "out"),
        "--backend",
        "preview",
        home=tmp_path / "home",
    )
    assert res.returncode == 0, res.stderr
    pattern = res.stdout.strip().splitlines()[-1].split()[-1]
    assert pattern == str(tmp_path / "out" / "v001" / "sample_void.####.exr")
    assert "[" in res.stderr and "write" in res.stderr
    assert re.search(r"^void-engine run: finish: upscale [0-9.]+x", res.stderr, re.M)
    for f in sample_shot.frames:
        out = read_plate(FrameSequence(pattern, tuple(sample_shot.frames)).path(f))
        plate = read_plate(FrameSequence(sample_shot.plate, tuple(sample_shot.frames)).path(f))
        keep = far_from_mask(sample_shot, f)
        assert np.array_equal(out.pixels[keep], plate.pixels[keep])
        assert not np.array_equal(out.pixels, plate.pixels)


def test_engine_run_names_the_missing_frame(sample_shot, tmp_path):
    flags = job_flags(sample_shot, tmp_path / "out")
    flags[3] = "1001-1005"
    res = cli("void_engine.cli", "run", *flags, "--backend", "preview", home=tmp_path / "home")
    assert res.returncode == 2 and "frame 1004" in res.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.exr"))


def test_doctor_reports_each_check(tmp_path):
    res = cli(
        "void_engine.cli",
        "doctor",
        "--bind",
        "tcp://127.0.0.1:0",
        "--model",
        str(tmp_path / "nope"),
        home=tmp_path / "home",
    )
    lines = res.stdout.strip().splitlines()
    assert [ln.split()[1] for ln in lines] == ["gpu", "weights", "ocio", "port"]
    assert lines[1].startswith("FAIL") and "nope" in lines[1]  # a model folder that does not exist
    assert res.returncode == 1


def test_client_token_file_left_empty_by_a_crash_is_replaced_with_a_usable_token(tmp_path, monkeypatch):
    from bridge.client import default_token

    monkeypatch.delenv("VOID_BRIDGE_TOKEN", raising=False)
    monkeypatch.setenv("VOID_BRIDGE_HOME", str(tmp_path))
    (tmp_path / "client_token").write_text("")  # created, never written
    token = default_token()
    assert len(token) >= 8 and default_token() == token
    assert (tmp_path / "client_token").read_text().strip() == token
    assert [p.name for p in tmp_path.iterdir()] == ["client_token"]


def test_client_token_file_readable_by_others_is_made_private(tmp_path, monkeypatch):
    from bridge.client import default_token

    monkeypatch.delenv("VOID_BRIDGE_TOKEN", raising=False)
    monkeypatch.setenv("VOID_BRIDGE_HOME", str(tmp_path))
    path = tmp_path / "client_token"
    path.write_text("0123456789abcdef")
    path.chmod(0o644)
    assert default_token() == "0123456789abcdef"
    assert path.stat().st_mode & 0o777 == 0o600


def test_submit_fetch_without_wait_is_a_usage_error_and_submits_nothing(sample_shot, tmp_path):
    res = cli(
        "bridge.cli",
        "--engine",
        "tcp://127.0.0.1:9",
        "--timeout",
        "0.5",
        "submit",
        *job_flags(sample_shot, tmp_path / "out"),
        "--fetch",
        str(tmp_path / "here"),
        home=tmp_path / "home",
    )
    assert res.returncode == 2 and "--fetch" in res.stderr and "--wait" in res.stderr
    assert res.stdout == ""
