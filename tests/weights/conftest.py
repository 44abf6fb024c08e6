"""Shared fixtures for the weights tests: one tiny model directory, a fake hub serving it, a manifest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.hub_server import FakeHub

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_REPO = "alibaba-pai/CogVideoX-Fun-V1.5-5b-InP"
VOID_REPO = "netflix/void-model"
SAM2_REPO = "facebook/sam2.1-hiera-tiny"
BASE = "CogVideoX-Fun-V1.5-5b-InP"
TOKEN = "hf_test_token_0123456789"


def tiny_files(tiny: Path) -> list[str]:
    """Relative POSIX paths of every file of a model directory."""
    return sorted(p.relative_to(tiny).as_posix() for p in tiny.rglob("*") if p.is_file())


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random VOID model directory (with pass 2), made once by the pipeline's own writer.

    Its VOID checkpoints are deltas on the base transformer, so a download needs every base file.
    """
    from void_engine.pipeline.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model", with_pass2=True, layout="delta")


def write_manifest(path: Path, tiny: Path, base_revision: str = "main") -> Path:
    """A weights manifest with the real repo ids and the tiny model's file lists."""
    base_files = [f.split("/", 1)[1] for f in tiny_files(tiny) if f.startswith(BASE + "/")]
    quoted = ", ".join(f'"{f}"' for f in base_files)
    path.write_text(f"""
[component.base]
repo = "{BASE_REPO}"
revision = "{base_revision}"
dest = "{BASE}"
files = [{quoted}]

[component.pass1]
repo = "{VOID_REPO}"
dest = ""
files = ["void_pass1.safetensors"]

[component.pass2]
repo = "{VOID_REPO}"
when = "pass2"
files = ["void_pass2.safetensors"]

[component.sam2-tiny]
repo = "{SAM2_REPO}"
dest = "sam2"
when = "sam2:tiny"
files = ["sam2.1_hiera_tiny.pt"]
""")
    return path


@pytest.fixture
def manifest_file(tmp_path, tiny_model) -> Path:
    return write_manifest(tmp_path / "weights.toml", tiny_model)


def serve_model(fake: FakeHub, tiny: Path) -> FakeHub:
    """Put a tiny model directory on `fake` in the real repos' layout (plus files we must not fetch)."""
    fake.add_folder(
        BASE_REPO,
        tiny / BASE,
        extra={"README.md": b"# base\n", "model_index.json": b'{"_class_name": "CogVideoXPipeline"}'},
    )
    fake.add_repo(
        VOID_REPO,
        {
            "void_pass1.safetensors": (tiny / "void_pass1.safetensors").read_bytes(),
            "void_pass2.safetensors": (tiny / "void_pass2.safetensors").read_bytes(),
            "README.md": b"# VOID\n",
        },
    )
    fake.add_repo(SAM2_REPO, {"sam2.1_hiera_tiny.pt": bytes(range(256)) * 40, "sam2.1_hiera_t.yaml": b"model: {}\n"})
    return fake


@pytest.fixture
def hub(tiny_model):
    """The fake hub serving the tiny model (delta checkpoints) in the real repos' layout."""
    with serve_model(FakeHub(), tiny_model) as fake:
        yield fake


def hub_env(tmp_path: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """Environment for a `void-engine download` subprocess: the fake hub, a token, no real cache or proxy."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().endswith("_PROXY") and not k.startswith(("HF_", "HUGGINGFACE_"))
    }
    env.update(
        HF_ENDPOINT=endpoint,
        HF_TOKEN=TOKEN,
        HF_HOME=str(tmp_path / "hf-home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update(extra)
    return env


def run_download(tmp_path: Path, endpoint: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m void_engine.cli download ...` in a subprocess (huggingface_hub reads HF_* at import)."""
    return subprocess.run(
        [sys.executable, "-m", "void_engine.cli", "download", "--no-progress", *args],
        cwd=REPO_ROOT,
        env=hub_env(tmp_path, endpoint, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
