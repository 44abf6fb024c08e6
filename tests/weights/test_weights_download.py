"""`void-engine download` against a local fake hub speaking huggingface_hub's real protocol."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.weights.conftest import BASE, BASE_REPO, TOKEN, VOID_REPO, run_download, tiny_files, write_manifest
from void_engine.weights import FileState, diagnose, load_manifest
from void_engine.weights.hub import DownloadError, download
from void_engine.weights.lockfile import LOCK_NAME, read_lock
from void_engine.weights.verify import STAGING_DIR, partial_path

PASS1 = "void_pass1.safetensors"
VAE = f"{BASE}/vae/diffusion_pytorch_model.safetensors"
TRANSFORMER = f"{BASE}/transformer/diffusion_pytorch_model.safetensors"


def _fetch(hub, model_dir: Path, manifest_file: Path, **kw):
    manifest = load_manifest(manifest_file)
    return download(
        model_dir,
        manifest,
        manifest.select(with_pass2=kw.pop("with_pass2", False)),
        endpoint=hub.url,
        token=TOKEN,
        progress=False,
        backoff_s=0.0,
        say=lambda _m: None,
        **kw,
    )


def _same_tree(got: Path, want: Path, skip_pass2: bool = False) -> None:
    files = [f for f in tiny_files(want) if not (skip_pass2 and f == "void_pass2.safetensors")]
    got_files = [f for f in tiny_files(got) if f != LOCK_NAME]
    assert got_files == files
    for f in files:
        assert (got / f).read_bytes() == (want / f).read_bytes(), f


def test_weights_full_download_via_cli(tmp_path, hub, tiny_model, manifest_file):
    out = tmp_path / "model"
    proc = run_download(
        tmp_path, hub.url, "--dir", str(out), "--with-pass2", "--with-sam2", "tiny", "--config", str(manifest_file)
    )
    assert proc.returncode == 0, proc.stderr
    # Exactly the model-directory layout the loader reads, byte for byte; nothing the manifest does not list.
    got = sorted(f for f in tiny_files(out) if f != LOCK_NAME)
    assert got == sorted(tiny_files(tiny_model) + ["sam2/sam2.1_hiera_tiny.pt"])
    _same_tree_files = [f for f in got if not f.startswith("sam2/")]
    for f in _same_tree_files:
        assert (out / f).read_bytes() == (tiny_model / f).read_bytes(), f
    assert not (out / BASE / "README.md").exists() and not (out / STAGING_DIR).exists()
    # The lock records the commit each file came from and the hub's hash.
    lock = read_lock(out)
    assert lock[PASS1].commit == hub.repos[VOID_REPO].refs["main"]
    assert lock[PASS1].sha256 == hashlib.sha256((tiny_model / PASS1).read_bytes()).hexdigest()
    assert lock[f"{BASE}/transformer/config.json"].git_sha1 is not None
    # Token from HF_TOKEN goes to the hub, never to the CDN's signed URLs.
    hub_auth = {r.headers.get("authorization") for r in hub.requests if r.server == "hub"}
    cdn = [r for r in hub.requests if r.server == "cdn"]
    assert hub_auth == {f"Bearer {TOKEN}"}
    assert cdn and all("authorization" not in r.headers for r in cdn)
    assert all(v.state is FileState.PRESENT for v in diagnose(out, load_manifest(manifest_file), verify="always"))

    # A second run verifies and fetches nothing.
    before = len(hub.requests)
    again = run_download(
        tmp_path, hub.url, "--dir", str(out), "--with-pass2", "--with-sam2", "tiny", "--config", str(manifest_file)
    )
    assert again.returncode == 0, again.stderr
    assert "0 downloaded" in again.stdout
    assert not [r for r in hub.requests[before:] if r.method == "GET" and "/api/" not in r.path]


def test_weights_resume_after_dropped_connection(tmp_path, hub, tiny_model, manifest_file):
    size = (tiny_model / PASS1).stat().st_size
    hub.drop_after(PASS1, 100_000)
    result = _fetch(hub, tmp_path / "model", manifest_file)
    assert PASS1 in result.downloaded
    gets = hub.gets_of(PASS1)
    assert len(gets) == 2
    assert "range" not in gets[0].headers and gets[1].headers["range"] == "bytes=100000-"
    assert (tmp_path / "model" / PASS1).read_bytes() == (tiny_model / PASS1).read_bytes()
    assert size > 100_000


def test_weights_resume_in_a_later_run_and_dir_unusable_until_complete(tmp_path, hub, tiny_model, manifest_file):
    from void_engine.pipeline.model_dir import ModelDir, ModelDirError

    out = tmp_path / "model"
    hub.drop_after(PASS1, 100_000)
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        _fetch(hub, out, manifest_file, retries=0)
    assert partial_path(out, PASS1).stat().st_size == 100_000
    # Nothing is in place yet: the base folder is still staged, the loader sees no model directory.
    assert not (out / BASE).exists() and not (out / PASS1).exists()
    with pytest.raises(ModelDirError):
        ModelDir.locate(out)
    verdicts = {v.path: v for v in diagnose(out, load_manifest(manifest_file))}
    assert verdicts[PASS1].state is FileState.INCOMPLETE and "resume" in verdicts[PASS1].detail

    result = _fetch(hub, out, manifest_file)
    assert PASS1 in result.downloaded
    assert hub.gets_of(PASS1)[-1].headers["range"] == "bytes=100000-"
    _same_tree(out, tiny_model, skip_pass2=True)
    ModelDir.locate(out)


def test_weights_corrupt_transfer_is_fetched_again(tmp_path, hub, tiny_model, manifest_file):
    hub.corrupt_once(VAE.split("/", 1)[1])  # repo path inside the base repo
    _fetch(hub, tmp_path / "model", manifest_file)
    assert len(hub.gets_of(VAE.split("/", 1)[1])) == 2
    assert (tmp_path / "model" / VAE).read_bytes() == (tiny_model / VAE).read_bytes()


def test_weights_corrupt_file_on_disk_detected_and_replaced(tmp_path, hub, tiny_model, manifest_file):
    out = tmp_path / "model"
    _fetch(hub, out, manifest_file)
    data = bytearray((out / TRANSFORMER).read_bytes())
    data[-10] ^= 0x55  # same size, one flipped weight byte: only the hash can tell
    (out / TRANSFORMER).write_bytes(bytes(data))
    verdicts = {v.path: v for v in diagnose(out, load_manifest(manifest_file))}
    assert verdicts[TRANSFORMER].state is FileState.CORRUPT and "sha256" in verdicts[TRANSFORMER].detail
    result = _fetch(hub, out, manifest_file)
    assert result.replaced == [TRANSFORMER]
    assert (out / TRANSFORMER).read_bytes() == (tiny_model / TRANSFORMER).read_bytes()
    assert diagnose(out, load_manifest(manifest_file))[0].state is FileState.PRESENT


def test_weights_unknown_revision_is_a_clear_error(tmp_path, hub, manifest_file):
    proc = run_download(
        tmp_path,
        hub.url,
        "--dir",
        str(tmp_path / "model"),
        "--config",
        str(manifest_file),
        "--revision",
        "no-such-branch",
    )
    assert proc.returncode == 1
    assert f"revision 'no-such-branch' not found in {BASE_REPO}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not [r for r in hub.requests if "/resolve/" in r.path]  # failed before any byte moved


def test_weights_revision_pin_in_manifest(tmp_path, hub, tiny_model):
    pinned = hub.repos[BASE_REPO].refs["main"]
    files = dict(hub.repos[BASE_REPO].commits[pinned])
    files["scheduler/scheduler_config.json"] = b'{"moved": "on"}'
    hub.add_repo(BASE_REPO, files)  # main moves on
    manifest_file = write_manifest(tmp_path / "pinned.toml", tiny_model, base_revision=pinned)
    out = tmp_path / "model"
    _fetch(hub, out, manifest_file)
    sched = f"{BASE}/scheduler/scheduler_config.json"
    assert (out / sched).read_bytes() == (tiny_model / sched).read_bytes()
    assert read_lock(out)[sched].commit == pinned


def test_weights_offline_says_what_is_missing_and_where(tmp_path, hub, tiny_model, manifest_file):
    out = tmp_path / "model"
    proc = run_download(tmp_path, hub.url, "--dir", str(out), "--config", str(manifest_file), HF_HUB_OFFLINE="1")
    assert proc.returncode == 3
    assert not hub.requests
    for f in tiny_files(tiny_model):
        if f == "void_pass2.safetensors":
            assert f not in proc.stderr  # not asked for
            continue
        repo, repo_file = (BASE_REPO, f.split("/", 1)[1]) if f.startswith(BASE) else (VOID_REPO, f)
        assert f"{hub.url}/{repo}/resolve/" in proc.stderr
        assert f"/{repo_file}\n" in proc.stderr
        assert str((out / f).resolve()) in proc.stderr

    # No network at all (nothing listens there): the same instructions.
    proc = run_download(tmp_path, "http://127.0.0.1:9", "--dir", str(out), "--config", str(manifest_file))
    assert proc.returncode == 3 and str((out / PASS1).resolve()) in proc.stderr

    _fetch(hub, out, manifest_file)
    proc = run_download(tmp_path, hub.url, "--dir", str(out), "--config", str(manifest_file), HF_HUB_OFFLINE="1")
    assert proc.returncode == 0 and "already holds every file" in proc.stdout


def test_weights_downloaded_dir_loads_and_runs_two_steps(tmp_path, hub, tiny_model, manifest_file, monkeypatch):
    from huggingface_hub import constants

    from void_engine.pipeline import VoidPipeline

    out = tmp_path / "model"
    _fetch(hub, out, manifest_file, with_pass2=True)
    # From here on any hub call through huggingface_hub raises OfflineModeIsEnabled.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    rng = np.random.default_rng(3)
    video = rng.random((5, 16, 16, 3), dtype=np.float32)  # the smallest clip the model takes: 2 latent frames
    quadmask = np.full((5, 16, 16), 255, np.uint8)
    quadmask[:, 4:12, 4:12] = 0
    steps = []
    before = len(hub.requests)
    pipe = VoidPipeline.from_model_dir(out)  # the loader reads only local files: the hub is not touched
    result = pipe(
        video,
        quadmask,
        "a clean table",
        seed=7,
        num_inference_steps=2,
        progress=lambda w, s, t: steps.append((w, s, t)),
    )
    assert len(hub.requests) == before
    assert result.shape == video.shape and result.dtype == np.float32
    assert np.isfinite(result).all() and 0.0 <= result.min() and result.max() <= 1.0
    assert steps == [(0, 1, 2), (0, 2, 2)]
    from void_engine.pipeline.model_dir import ModelDir

    assert ModelDir.locate(out).pass2 == out / "void_pass2.safetensors"
    assert json.loads((out / LOCK_NAME).read_text())["version"] == 1


def test_weights_revision_per_component_on_the_command_line(tmp_path, hub, tiny_model, manifest_file):
    void = hub.repos[VOID_REPO]
    old = void.refs["main"]
    files = dict(void.commits[old])
    files[PASS1] = (tiny_model / "void_pass2.safetensors").read_bytes()  # a newer pass-1 on main
    void.commit(files)
    out = tmp_path / "model"
    proc = run_download(
        tmp_path, hub.url, "--dir", str(out), "--config", str(manifest_file), "--revision", f"pass1={old}"
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / PASS1).read_bytes() == (tiny_model / PASS1).read_bytes()
    assert read_lock(out)[PASS1].commit == old and read_lock(out)[PASS1].revision == old
    assert read_lock(out)[f"{BASE}/vae/config.json"].revision == "main"
    bad = run_download(tmp_path, hub.url, "--dir", str(out), "--config", str(manifest_file), "--revision", "pass3=x")
    assert bad.returncode == 2 and "--revision names no component or repo: pass3" in bad.stderr


def test_weights_unknown_repo_and_full_disk_are_clear_errors(tmp_path, hub, manifest_file, monkeypatch):
    import shutil as _shutil

    from void_engine.weights import hub as hub_module

    bad = tmp_path / "bad.toml"
    bad.write_text('[component.pass1]\nrepo = "netflix/no-such-model"\nfiles = ["void_pass1.safetensors"]\n')
    manifest = load_manifest(bad)
    with pytest.raises(DownloadError, match="repository netflix/no-such-model not found.*HF_TOKEN"):
        download(tmp_path / "m1", manifest, manifest.select(), endpoint=hub.url, token=TOKEN, progress=False)
    monkeypatch.setattr(hub_module.shutil, "disk_usage", lambda p: _shutil._ntuple_diskusage(10**9, 10**9 - 10, 10))
    with pytest.raises(DownloadError, match=r"GiB still to download but only 0\.0 GiB free"):
        _fetch(hub, tmp_path / "m2", manifest_file)
    assert not [r for r in hub.requests if r.server == "cdn"]


def test_weights_expired_signed_url_is_refreshed(tmp_path, hub, tiny_model, manifest_file):
    hub.fail_once(PASS1, 403)
    _fetch(hub, tmp_path / "model", manifest_file)
    heads = [r for r in hub.requests if r.method == "HEAD" and r.path.endswith("/" + PASS1)]
    assert len(heads) == 2  # a fresh HEAD on /resolve gave a fresh location
    assert (tmp_path / "model" / PASS1).read_bytes() == (tiny_model / PASS1).read_bytes()
