"""bench/gpu_pipeline.py on the CPU: its configs are the real sizes, its arguments parse, it refuses without CUDA."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
from transformers import T5Config, T5EncoderModel

from void_engine.pipeline.decode import decode_latents
from void_engine.pipeline.tiny import TINY_VAE

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu_pipeline.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("void_gpu_pipeline_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_85_frame_window_is_11314_tokens(bench):
    assert bench.video_tokens(85) == 11_314


def test_full_size_models_have_the_real_parameter_counts(bench):
    with torch.device("meta"):  # shapes only: no memory, no init
        transformer = CogVideoXTransformer3DModel(**bench.TRANSFORMER_CONFIG)
        text_encoder = T5EncoderModel(T5Config(**bench.T5_CONFIG))
        vae = AutoencoderKLCogVideoX(**bench.VAE_CONFIG)

    def count(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    assert transformer.config.in_channels == 48
    assert 5.4e9 < count(transformer) < 5.8e9  # 10.4 GiB in bf16
    assert 4.7e9 < count(text_encoder) < 4.8e9  # T5-XXL encoder
    assert 2.0e8 < count(vae) < 2.3e8


def test_arguments_default_to_the_lent_gpu_plan(bench):
    # Issue 15 replaced the old default (every mode at 50 steps, about 14 minutes) with a plan that fits
    # the 8 minutes a lent GPU leaves: full and fp8 at 85 and 197 frames, 20 steps, plus compile.
    args = bench.parse_args([])
    assert args.modes == ["full", "fp8"]
    assert args.frames == [85, 197] and args.steps == 20 and args.compile and args.budget_s == 480
    args = bench.parse_args(["--modes", "fp8", "--compile", "--frames", "85"])
    assert args.modes == ["fp8"] and args.compile and args.frames == [85]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_refuses_clearly_without_cuda(bench, capsys):
    assert bench.main([]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_tiled_decode_keeps_the_schedule_inside_each_tile():
    # fp8 mode decodes in spatial tiles; each tile runs the same 4L-3 schedule.
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(**TINY_VAE).eval()
    latents = torch.randn(1, 2, 16, 4, 4)
    vae.enable_tiling(tile_sample_min_height=16, tile_sample_min_width=16)
    with torch.no_grad():
        tiled = decode_latents(vae, latents)
        vae.disable_tiling()
        corner = decode_latents(vae, latents[..., :2, :2])
    assert tiled.shape == (1, 3, 5, 32, 32)
    limit = 16 - int(16 * vae.tile_overlap_factor_height)  # the first tile is not blended there
    assert torch.equal(tiled[..., :limit, :limit], corner[..., :limit, :limit])
