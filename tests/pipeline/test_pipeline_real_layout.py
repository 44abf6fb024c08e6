"""What the real 5B weights need that the first tiny model hid: the hub's T5 tokenizer, T5 leaving the
GPU before the VAE encodes, VAE tiling in sequential, valid window lengths, complete VOID checkpoints,
and the opt-in speed settings.

Self-contained (its own tiny model directory), so it does not depend on where the shared pipeline
fixtures live.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
import sentencepiece
import torch
from accelerate.hooks import CpuOffload

from tests.parallel import torch_threads
from void_engine.config import ConfigError, load_config
from void_engine.pipeline import VoidPipeline
from void_engine.pipeline.model_dir import BASE_FOLDER
from void_engine.pipeline.speed import is_compiled
from void_engine.pipeline.tiny import make_tiny_model

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMPT = "an empty room with a table"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(torch_threads())
    return make_tiny_model(tmp_path_factory.mktemp("void-real-layout"), with_pass2=True)


@pytest.fixture(scope="module")
def pipe(model_dir: Path) -> VoidPipeline:
    return VoidPipeline.from_model_dir(model_dir, device="cpu", dtype=torch.float32)


def clip(frames: int = 5, size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    video = rng.random((frames, size, size, 3), dtype=np.float32)
    quadmask = np.full((frames, size, size), 255, np.uint8)
    quadmask[:, 4:12, 4:12] = 0
    return video, quadmask


# ---------------------------------------------------------------------------------------------- tokenizer
def test_tiny_tokenizer_folder_has_the_hub_layout(model_dir):
    folder = model_dir / BASE_FOLDER / "tokenizer"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["added_tokens.json", "special_tokens_map.json", "spiece.model", "tokenizer_config.json"]
    assert json.loads((folder / "tokenizer_config.json").read_text())["tokenizer_class"] == "T5Tokenizer"


def test_loaded_tokenizer_gives_sentencepiece_ids_plus_eos(pipe, model_dir):
    sp = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / BASE_FOLDER / "tokenizer" / "spiece.model"))
    want = sp.encode(PROMPT)
    assert len(want) > 6  # real sub-word pieces, not one id per word
    assert pipe.tokenizer([PROMPT]).input_ids[0] == want + [sp.eos_id()]
    assert sp.eos_id() == 1 and sp.pad_id() == 0


def test_protobuf_is_a_declared_engine_dependency():
    # transformers converts spiece.model with protobuf; without it the load falls back to TikToken and fails.
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    engine = [
        re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower() for req in project["optional-dependencies"]["engine"]
    ]
    assert "protobuf" in engine and "sentencepiece" in engine
    pinned = [line.split("#")[0].strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()]
    assert any(re.split(r"[<>=!~; ]", line, maxsplit=1)[0].lower() == "protobuf" for line in pinned if line)


# ---------------------------------------------------------------------------------------------- memory modes
def test_t5_is_off_the_execution_device_before_the_first_vae_encode_in_model_offload(model_dir, monkeypatch):
    pipe = VoidPipeline.from_model_dir(model_dir, device="cpu", dtype=torch.float32)
    # accelerate's real hooks, chained text_encoder -> transformer -> vae. On the CPU their moves are
    # no-ops, so record which models they have placed on the execution device.
    pipe.enable_model_cpu_offload(device="cpu")
    names = {id(pipe.text_encoder): "text_encoder", id(pipe.transformer): "transformer", id(pipe.vae): "vae"}
    on_device: set[str] = set()
    pre_forward, init_hook = CpuOffload.pre_forward, CpuOffload.init_hook

    def placing(self, module, *args, **kwargs):
        result = pre_forward(self, module, *args, **kwargs)
        on_device.add(names[id(module)])
        return result

    def offloading(self, module):
        on_device.discard(names.get(id(module), ""))
        return init_hook(self, module)

    monkeypatch.setattr(CpuOffload, "pre_forward", placing)
    monkeypatch.setattr(CpuOffload, "init_hook", offloading)
    at_encode: list[set[str]] = []
    pipe.vae.encoder.register_forward_pre_hook(lambda *_: at_encode.append(set(on_device)))
    video, quadmask = clip()
    pipe(video, quadmask, PROMPT, seed=1, num_inference_steps=1, window_frames=21)
    assert len(at_encode) >= 2  # mask latents, then masked-video latents
    assert all("text_encoder" not in placed and "vae" in placed for placed in at_encode)


def test_sequential_mode_tiles_the_vae(model_dir):
    pipe = VoidPipeline.from_model_dir(model_dir, device="cpu", dtype=torch.float32, memory_mode="sequential")
    assert pipe.vae.use_tiling


def test_full_mode_does_not_tile_the_vae(pipe):
    assert not pipe.vae.use_tiling  # tiled decode is not bit-identical: only the small-memory modes tile


# ---------------------------------------------------------------------------------------------- window length
@pytest.mark.parametrize("frames", [81, 49, 25])
def test_window_frames_with_an_odd_latent_count_is_refused_by_the_pipeline(pipe, frames):
    video, quadmask = clip()
    with pytest.raises(ValueError, match=rf"window_frames={frames} is not a valid window length: use 21, 29, "):
        pipe(video, quadmask, PROMPT, seed=1, num_inference_steps=1, window_frames=frames)


def test_window_frames_81_is_refused_at_config_load(tmp_path):
    path = tmp_path / "engine.toml"
    path.write_text("[worker]\nwindow_frames = 81\n")
    with pytest.raises(ConfigError, match=r"\[worker\] window_frames=81 is not a valid window length.*85"):
        load_config(path)
    path.write_text("[worker]\nwindow_frames = 29\n")
    assert load_config(path).window_frames == 29


# ---------------------------------------------------------------------------------------------- checkpoints
def test_complete_checkpoint_loads_without_the_base_transformer_weights(model_dir, pipe, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    for weights in (copy / BASE_FOLDER / "transformer").glob("*.safetensors"):
        weights.unlink()
    alone = VoidPipeline.from_model_dir(copy, device="cpu", dtype=torch.float32)
    video, quadmask = clip()
    kwargs = dict(seed=4, num_inference_steps=1, window_frames=21)
    np.testing.assert_array_equal(alone(video, quadmask, PROMPT, **kwargs), pipe(video, quadmask, PROMPT, **kwargs))


def test_delta_checkpoint_still_needs_the_base_transformer(tmp_path):
    from void_engine.pipeline import CheckpointError

    delta = make_tiny_model(tmp_path / "delta", layout="delta")
    loaded = VoidPipeline.from_model_dir(delta, device="cpu", dtype=torch.float32)
    assert loaded.transformer.proj_out.weight.abs().sum() > 0
    for weights in (delta / BASE_FOLDER / "transformer").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(CheckpointError, match="no \\*.safetensors weights in .*transformer"):
        VoidPipeline.from_model_dir(delta, device="cpu", dtype=torch.float32)


# ---------------------------------------------------------------------------------------------- speed settings
def test_attention_backend_is_the_only_kernel_allowed_in_the_transformer(model_dir):
    pipe = VoidPipeline.from_model_dir(model_dir, device="cpu", dtype=torch.float32, attention_backend="math")
    seen = []
    pipe.transformer.transformer_blocks[0].register_forward_pre_hook(
        lambda *_: seen.append((torch.backends.cuda.math_sdp_enabled(), torch.backends.cuda.flash_sdp_enabled()))
    )
    video, quadmask = clip()
    pipe(video, quadmask, PROMPT, seed=1, num_inference_steps=1, window_frames=21)
    assert seen == [(True, False)]
    assert torch.backends.cuda.flash_sdp_enabled()  # restored after the forward


def test_unknown_attention_backend_is_refused(model_dir):
    with pytest.raises(ValueError, match="attention_backend must be one of '', 'cudnn', 'flash'"):
        VoidPipeline.from_model_dir(model_dir, attention_backend="triton")


def test_compile_blocks_compiles_each_transformer_block_and_sets_the_cache(model_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    cache = tmp_path / "compile-cache"
    pipe = VoidPipeline.from_model_dir(
        model_dir, device="cpu", dtype=torch.float32, compile_transformer_blocks=True, compile_cache_dir=cache
    )
    blocks = list(pipe.transformer.transformer_blocks)
    assert len(blocks) == 2 and all(is_compiled(b) for b in blocks)
    assert not is_compiled(pipe.transformer)  # regional: the blocks, not the whole model
    assert cache.is_dir() and os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(cache)


def test_speed_settings_are_off_by_default(pipe):
    assert pipe.attention_backend == ""
    assert not any(is_compiled(b) for b in pipe.transformer.transformer_blocks)
    cfg = load_config(None)
    assert cfg.attention_backend == "" and cfg.compile_blocks is False


def test_worker_speed_settings_reach_the_pipeline(model_dir, tmp_path, monkeypatch):
    from void_engine.backends import BackendSettings, make_backend

    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    path = tmp_path / "engine.toml"
    path.write_text(
        f'[server]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[worker]\nmodel = "{model_dir}"\ndevice = "cpu"\nattention_backend = "math"\ncompile_blocks = true\n'
    )
    backend = make_backend("void", BackendSettings.from_config(load_config(path)))
    pipe = backend.pipe
    assert pipe.attention_backend == "math"
    assert all(is_compiled(b) for b in pipe.transformer.transformer_blocks)
    assert Path(os.environ["TORCHINDUCTOR_CACHE_DIR"]) == tmp_path / "state" / "compile-cache"


def test_unknown_attention_backend_is_refused_at_config_load(tmp_path):
    path = tmp_path / "engine.toml"
    path.write_text('[worker]\nattention_backend = "triton"\n')
    with pytest.raises(ConfigError, match=r"\[worker\] attention_backend must be one of '', 'cudnn'"):
        load_config(path)
