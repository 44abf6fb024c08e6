"""SAM3's checkpoint in the weights manifest: `void-engine download --with-sam3` fetches and
verifies it from the (fake) hub; `void-engine doctor` reports SAM3 when the engine is set up for it."""

from __future__ import annotations

import subprocess
import sys

from tests.weights.conftest import REPO_ROOT, run_download, write_manifest
from void_engine.weights import load_manifest
from void_engine.weights.lockfile import LOCK_NAME, read_lock
from void_engine.weights.manifest import DEFAULT_CONFIG
from void_engine.weights.verify import FileState, diagnose

SAM3_REPO = "facebook/sam3"
SAM3_BYTES = bytes(range(256)) * 64


def test_real_manifest_knows_the_sam3_checkpoint_and_fetches_it_only_when_asked():
    manifest = load_manifest(DEFAULT_CONFIG)
    (sam3,) = [c for c in manifest.select(sam3=True) if c.when == "sam3"]
    assert (sam3.repo, sam3.dest, sam3.files) == (SAM3_REPO, "sam3", ("sam3.pt",))
    assert all(c.when != "sam3" for c in manifest.select(with_pass2=True, sam2="large"))


def test_download_with_sam3_fetches_and_verifies_the_checkpoint(tmp_path, hub, tiny_model):
    manifest = write_manifest(tmp_path / "weights.toml", tiny_model)
    with manifest.open("a") as fh:
        fh.write(f'\n[component.sam3]\nrepo = "{SAM3_REPO}"\ndest = "sam3"\nwhen = "sam3"\nfiles = ["sam3.pt"]\n')
    hub.add_repo(SAM3_REPO, {"sam3.pt": SAM3_BYTES, "config.json": b"{}"})
    out = tmp_path / "model"
    without = run_download(tmp_path, hub.url, "--dir", str(out), "--config", str(manifest))
    assert without.returncode == 0, without.stderr
    assert not (out / "sam3").exists()
    proc = run_download(tmp_path, hub.url, "--dir", str(out), "--with-sam3", "--config", str(manifest))
    assert proc.returncode == 0, proc.stderr
    assert (out / "sam3" / "sam3.pt").read_bytes() == SAM3_BYTES
    assert not (out / "sam3" / "config.json").exists()  # only what the manifest lists
    assert read_lock(out)["sam3/sam3.pt"].commit == hub.repos[SAM3_REPO].refs["main"]
    verdicts = {v.path: v for v in diagnose(out, load_manifest(manifest), verify="always")}
    assert verdicts["sam3/sam3.pt"].state is FileState.PRESENT and not verdicts["sam3/sam3.pt"].required
    assert LOCK_NAME not in verdicts


def _doctor(tmp_path, masks: str) -> dict[str, str]:
    config = tmp_path / "engine.toml"
    config.write_text("[masks]\n" + masks)
    res = subprocess.run(
        [sys.executable, "-m", "void_engine.cli", "doctor", "--config", str(config), "--bind", "tcp://127.0.0.1:0"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    return {ln.split()[1]: ln for ln in res.stdout.splitlines() if len(ln.split()) > 1}


def test_doctor_reports_sam3_when_configured_and_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("VOID_SAM3_CHECKPOINT", raising=False)
    monkeypatch.delenv("VOID_SAM2_CHECKPOINT", raising=False)
    # (not set up for text masks, doctor does not report SAM3: test_doctor_reports_each_check)
    ckpt = tmp_path / "sam3.pt"
    missing = _doctor(tmp_path, f'sam3_checkpoint = "{ckpt}"\n')["sam3"]
    assert missing.startswith("warn") and str(ckpt) in missing and "sam3_checkpoint" in missing
    ckpt.write_bytes(b"x")
    sam2 = "sam2_random_weights = true\n"
    no_bpe = _doctor(tmp_path, f'sam3_checkpoint = "{ckpt}"\n' + sam2)["sam3"]
    assert no_bpe.startswith("warn") and "sam3_bpe" in no_bpe  # the 0.1.4 wheel ships no vocabulary
    bpe = tmp_path / "bpe_simple_vocab_16e6.txt.gz"
    bpe.write_bytes(b"x")
    sam3 = f'sam3_checkpoint = "{ckpt}"\nsam3_bpe = "{bpe}"\n'
    no_sam2 = _doctor(tmp_path, sam3)["sam3"]
    assert no_sam2.startswith("warn") and "SAM2" in no_sam2
    ready = _doctor(tmp_path, sam3 + sam2)["sam3"]
    assert ready.startswith("ok") and str(ckpt) in ready
