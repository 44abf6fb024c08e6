"""void_engine.service.security: path roots (.., symlinks, absolute escapes) and CURVE (unknown keys refused,
ownership by key, admin by key) against a real engine process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import protocol as P
from bridge.client import EngineClient, EngineUnavailable
from bridge.protocol import JobSpec
from void_engine.service.security import check_path, check_pattern, is_loopback

from .engine_harness import REPO, env_for_engine


@pytest.fixture
def roots(tmp_path):
    root = tmp_path / "shows"
    (root / "shot").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    return root, tmp_path / "secret"


def test_paths_inside_roots_resolve(roots):
    root, _ = roots
    assert check_path(str(root / "shot" / "a.exr"), [root], "job.plate") == (root / "shot" / "a.exr").resolve()
    assert check_path(str(root / "shot" / "new" / "v001"), [root], "job.out").parent.name == "new"


@pytest.mark.parametrize(
    "make_raw, code",
    [
        (lambda root, secret: str(root / "shot" / ".." / ".." / "secret" / "a.exr"), P.UNAUTHORISED),
        (lambda root, secret: str(root / "shot" / ".."), P.UNAUTHORISED),
        (lambda root, secret: str(secret / "a.exr"), P.UNAUTHORISED),
        (lambda root, secret: "/etc/passwd", P.UNAUTHORISED),
        (lambda root, secret: "shot/a.exr", P.BAD_REQUEST),
        (lambda root, secret: str(root) + "-sibling/a.exr", P.UNAUTHORISED),
    ],
)
def test_escapes_are_refused_naming_the_field(roots, make_raw, code):
    root, secret = roots
    with pytest.raises(P.ProtocolError) as info:
        check_path(make_raw(root, secret), [root], "job.plate")
    assert info.value.code == code and info.value.field == "job.plate"


def test_symlinks_leading_outside_the_roots_are_refused(roots):
    root, secret = roots
    os.symlink(secret, root / "shot" / "link_dir")
    (secret / "plate.1001.exr").write_bytes(b"x")
    os.symlink(secret / "plate.1001.exr", root / "shot" / "plate.1001.exr")
    with pytest.raises(P.ProtocolError, match="outside"):
        check_path(str(root / "shot" / "link_dir" / "plate.1001.exr"), [root], "job.plate")
    # The folder is fine, but one frame file of the sequence is a symlink out of the roots.
    with pytest.raises(P.ProtocolError) as info:
        check_pattern(str(root / "shot" / "plate.####.exr"), [1001], [root], "job.plate")
    assert info.value.code == P.UNAUTHORISED


def test_no_roots_means_no_paths_at_all(roots):
    root, _ = roots
    with pytest.raises(P.ProtocolError, match="by value only"):
        check_path(str(root / "a.exr"), [], "job.plate")


def test_loopback_detection():
    assert is_loopback("tcp://127.0.0.1:5555") and is_loopback("tcp://[::1]:5555") and is_loopback("tcp://localhost:1")
    assert (
        not is_loopback("tcp://0.0.0.0:5555")
        and not is_loopback("tcp://*:5555")
        and not is_loopback("tcp://10.0.0.2:1")
    )


def test_serve_refuses_a_network_bind_without_curve(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "void_engine.cli",
            "serve",
            "--bind",
            "tcp://0.0.0.0:0",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        cwd=str(REPO),
        env=env_for_engine(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2 and "without CURVE" in res.stderr


def make_keys(folder: Path, name: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "void_engine.cli", "keys", "--out", str(folder), "--name", name],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    assert (folder / f"{name}.key").is_file() and (folder / f"{name}.key_secret").is_file()
    assert (folder / f"{name}.key_secret").stat().st_mode & 0o077 == 0


def test_keys_command_refuses_to_overwrite(tmp_path):
    make_keys(tmp_path, "engine")
    res = subprocess.run(
        [sys.executable, "-m", "void_engine.cli", "keys", "--out", str(tmp_path), "--name", "engine"],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2 and "not overwriting" in res.stderr


def test_curve_refuses_unknown_keys_and_keeps_jobs_per_key(engine_config, start_engine, sample_shot, tmp_path):
    keys, allowed, strangers = tmp_path / "keys", tmp_path / "allowed", tmp_path / "strangers"
    for name in ("engine", "alice", "bob", "root"):
        make_keys(keys, name)
    make_keys(strangers, "mallory")
    allowed.mkdir()
    for name in ("alice", "bob", "root"):
        (allowed / f"{name}.key").write_bytes((keys / f"{name}.key").read_bytes())
    eng = start_engine(
        engine_config(
            security__curve=True,
            security__server_secret_key=str(keys / "engine.key_secret"),
            security__clients_dir=str(allowed),
            security__admin_keys=[str(keys / "root.key")],
        )
    )

    def client(folder: Path, name: str, **kw) -> EngineClient:
        return EngineClient.from_key_files(eng.endpoint, keys / "engine.key", folder / f"{name}.key_secret", **kw)

    with client(strangers, "mallory", timeout=2.0) as mallory:
        with pytest.raises((P.ProtocolError, EngineUnavailable)) as info:
            mallory.ping()
        if isinstance(info.value, P.ProtocolError):
            assert info.value.code == P.UNAUTHORISED and "CURVE" in info.value.message

    with client(keys, "alice") as alice, client(keys, "bob") as bob, client(keys, "root") as root:
        hello = alice.hello()
        assert hello["curve"] is True and hello["admin"] is False
        job = alice.submit(
            JobSpec(
                plate=sample_shot.plate,
                frames=tuple(sample_shot.frames),
                prompt="x",
                out=str(tmp_path / "out"),
                remove=sample_shot.remove_matte,
            )
        )
        assert alice.wait(job).state == "done"
        # Bob is allowed to connect, but the job is Alice's: the token he sends does not matter.
        bob.token = alice.token
        with pytest.raises(P.ProtocolError) as info:
            bob.fetch(job)
        assert info.value.code == P.UNAUTHORISED
        assert root.hello()["admin"] is True
        assert root.fetch(job).pattern.endswith(".####.exr")
