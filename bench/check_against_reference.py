"""Check VoidPipeline against the reference implementation, bit for bit, on the CPU in float32.

The reference is Netflix/void-model's ``videox_fun`` package (pipeline_cogvideox_fun_inpaint.py,
cogvideox_vae.py, cogvideox_transformer3d.py) as ``inference/cogvideox_fun/predict_v2v.py`` drives it.
It is imported from a directory you give (it is never part of this repository):

    python bench/check_against_reference.py --reference-dir /path/to/void-model [--model-dir DIR]

--reference-dir must contain ``videox_fun/`` (models/, pipeline/, dist/, utils/utils.py); the reference
needs ``einops`` importable (put it on PYTHONPATH if it is not installed). Both pipelines load the same
tiny model directory (made with ``make_tiny_model`` when --model-dir does not exist yet) and get the same
video, quadmask, prompt, seed and step count. Where the reference seeds differently, it is driven the way
our pipeline seeds: a CPU generator seeded with the job seed for the initial noise and the global RNG
seeded with the job seed right before the call (its only global draw is the masked-video noise).

Cases: a 13-frame clip (default 85-frame window, so padded to one 85-frame window); a 50-frame clip
with a 29-frame window (3 multidiffusion windows); with --long a 161-frame clip with the default
window (3 windows of 22 latents); and pass 2 (pass-2 weights, guidance 6, our warped
noise as the initial latents) on the 13-frame clip. Prints the max abs difference per case; exits 1
unless all are exactly 0.
"""

from __future__ import annotations

import argparse
import ast
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from void_engine.pipeline import VoidPipeline
from void_engine.pipeline.conditioning import latent_count, mirror_pad, padded_length
from void_engine.pipeline.model_dir import ModelDir
from void_engine.pipeline.pass2 import warped_latent_noise
from void_engine.pipeline.pipeline import DEFAULT_NEGATIVE_PROMPT
from void_engine.pipeline.tiny import make_tiny_model

PROMPT = "an empty room with a table"


def reference_temporal_padding(reference_dir: Path):
    """The reference's own temporal_padding, taken from its utils.py (whose imports need torchvision)."""
    source = (reference_dir / "videox_fun" / "utils" / "utils.py").read_text()
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "temporal_padding")
    namespace = {"torch": torch, "logger": logging.getLogger("reference")}
    exec(compile(ast.Module(body=[node], type_ignores=[]), "utils.py", "exec"), namespace)
    return namespace["temporal_padding"]


def reference_inputs(
    video: np.ndarray, quadmask: np.ndarray, window: int, padding
) -> tuple[torch.Tensor, torch.Tensor]:
    """What the reference's get_video_mask_input (quadmask mode) hands the pipeline, at the model size."""
    v = torch.from_numpy(video).permute(3, 0, 1, 2).unsqueeze(0)  # (1, 3, T, H, W)
    m = torch.from_numpy(quadmask).float().unsqueeze(0).unsqueeze(0)  # (1, 1, T, H, W)
    m = torch.where(m <= 31, 0, m)
    m = torch.where((m > 31) * (m <= 95), 63, m)
    m = torch.where((m > 95) * (m <= 191), 127, m)
    m = torch.where(m > 191, 255, m)
    m = 255 - m
    v = padding(v, min_length=window, max_length=197)
    m = padding(m, min_length=window, max_length=197)
    return v, m / 255.0


def build_reference(reference_dir: Path, model: ModelDir, checkpoint: Path):
    sys.path.insert(0, str(reference_dir))
    from diffusers import DDIMScheduler
    from transformers import AutoTokenizer, T5EncoderModel
    from videox_fun.models import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
    from videox_fun.pipeline import CogVideoXFunInpaintPipeline

    transformer = CogVideoXTransformer3DModel.from_pretrained(
        str(model.base),
        subfolder="transformer",
        low_cpu_mem_usage=False,
        torch_dtype=torch.float32,
        use_vae_mask=True,
        stack_mask=False,
    ).to(torch.float32)
    state = load_file(str(checkpoint))
    assert state["patch_embed.proj.weight"].shape == transformer.state_dict()["patch_embed.proj.weight"].shape
    transformer.load_state_dict(state, strict=False)
    vae = AutoencoderKLCogVideoX.from_pretrained(str(model.base), subfolder="vae").to(torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(model.base / "tokenizer"))
    text_encoder = T5EncoderModel.from_pretrained(str(model.base / "text_encoder"), dtype=torch.float32)
    scheduler = DDIMScheduler.from_pretrained(str(model.base), subfolder="scheduler")
    pipe = CogVideoXFunInpaintPipeline(
        vae=vae, tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer, scheduler=scheduler
    )
    return pipe.to("cpu")


def run_reference(pipe, video, mask, *, window, seed, steps, guidance, negative, latents=None) -> np.ndarray:
    generator = torch.Generator("cpu").manual_seed(seed)
    torch.manual_seed(seed)  # the masked-video noise is the reference's only global-RNG draw
    with torch.no_grad():
        out = pipe(
            PROMPT,
            num_frames=window,
            negative_prompt=negative,
            height=video.shape[3],
            width=video.shape[4],
            generator=generator,
            guidance_scale=guidance,
            num_inference_steps=steps,
            video=video,
            mask_video=mask,
            strength=1.0,
            use_trimask=True,
            zero_out_mask_region=False,
            skip_unet=False,
            use_vae_mask=True,
            stack_mask=False,
            latents=latents,
        ).videos
    return np.asarray(out)[0].transpose(1, 2, 3, 0)  # (T', H, W, 3)


def make_clip(frames: int, height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (frames, height, width, 3)).astype(np.float32) / 255.0
    base[:, :4] = 0.0  # some exactly-black pixels: the masked-video noise skips x == -1
    quadmask = np.full((frames, height, width), 255, np.uint8)
    for t in range(frames):
        x = 4 + (t % 8)
        quadmask[t, 8:24, x : x + 16] = 0
        quadmask[t, 8:24, x + 16 : x + 24] = 127
        quadmask[t, 4:8, x : x + 8] = 63
    quadmask[:, -4:, -4:] = 200  # an in-between (resized) value: snaps to 255
    return base, quadmask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", type=Path, required=True, help="directory holding videox_fun/")
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/void-tiny-refcheck"))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument(
        "--long",
        action="store_true",
        help="also a 161-frame clip with the default 85-frame window (3 windows of 22 latents)",
    )
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    if not (args.model_dir / "void_pass2.safetensors").exists():
        make_tiny_model(args.model_dir, with_pass2=True)
    model = ModelDir.locate(args.model_dir)
    padding = reference_temporal_padding(args.reference_dir)
    reference = build_reference(args.reference_dir, model, model.pass1)
    ours = VoidPipeline.from_pretrained(model.base, pass1=model.pass1, pass2=model.pass2, dtype=torch.float32)

    cases = [("13 frames, window 85", 13, 85), ("50 frames, window 29 (3 windows)", 50, 29)]
    if args.long:
        cases.append(("161 frames, window 85 (3 windows)", 161, 85))
    worst = 0.0
    for name, frames, window in cases:
        video, quadmask = make_clip(frames, 32, 48, seed=frames)
        ref_video, ref_mask = reference_inputs(video, quadmask, window, padding)
        started = time.time()
        expected = run_reference(
            reference,
            ref_video,
            ref_mask,
            window=window,
            seed=args.seed,
            steps=args.steps,
            guidance=1.0,
            negative=DEFAULT_NEGATIVE_PROMPT,
        )[:frames]
        ref_s = time.time() - started
        started = time.time()
        got = ours(video, quadmask, PROMPT, seed=args.seed, num_inference_steps=args.steps, window_frames=window)
        our_s = time.time() - started
        diff = float(np.abs(got - expected).max())
        worst = max(worst, diff)
        print(
            f"{name}: output {got.shape}, max abs diff {diff:.3e}, identical={np.array_equal(got, expected)} "
            f"(reference {ref_s:.1f} s, ours {our_s:.1f} s)"
        )

    # Pass 2: pass-2 weights, guidance 6 with CFG, our warped noise as the initial latents of both.
    video, quadmask = make_clip(13, 32, 48, seed=13)
    first = ours(video, quadmask, PROMPT, seed=args.seed, num_inference_steps=args.steps)
    reference.transformer.load_state_dict(load_file(str(model.pass2)), strict=False)
    length = padded_length(13, 85)
    noise = warped_latent_noise(mirror_pad(first, length), latent_count(length), seed=args.seed)
    ref_video, ref_mask = reference_inputs(video, quadmask, 85, padding)
    expected = run_reference(
        reference,
        ref_video,
        ref_mask,
        window=85,
        seed=args.seed,
        steps=args.steps,
        guidance=6.0,
        negative="",
        latents=noise,
    )[:13]
    got = ours.refine(video, quadmask, PROMPT, first, seed=args.seed, num_inference_steps=args.steps)
    diff = float(np.abs(got - expected).max())
    worst = max(worst, diff)
    print(
        f"pass 2 (guidance 6, warped noise), 13 frames: max abs diff {diff:.3e}, "
        f"identical={np.array_equal(got, expected)}"
    )
    print("BIT-EXACT" if worst == 0.0 else f"MISMATCH (worst {worst:.3e})")
    return 0 if worst == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main())
