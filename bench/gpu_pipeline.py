"""GPU benchmark of VoidPipeline at full size with random weights, sized for a lent GPU (issue 15).

Builds the CogVideoX-Fun V1.5 5B transformer (real config values, in_channels 48), the real-size CogVideoX
VAE and a T5-XXL encoder with random weights created on the GPU (no download, no CPU init), wraps them
in VoidPipeline and runs a plan of measurements. Each result is one JSON line, written and flushed the
moment it is measured (stdout, and --out FILE), so a run cut short still leaves every finished line.

The default plan (about 8 minutes on one H100/H200, --budget-s stops it cleanly before the limit):
  - jobs: memory modes full and fp8 at 85 and 197 frames, 20 steps at 384x672 -- seconds end to end,
    s_per_window_step (median transformer call after the first: one window, one step), s_per_step (all
    windows of a step), peak VRAM (max_memory_allocated);
  - psnr: fp8's 85-frame result against full's, same seed (fp8 also tiles the VAE, so this is the whole
    difference a user of fp8 sees, on random weights);
  - s/step of one 85-frame window per attention backend (cudnn, flash, efficient) and with regional
    compilation of the transformer block (first_call_s includes the compile).

    python bench/gpu_pipeline.py --out results.jsonl            # the default plan
    python bench/gpu_pipeline.py --modes full --frames 85 --steps 5 --backends flash --no-compile
    python bench/gpu_pipeline.py --tiny --out smoke.jsonl       # the same plan on the CPU, tiny model

bench/gpu_check.sh runs the default plan in one command and writes into $OUT. Anchors from issue 4 on one
H100 (diffusers 0.42.1, torch 2.11, bf16, random weights): transformer 0.50 s/step eager, 0.36 compiled
for one 85-frame window (11,314 tokens); VAE encode 1.6 s, decode 3.1 s for 85 frames. Targets: one
85-frame window <= 0.36 s/step; fp8 peak <= 12 GB for a whole 85-frame job.
Without CUDA (and without --tiny) the script says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any, NamedTuple

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


GPU_BACKENDS = ["cudnn", "flash", "efficient"]
# The tiny smoke run: one 21-frame window, and a clip of three windows.
TINY: dict[str, Any] = dict(height=32, width=48, frames=[9, 29], window=21, steps=2, backends=["math"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=MEMORY_MODES, default=["full", "fp8"])
    parser.add_argument("--frames", nargs="+", type=int, default=[85, 197], help="job lengths, end to end")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps of the end-to-end jobs")
    parser.add_argument(
        "--step-timing-steps", type=int, default=5, help="steps of each s/step measurement (the first is dropped)"
    )
    parser.add_argument(
        "--backends", nargs="*", default=None, help=f"attention backends to time (default: {' '.join(GPU_BACKENDS)})"
    )
    parser.add_argument("--compile", dest="compile", action="store_true", default=True, help="time regional compile")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="do not time regional compile")
    parser.add_argument("--compile-cache", type=Path, help="TorchInductor cache folder for the compile measurement")
    parser.add_argument("--budget-s", type=float, default=480.0, help="stop cleanly once this many seconds passed")
    parser.add_argument("--out", type=Path, help="append the JSON lines here too")
    parser.add_argument("--json", type=Path, help="also write all results as one JSON array at the end")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run: the tiny model, tiny clips, 2 steps")
    return parser.parse_args(argv)


class Measurement(NamedTuple):
    """One line of the plan: a job ("job") or a short s/step timing ("step") in one configuration.

    (A NamedTuple, not a dataclass: the tests load this script by path, outside sys.modules.)
    """

    kind: str
    mode: str
    frames: int
    steps: int
    attention_backend: str = ""
    compile: bool = False


def plan(args: argparse.Namespace) -> list[Measurement]:
    """Every measurement of the run, grouped by memory mode (one model build per mode), full first."""
    frames = TINY["frames"] if args.tiny else args.frames
    steps = TINY["steps"] if args.tiny else args.steps
    timing_steps = min(args.step_timing_steps, TINY["steps"]) if args.tiny else args.step_timing_steps
    backends = TINY["backends"] if args.tiny and args.backends is None else args.backends
    backends = GPU_BACKENDS if backends is None else backends
    window = TINY["window"] if args.tiny else 85
    out = []
    for mode in args.modes:
        out += [Measurement("job", mode, f, steps) for f in frames]
        if mode == args.modes[0]:
            out += [Measurement("step", mode, window, timing_steps, attention_backend=b) for b in backends]
            if args.compile and not args.tiny:  # Inductor on 2 CPU cores would take minutes
                out.append(Measurement("step", mode, window, timing_steps, compile=True))
    return out


def build_models(device: str, dtype: torch.dtype):
    """Random-weight full-size transformer, VAE and T5-XXL encoder, created directly on `device` (meta init)."""
    from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
    from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXTransformer3DModel
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
    with torch.device(device):  # small; its buffers need their real init
        vae = AutoencoderKLCogVideoX(**VAE_CONFIG).to(dtype).eval()
    return materialise(transformer), vae, materialise(text_encoder)


def make_pipeline(mode: str, tiny_dir: Path | None, work: Path):
    """A VoidPipeline in `mode`: the tiny model from `tiny_dir` on the CPU, else random full-size models on CUDA."""
    from diffusers.schedulers.scheduling_ddim import DDIMScheduler

    from void_engine.pipeline import VoidPipeline
    from void_engine.pipeline.memory import apply_memory_mode
    from void_engine.pipeline.tiny import SCHEDULER_CONFIG, make_tokenizer

    if tiny_dir is not None:
        return VoidPipeline.from_model_dir(tiny_dir, device="cpu", dtype=torch.float32, memory_mode=mode)
    transformer, vae, text_encoder = build_models("cuda", torch.bfloat16)
    pipe = VoidPipeline(
        make_tokenizer(work / "tokenizer"),
        text_encoder,
        vae,
        transformer,
        DDIMScheduler(**SCHEDULER_CONFIG),
        add_noise_in_inpaint_model=True,
    )
    apply_memory_mode(pipe, mode, "cuda")  # the offload modes move the models to the CPU themselves
    return pipe


def clip(frames: int, height: int = HEIGHT, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(frames)
    video = rng.random((frames, height, width, 3), dtype=np.float32)
    quadmask = np.full((frames, height, width), 255, np.uint8)
    quadmask[:, height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = 0
    quadmask[:, 2 * height // 3 : 5 * height // 6, width // 3 : 2 * width // 3] = 127
    return video, quadmask


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two [0, 1] images or videos (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))


class OutOfBudget(Exception):
    """The run's --budget-s passed during a job; the job stops between two steps."""


class Recorder:
    """Writes one JSON line per result, flushed at once, to stdout and (appending) to a file."""

    def __init__(self, out: Path | None, started: float):
        self.started = started
        self.results: list[dict[str, Any]] = []
        self._file: IO[str] | None = out.open("a") if out else None

    def write(self, row: dict[str, Any]) -> None:
        row = {**row, "elapsed_s": round(time.perf_counter() - self.started, 2)}
        self.results.append(row)
        line = json.dumps(row)
        print(line, flush=True)
        if self._file is not None:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_job(pipe, m: Measurement, args: argparse.Namespace, device: str, deadline: float) -> tuple[dict, np.ndarray]:
    """Run one measurement; returns (its JSON row, the result video). OutOfBudget past `deadline`."""
    height, width = (TINY["height"], TINY["width"]) if args.tiny else (HEIGHT, WIDTH)
    video, quadmask = clip(m.frames, height, width)
    window = TINY["window"] if args.tiny else 85
    starts: list[float] = []
    steps: list[float] = []

    def before(*_: Any) -> None:
        _sync(device)
        starts.append(time.perf_counter())

    def progress(window_index: int, step: int, total: int) -> None:
        _sync(device)
        steps.append(time.perf_counter() - starts[-1])

    handle = pipe.transformer.register_forward_pre_hook(before)
    pipe.attention_backend = m.attention_backend
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    begun = time.perf_counter()
    try:
        result = pipe(
            video,
            quadmask,
            "an empty room",
            seed=0,
            num_inference_steps=m.steps,
            window_frames=window,
            progress=progress,
            cancel=lambda: time.perf_counter() > deadline,
        )
    finally:
        handle.remove()
    _sync(device)
    # One transformer call = one window for one step; an 85-frame job is one window.
    row = {**m._asdict(), "seconds": round(time.perf_counter() - begun, 3), "transformer_calls": len(steps)}
    row["first_call_s"] = round(steps[0], 4) if steps else None
    later = steps[1:] or steps  # the first call pays warm-up (and the compile)
    row["s_per_window_step"] = round(statistics.median(later), 4) if later else None
    row["s_per_step"] = round(sum(steps) / m.steps, 4) if steps else None  # all windows of a step
    if device == "cuda":
        row["peak_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
        row["device"] = torch.cuda.get_device_name()
    return row, result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = "cpu" if args.tiny else "cuda"
    if not args.tiny and not torch.cuda.is_available():
        print(
            "gpu_pipeline: CUDA is not available -- this benchmark needs an NVIDIA GPU "
            "(about 40 GB free for the full mode); --tiny runs the plan on the CPU with the tiny model",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    deadline = started + args.budget_s
    recorder = Recorder(args.out, started)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    recorder.write(
        {
            "kind": "run",
            "torch": torch.__version__,
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "tokens_per_85_frame_window": video_tokens(85),
            "budget_s": args.budget_s,
            "plan": [m._asdict() for m in plan(args)],
        }
    )
    outputs: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="void-gpu-bench-") as tmp:
        work = Path(tmp)
        tiny_dir = None
        if args.tiny:
            from void_engine.pipeline.tiny import make_tiny_model

            torch.set_num_threads(2)
            tiny_dir = make_tiny_model(work / "tiny")
        todo = plan(args)
        for mode in dict.fromkeys(m.mode for m in todo):
            if time.perf_counter() > deadline:
                recorder.write({"kind": "skipped", "mode": mode, "why": "budget"})
                continue
            built = time.perf_counter()
            try:
                pipe = make_pipeline(mode, tiny_dir, work)
            except Exception as exc:  # an OOM or a missing kernel: report it, go on with the next mode
                recorder.write(
                    {"kind": "error", "mode": mode, "stage": "build", "error": f"{type(exc).__name__}: {exc}"}
                )
                continue
            recorder.write({"kind": "build", "mode": mode, "seconds": round(time.perf_counter() - built, 2)})
            for m in (m for m in todo if m.mode == mode):
                if time.perf_counter() > deadline:
                    recorder.write({**m._asdict(), "kind": "skipped", "why": "budget"})
                    continue
                try:
                    if m.compile:
                        from void_engine.pipeline.speed import compile_blocks

                        compile_blocks(pipe.transformer, args.compile_cache)
                    row, result = run_job(pipe, m, args, device, deadline)
                except Exception as exc:
                    if type(exc).__name__ == "Cancelled":
                        recorder.write({**m._asdict(), "kind": "skipped", "why": "budget reached during the job"})
                    else:
                        recorder.write({**m._asdict(), "error": f"{type(exc).__name__}: {exc}"})
                    if device == "cuda":
                        torch.cuda.empty_cache()
                    continue
                recorder.write(row)
                if m.kind == "job" and m.frames == min(m_.frames for m_ in todo if m_.kind == "job"):
                    outputs[mode] = result
                    if mode != "full" and "full" in outputs:
                        recorder.write(
                            {
                                "kind": "psnr",
                                "mode": mode,
                                "against": "full",
                                "frames": m.frames,
                                "db": round(psnr(result, outputs["full"]), 2),
                            }
                        )
            del pipe
            gc.collect()  # accelerate's hooks hold references; free the mode's models before the next build
            if device == "cuda":
                torch.cuda.empty_cache()
    recorder.write({"kind": "done", "seconds": round(time.perf_counter() - started, 2)})
    recorder.close()
    if args.json:
        args.json.write_text(json.dumps(recorder.results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
