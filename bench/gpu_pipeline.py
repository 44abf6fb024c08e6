"""GPU benchmark of VoidPipeline at full size with random weights (issue 4, item 9).

Builds the CogVideoX-Fun V1.5 5B transformer (real config values, in_channels 48), the real-size
CogVideoX VAE and a T5-XXL encoder, all with random weights (no download), wraps them in VoidPipeline
and, per memory mode, prints:

- s / denoising step for one 85-frame window at 384x672 (median over the timed steps),
- end-to-end seconds for an 85-frame and a 197-frame job at 50 steps,
- peak VRAM (torch.cuda.max_memory_allocated) of each job.

    python bench/gpu_pipeline.py                          # all modes, 50 steps, 85 and 197 frames
    python bench/gpu_pipeline.py --modes full fp8 --compile --frames 85 --steps 20 --json out.json

Anchors measured on one H100 (diffusers 0.42.1, torch 2.11, bf16, random weights): transformer 0.50
s/step eager, 0.36 s/step compiled, for one 85-frame window (11,314 tokens); VAE encode 1.6 s / decode
3.1 s for 85 frames. Targets: full <= 0.36 s/step with --compile; fp8 peak <= 12 GB for an 85-frame job.
Needs CUDA: without it the script says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from void_engine.pipeline.memory import MEMORY_MODES

HEIGHT, WIDTH = 384, 672
TEXT_TOKENS = 226

# CogVideoX-Fun-V1.5-5b-InP transformer/config.json, with VOID's in_channels 48 (the base file says 33).
TRANSFORMER_CONFIG = dict(
    activation_fn="gelu-approximate",
    attention_bias=True,
    attention_head_dim=64,
    dropout=0.0,
    flip_sin_to_cos=True,
    freq_shift=0,
    in_channels=48,
    max_text_seq_length=226,
    norm_elementwise_affine=True,
    norm_eps=1e-5,
    num_attention_heads=48,
    num_layers=42,
    out_channels=16,
    patch_bias=False,
    patch_size=2,
    patch_size_t=2,
    sample_frames=81,
    sample_height=300,
    sample_width=300,
    spatial_interpolation_scale=1.875,
    temporal_compression_ratio=4,
    temporal_interpolation_scale=1.0,
    text_embed_dim=4096,
    time_embed_dim=512,
    timestep_activation_fn="silu",
    use_learned_positional_embeddings=False,
    use_rotary_positional_embeddings=True,
)

# CogVideoX 5B VAE (vae/config.json).
VAE_CONFIG = dict(
    act_fn="silu",
    block_out_channels=(128, 256, 256, 512),
    down_block_types=("CogVideoXDownBlock3D",) * 4,
    up_block_types=("CogVideoXUpBlock3D",) * 4,
    in_channels=3,
    out_channels=3,
    latent_channels=16,
    layers_per_block=3,
    norm_eps=1e-6,
    norm_num_groups=32,
    sample_height=480,
    sample_width=720,
    scaling_factor=0.7,
    temporal_compression_ratio=4,
    use_quant_conv=False,
    use_post_quant_conv=False,
)

# google/t5-v1_1-xxl encoder (text_encoder/config.json).
T5_CONFIG = dict(
    vocab_size=32128,
    d_model=4096,
    d_kv=64,
    d_ff=10240,
    num_layers=24,
    num_heads=64,
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    feed_forward_proj="gated-gelu",
    layer_norm_epsilon=1e-6,
    dropout_rate=0.0,
    tie_word_embeddings=False,
)


def video_tokens(frames: int, height: int = HEIGHT, width: int = WIDTH) -> int:
    """Transformer sequence length for one window of `frames` frames (text tokens included)."""
    latents = (frames - 1) // 4 + 1
    latents -= latents % TRANSFORMER_CONFIG["patch_size_t"]
    p = TRANSFORMER_CONFIG["patch_size"]
    return latents // TRANSFORMER_CONFIG["patch_size_t"] * (height // 8 // p) * (width // 8 // p) + TEXT_TOKENS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=MEMORY_MODES, default=list(MEMORY_MODES))
    parser.add_argument("--frames", nargs="+", type=int, default=[85, 197], help="job lengths, end to end")
    parser.add_argument("--steps", type=int, default=50, help="denoising steps of the end-to-end jobs")
    parser.add_argument("--step-timing-steps", type=int, default=6, help="steps timed for s/step (first dropped)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the transformer")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def build_models(device: str, dtype: torch.dtype):
    """Random-weight full-size transformer, VAE and T5-XXL encoder on `device` (meta init: no 20 GB fp32 pass)."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    def materialise(module: torch.nn.Module) -> torch.nn.Module:
        module = module.to_empty(device=device).to(dtype)
        generator = torch.Generator(device=device).manual_seed(0)
        with torch.no_grad():
            for name, param in module.named_parameters():
                if param.ndim >= 2:
                    param.normal_(0.0, 0.02, generator=generator)
                elif "norm" in name and name.endswith("weight"):
                    param.fill_(1.0)
                else:
                    param.zero_()
        return module.eval()

    with torch.device("meta"):
        transformer = CogVideoXTransformer3DModel(**TRANSFORMER_CONFIG)
        text_encoder = T5EncoderModel(T5Config(**T5_CONFIG))
    vae = AutoencoderKLCogVideoX(**VAE_CONFIG).to(device=device, dtype=dtype).eval()  # small; buffers need init
    return materialise(transformer), vae, materialise(text_encoder)


def make_pipeline(parts, mode: str, compile_transformer: bool):
    from diffusers import DDIMScheduler

    from void_engine.pipeline import VoidPipeline
    from void_engine.pipeline.memory import apply_memory_mode
    from void_engine.pipeline.tiny import SCHEDULER_CONFIG, make_tokenizer

    transformer, vae, text_encoder = (copy.deepcopy(p) for p in parts)
    pipe = VoidPipeline(
        make_tokenizer(),
        text_encoder,
        vae,
        transformer,
        DDIMScheduler(**SCHEDULER_CONFIG),
        add_noise_in_inpaint_model=True,
    )
    apply_memory_mode(pipe, mode, "cuda")
    if compile_transformer:
        pipe.transformer = torch.compile(pipe.transformer)
    return pipe


def clip(frames: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(frames)
    video = rng.random((frames, HEIGHT, WIDTH, 3), dtype=np.float32)
    quadmask = np.full((frames, HEIGHT, WIDTH), 255, np.uint8)
    quadmask[:, 128:256, 256:416] = 0
    quadmask[:, 256:320, 256:416] = 127
    return video, quadmask


def run_job(pipe, frames: int, steps: int) -> dict:
    video, quadmask = clip(frames)
    stamps: list[float] = []
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    pipe(
        video,
        quadmask,
        "an empty room",
        seed=0,
        num_inference_steps=steps,
        progress=lambda *_: (torch.cuda.synchronize(), stamps.append(time.perf_counter())),
    )
    torch.cuda.synchronize()
    return {
        "seconds": time.perf_counter() - started,
        "step_intervals": [b - a for a, b in zip(stamps, stamps[1:])],
        "peak_gb": torch.cuda.max_memory_allocated() / 1e9,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "gpu_pipeline: CUDA is not available -- this benchmark needs an NVIDIA GPU "
            "(about 40 GB free for the full mode)",
            file=sys.stderr,
        )
        return 2
    torch.backends.cuda.matmul.allow_tf32 = True
    print(
        f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
        f"tokens per 85-frame window: {video_tokens(85)}"
    )
    parts = build_models("cpu", torch.bfloat16)  # modes move what they need to the GPU
    results = []
    for mode in args.modes:
        pipe = make_pipeline(parts, mode, args.compile)
        timing = run_job(pipe, 85, args.step_timing_steps)
        s_per_step = statistics.median(timing["step_intervals"][1:] or timing["step_intervals"])
        row = {"mode": mode, "compile": args.compile, "s_per_step_85": s_per_step}
        for frames in args.frames:
            job = run_job(pipe, frames, args.steps)
            row[f"e2e_s_{frames}"] = job["seconds"]
            row[f"peak_gb_{frames}"] = job["peak_gb"]
        results.append(row)
        print(json.dumps(row), flush=True)
        del pipe
        torch.cuda.empty_cache()
    header = (
        ["mode", "s/step (85f)"]
        + [f"{f}f {args.steps} steps (s)" for f in args.frames]
        + [f"peak VRAM {f}f (GB)" for f in args.frames]
    )
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in results:
        cells = [row["mode"] + (" +compile" if row["compile"] else ""), f"{row['s_per_step_85']:.3f}"]
        cells += [f"{row[f'e2e_s_{f}']:.1f}" for f in args.frames]
        cells += [f"{row[f'peak_gb_{f}']:.1f}" for f in args.frames]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
