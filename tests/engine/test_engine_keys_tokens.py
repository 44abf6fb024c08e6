"""Keys and tokens: a CURVE secret is never readable by others, an admin token is long and kept out
of the config file, and admin actions on someone else's job are logged with who asked."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import zmq
import zmq.auth

from bridge.client import EngineClient
from bridge.protocol import JobSpec
from void_engine.cli import main as engine_cli
from void_engine.config import MIN_ADMIN_TOKEN_CHARS, ConfigError, load_config
from void_engine.service import security
from void_engine.service.security import make_keypair, start_curve

from .engine_harness import wait_until, write_config

LONG_TOKEN = "t" * MIN_ADMIN_TOKEN_CHARS


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_key_is_created_where_only_its_owner_can_read_it(tmp_path, monkeypatch):
    made_in: list[tuple[Path, int]] = []
    real = zmq.auth.create_certificates

    def spy(folder, name):
        # pyzmq writes with the umask: the folder it writes in must already keep others out.
        made_in.append((Path(folder), mode_of(Path(folder))))
        return real(folder, name)

    monkeypatch.setattr(security.zmq.auth, "create_certificates", spy)
    old = os.umask(0o022)
    try:
        public, secret = make_keypair(tmp_path / "keys", "engine")
    finally:
        os.umask(old)
    [(folder, folder_mode)] = made_in
    assert folder != tmp_path / "keys" and folder_mode == 0o700
    assert not folder.exists()  # the private folder is gone afterwards
    assert mode_of(secret) == 0o600 and secret == tmp_path / "keys" / "engine.key_secret"
    assert zmq.auth.load_certificate(str(secret))[1] is not None
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["engine.key", "engine.key_secret"]


def test_make_keypair_still_refuses_to_overwrite_a_key(tmp_path):
    make_keypair(tmp_path, "engine")
    before = (tmp_path / "engine.key_secret").read_bytes()
    with pytest.raises(FileExistsError, match="not overwriting"):
        make_keypair(tmp_path, "engine")
    assert (tmp_path / "engine.key_secret").read_bytes() == before


def test_curve_refuses_a_secret_key_that_others_may_read_and_says_the_fix(tmp_path):
    _, secret = make_keypair(tmp_path / "keys", "engine")
    os.chmod(secret, 0o644)
    (tmp_path / "clients").mkdir()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    try:
        with pytest.raises(ValueError) as info:
            start_curve(ctx, sock, secret, tmp_path / "clients")
        assert "0644" in str(info.value) and f"chmod 600 {secret}" in str(info.value)
    finally:
        sock.close(0)
        ctx.term()


def security_config(tmp_path: Path, **security_keys) -> Path:
    return write_config(tmp_path / "engine.toml", {"security": security_keys})


def test_a_short_admin_token_is_refused_at_start_naming_the_command_that_makes_one(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(security_config(tmp_path, admin_token="hunter2-hunter2"))
    msg = str(info.value)
    assert "[security] admin_token" in msg and "15 characters" in msg
    assert "void-engine keys --admin-token" in msg


def test_admin_token_comes_from_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_VOID_ADMIN", LONG_TOKEN)
    cfg = load_config(security_config(tmp_path, admin_token_env="STUDIO_VOID_ADMIN"))
    assert cfg.admin_token == LONG_TOKEN


def test_a_short_token_from_the_environment_is_refused_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("VOID_ENGINE_ADMIN_TOKEN", "short")
    with pytest.raises(ConfigError, match="VOID_ENGINE_ADMIN_TOKEN"):
        load_config(security_config(tmp_path))


def test_admin_token_file_readable_by_others_is_refused_with_the_fix(tmp_path):
    token_file = tmp_path / "admin.token"
    token_file.write_text(LONG_TOKEN + "\n")
    os.chmod(token_file, 0o644)
    with pytest.raises(ConfigError) as info:
        load_config(security_config(tmp_path, admin_token_file=str(token_file)))
    assert "0644" in str(info.value) and f"chmod 600 {token_file}" in str(info.value)


def test_keys_command_writes_a_0600_token_file_the_engine_accepts(tmp_path, capsys):
    token_file = tmp_path / "secrets" / "admin.token"
    assert engine_cli(["keys", "--admin-token", str(token_file)]) == 0
    assert mode_of(token_file) == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= MIN_ADMIN_TOKEN_CHARS
    cfg = load_config(security_config(tmp_path, admin_token_file=str(token_file)))
    assert cfg.admin_token == token
    assert "admin_token_file" in capsys.readouterr().out
    # A second run never replaces a token an engine may be using.
    assert engine_cli(["keys", "--admin-token", str(token_file)]) == 2
    assert token_file.read_text().strip() == token
    assert "not overwriting" in capsys.readouterr().err


def test_admin_cancel_of_another_owners_job_and_shutdown_are_logged_with_the_requester(
    engine_config, start_engine, sample_shot, tmp_path
):
    admin_token = "admin-secret-1234-for-tests-only-0123456789abcdef"
    eng = start_engine(engine_config(), step_s=0.5)
    with (
        EngineClient(eng.endpoint, token="alice-token-1") as alice,
        EngineClient(eng.endpoint, token="root-token-1", admin_token=admin_token) as admin,
    ):
        spec = JobSpec(
            plate=sample_shot.plate,
            frames=tuple(sample_shot.frames),
            prompt="the wall",
            out=str(tmp_path / "out"),
            remove=sample_shot.remove_matte,
        )
        job = alice.submit(spec)
        admin.cancel(job)
        assert alice.wait(job).state == "cancelled"
        admin_owner = admin.hello()["owner"]
        alice_owner = alice.hello()["owner"]
        admin.shutdown()
    assert wait_until(lambda: eng.proc is not None and eng.proc.poll() is not None, timeout=20)
    log = eng.log()
    assert f"admin {admin_owner} cancels job {job} of {alice_owner}" in log
    assert f"admin {admin_owner} asks the engine to shut down" in log
