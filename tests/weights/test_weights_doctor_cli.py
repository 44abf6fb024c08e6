"""`void-engine doctor --model DIR` prints a verdict per file for complete, partial and empty folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.weights.conftest import BASE

REPO = Path(__file__).resolve().parents[2]


def _doctor(model: Path, manifest: Path) -> tuple[int, dict[str, str]]:
    env = {**os.environ, "VOID_WEIGHTS_CONFIG": str(manifest)}
    res = subprocess.run(
        [sys.executable, "-m", "void_engine.cli", "doctor", "--model", str(model), "--bind", "tcp://127.0.0.1:0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    verdicts = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        # per-file lines: "<state> [(optional)] <relative path> <detail…>"
        for i, word in enumerate(parts[:3]):
            if word.endswith(".safetensors") or word.endswith(".json"):
                verdicts[word] = " ".join(parts[:i])
                break
    return res.returncode, verdicts


@pytest.mark.parametrize("case", ["complete", "partial", "empty"])
def test_doctor_gives_a_verdict_per_file(tmp_path, tiny_model, manifest_file, case):
    model = tmp_path / "model"
    if case == "empty":
        model.mkdir()
    else:
        shutil.copytree(tiny_model, model)
    if case == "partial":
        (model / "void_pass1.safetensors").unlink()
        vae = model / BASE / "vae" / "diffusion_pytorch_model.safetensors"
        vae.write_bytes(vae.read_bytes()[:-500])
    code, verdicts = _doctor(model, manifest_file)
    pass1, vae_key = "void_pass1.safetensors", f"{BASE}/vae/diffusion_pytorch_model.safetensors"
    if case == "complete":
        assert verdicts[pass1] == "present" and verdicts[vae_key] == "present"
        assert code == 0
    elif case == "partial":
        assert verdicts[pass1] == "missing" and verdicts[vae_key] == "incomplete"
        assert code == 1
    else:
        assert verdicts[pass1] == "missing" and verdicts[vae_key] == "missing"
        assert code == 1
