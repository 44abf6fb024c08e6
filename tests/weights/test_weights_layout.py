"""Complete VOID checkpoints: download reads their headers first and skips the base transformer weights;
doctor and the loader agree. Against the fake hub, both layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.fakes.hub_server import FakeHub
from tests.weights.conftest import BASE, TOKEN, run_download, serve_model, write_manifest
from void_engine.weights import FileState, diagnose, doctor_weights, load_manifest
from void_engine.weights.hub import download

PASS1, PASS2 = "void_pass1.safetensors", "void_pass2.safetensors"
WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"  # inside the base repo
CONFIG = "transformer/config.json"


@pytest.fixture(scope="session")
def complete_model(tmp_path_factory) -> Path:
    """A tiny model directory whose VOID checkpoints hold every transformer tensor (as the hub's seem to)."""
    from void_engine.pipeline.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("complete") / "model", with_pass2=True, layout="complete")


@pytest.fixture
def complete_hub(complete_model):
    with serve_model(FakeHub(), complete_model) as fake:
        yield fake


def _download(hub: FakeHub, out: Path, manifest_file: Path, messages: list[str]):
    manifest = load_manifest(manifest_file)
    return download(
        out,
        manifest,
        manifest.select(with_pass2=True),
        endpoint=hub.url,
        token=TOKEN,
        progress=False,
        backoff_s=0.0,
        say=messages.append,
    )


def _run_one_step(model_dir: Path) -> np.ndarray:
    from void_engine.pipeline import VoidPipeline

    pipe = VoidPipeline.from_model_dir(model_dir)
    video = np.random.default_rng(0).random((5, 16, 16, 3), dtype=np.float32)
    quadmask = np.full((5, 16, 16), 255, np.uint8)
    quadmask[:, 4:12, 4:12] = 0
    return pipe(video, quadmask, "a clean table", seed=1, num_inference_steps=1, window_frames=21)


def test_complete_checkpoints_skip_the_base_transformer_weights(tmp_path, complete_hub, complete_model):
    manifest_file = write_manifest(tmp_path / "weights.toml", complete_model)
    out, messages = tmp_path / "model", []
    result = _download(complete_hub, out, manifest_file, messages)
    # The headers were peeked at (bounded range reads), the base weights never requested at all.
    assert complete_hub.peeks_of(PASS1) and complete_hub.peeks_of(PASS2)
    assert not complete_hub.gets_of(WEIGHTS) and not complete_hub.peeks_of(WEIGHTS)
    assert len(complete_hub.gets_of(CONFIG)) == 1
    assert result.layout is not None and result.layout.complete
    assert result.not_needed == [f"{BASE}/{WEIGHTS}"]
    assert not (out / BASE / WEIGHTS).exists() and (out / BASE / CONFIG).is_file()
    assert any("not fetching the base transformer weights" in m for m in messages)
    # doctor: everything needed is there, and it says which layout it found.
    verdicts = {v.path: v for v in diagnose(out, load_manifest(manifest_file))}
    assert verdicts[f"{BASE}/{WEIGHTS}"].state is FileState.NOT_NEEDED
    status, detail, _ = doctor_weights(out, load_manifest(manifest_file))
    assert status == "ok" and "layout: complete VOID transformer, base transformer weights not used" in detail
    # The loader builds the transformer from the config and the checkpoint alone.
    result = _run_one_step(out)
    assert result.shape == (5, 16, 16, 3) and np.isfinite(result).all()


def test_delta_checkpoints_still_fetch_the_base_transformer_weights(tmp_path, hub, tiny_model, manifest_file):
    out, messages = tmp_path / "model", []
    result = _download(hub, out, manifest_file, messages)
    assert result.layout is not None and not result.layout.complete
    assert "delta on the base transformer" in result.layout.detail and not result.not_needed
    assert len(hub.gets_of(WEIGHTS)) == 1 and (out / BASE / WEIGHTS).is_file()
    status, detail, _ = doctor_weights(out, load_manifest(manifest_file))
    assert status == "ok" and "layout: VOID checkpoint over the base transformer weights" in detail
    assert _run_one_step(out).shape == (5, 16, 16, 3)


def test_download_cli_says_the_base_weights_are_not_needed(tmp_path, complete_hub, complete_model):
    manifest_file = write_manifest(tmp_path / "weights.toml", complete_model)
    out = tmp_path / "model"
    proc = run_download(tmp_path, complete_hub.url, "--dir", str(out), "--config", str(manifest_file))
    assert proc.returncode == 0, proc.stderr
    assert "1 not needed (the VOID checkpoints hold the complete transformer)" in proc.stdout
    # A second run has nothing to fetch and reads no header from the hub.
    before = len(complete_hub.requests)
    again = run_download(tmp_path, complete_hub.url, "--dir", str(out), "--config", str(manifest_file))
    assert again.returncode == 0 and "0 downloaded" in again.stdout
    assert not [r for r in complete_hub.requests[before:] if r.method == "GET" and "/api/" not in r.path]
