"""VoidPipeline: VOID inpainting on diffusers' CogVideoX classes, faithful to the reference bit for bit.

``__call__`` reads top to bottom as VOID_SPEC.md: check inputs -> pad in time -> encode prompt ->
timesteps -> initial latents -> mask and masked-video latents -> denoise (temporal multidiffusion)
-> decode by the reference schedule -> crop. Each step is a method named after it.

Pass 2 (refinement) is ``pipe.refine(video, quadmask, prompt, first_pass, seed=..., ...)`` with the
pass-1 result, or ``pipe(..., use_pass2=True)`` to run both passes in one call; it needs the
``void_pass2.safetensors`` checkpoint (``pass2=`` in ``from_pretrained``).

Seeds go beyond the reference: the job seed drives a CPU ``torch.Generator`` for the initial noise and,
separately seeded with the same job seed, the masked-video noise. The reference draws the latter from
the global RNG with ``randn_like`` on its frame-major video tensor; ours are exactly the numbers
``torch.manual_seed(seed)`` would make it draw, without touching global state. Same seed, same inputs
-> same output on any machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
from diffusers.models.embeddings import get_3d_rotary_pos_embed
from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXTransformer3DModel
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from diffusers.utils.torch_utils import randn_tensor
from transformers import PreTrainedTokenizerBase, T5EncoderModel

from ..levels import LEVELS_TEXT, snap_quadmask
from ..progress import CancelFn, Cancelled, ProgressFn
from .conditioning import (
    add_masked_video_noise,
    invert_quadmask,
    latent_count,
    latent_window,
    mask_condition,
    mirror_pad,
    padded_length,
    window_spans,
    window_weights,
)
from .decode import decode_latents
from .loader import CheckpointError, load_components, load_void_checkpoint
from .memory import apply_memory_mode, default_dtype
from .model_dir import ModelDir
from .pass2 import DEFAULT_DEGRADATION, warped_latent_noise
from .speed import attention_context, check_attention_backend, compile_blocks
from .windows import window_frames_problem

log = logging.getLogger(__name__)

MAX_SEQUENCE_LENGTH = 226
MASKED_VIDEO_NOISE_SIGMA = 0.0563
PASS2_GUIDANCE_SCALE = 6.0
# The reference config's negative prompt (only used when guidance_scale > 1).
DEFAULT_NEGATIVE_PROMPT = (
    "The video is not of a high quality, it has a low resolution. Watermark present in each frame. "
    "The background is solid. Strange body and strange trajectory. Distortion. "
)


class VoidPipeline(DiffusionPipeline):
    """VOID object-and-effect removal on a video clip. Build with ``from_pretrained`` or ``from_model_dir``."""

    # diffusers declares this attribute by its default, None, so mypy takes its type to be None; every
    # diffusers pipeline sets a string here, which is what enable_model_cpu_offload reads.
    model_cpu_offload_seq = "text_encoder->transformer->vae"  # type: ignore[assignment]
    # Registered by register_modules; declared for readers and type checkers.
    tokenizer: PreTrainedTokenizerBase
    text_encoder: T5EncoderModel
    vae: AutoencoderKLCogVideoX
    transformer: CogVideoXTransformer3DModel
    scheduler: DDIMScheduler

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        text_encoder: T5EncoderModel,
        vae: AutoencoderKLCogVideoX,
        transformer: CogVideoXTransformer3DModel,
        scheduler: DDIMScheduler,
        add_noise_in_inpaint_model: bool = True,
        pass1_path: Path | None = None,
        pass2_path: Path | None = None,
    ):
        super().__init__()
        self.register_modules(
            tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
        )
        self.add_noise_in_inpaint_model = add_noise_in_inpaint_model
        self.checkpoints = {"pass1": pass1_path, "pass2": pass2_path}
        self.attention_backend = ""  # see speed.py; set by from_pretrained
        self.vae_scale_factor_spatial = 2 ** (len(vae.config["block_out_channels"]) - 1)
        self.vae_scale_factor_temporal = vae.config["temporal_compression_ratio"]

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(  # type: ignore[override]  # VOID's own signature: a base folder plus checkpoints
        cls,
        base_dir: str | os.PathLike[str],
        pass1: str | os.PathLike[str],
        pass2: str | os.PathLike[str] | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        memory_mode: str = "full",
        attention_backend: str = "",
        compile_transformer_blocks: bool = False,
        compile_cache_dir: str | os.PathLike[str] | None = None,
    ) -> VoidPipeline:
        """Load the base folder (CogVideoX-Fun-V1.5-5b-InP, diffusers layout) and the VOID pass-1 checkpoint.

        `dtype` None means bf16 on a GPU, float32 on the CPU. `memory_mode`: full, model_offload, fp8,
        sequential. Errors name the missing folder or the checkpoint and tensor shape that does not fit.
        When the pass-1 checkpoint holds the whole 48-channel transformer, the base folder's transformer
        weights are not read (they may be absent). `attention_backend` and `compile_transformer_blocks`
        are the opt-in speed settings of speed.py.
        """
        check_attention_backend(attention_backend)
        dtype = dtype or default_dtype(device)
        pass2_path = Path(pass2) if pass2 is not None else None
        if pass2_path is not None and not pass2_path.is_file():
            raise CheckpointError(f"pass-2 checkpoint not found: {pass2_path}")
        parts = load_components(Path(base_dir), Path(pass1), dtype)
        pipe = cls(
            parts.tokenizer,
            parts.text_encoder,
            parts.vae,
            parts.transformer,
            parts.scheduler,
            add_noise_in_inpaint_model=parts.add_noise_in_inpaint_model,
            pass1_path=Path(pass1),
            pass2_path=pass2_path,
        )
        apply_memory_mode(pipe, memory_mode, device)
        pipe.attention_backend = attention_backend
        if compile_transformer_blocks:
            compile_blocks(pipe.transformer, Path(compile_cache_dir) if compile_cache_dir is not None else None)
        return pipe

    @classmethod
    def from_model_dir(cls, model_dir: str | os.PathLike[str] | None = None, **kwargs) -> VoidPipeline:
        """Load from a model directory (or $VOID_MODEL_DIR): base folder, void_pass1 and, if present, void_pass2."""
        found = ModelDir.locate(model_dir)
        return cls.from_pretrained(found.base, pass1=found.pass1, pass2=found.pass2, **kwargs)

    # ------------------------------------------------------------------ the algorithm
    @torch.no_grad()
    def __call__(
        self,
        video: np.ndarray,
        quadmask: np.ndarray,
        prompt: str,
        *,
        seed: int,
        num_inference_steps: int,
        window_frames: int = 85,
        guidance_scale: float = 1.0,
        negative_prompt: str | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        use_pass2: bool = False,
        degradation: float = DEFAULT_DEGRADATION,
        latents: torch.Tensor | None = None,
    ) -> np.ndarray:
        """Remove what the quadmask marks from `video`; returns float32 (T, H, W, 3) in [0, 1].

        video: float32 (T, H, W, 3) in [0, 1]; quadmask: uint8 (T, H, W) raw levels 0/63/127/255 (values
        in between are snapped); H and W multiples of 16 (no resizing here). progress(window, step, total)
        is called after each window's denoising step (window 0-based, step 1-based, total = steps);
        cancel() is checked before each and raises Cancelled. use_pass2 runs ``refine`` on the result.
        `latents` (1, L, 16, H/8, W/8) replaces the seeded initial noise (pass 2 passes warped noise).
        """
        if use_pass2:
            first = self(
                video,
                quadmask,
                prompt,
                seed=seed,
                num_inference_steps=num_inference_steps,
                window_frames=window_frames,
                guidance_scale=guidance_scale,
                negative_prompt=negative_prompt,
                progress=progress,
                cancel=cancel,
            )
            return self.refine(
                video,
                quadmask,
                prompt,
                first,
                seed=seed,
                num_inference_steps=num_inference_steps,
                window_frames=window_frames,
                degradation=degradation,
                progress=progress,
                cancel=cancel,
            )

        # 1. Inputs
        num_frames, height, width = self.check_inputs(video, quadmask, prompt, num_inference_steps, window_frames)
        device = self._execution_device

        # 2. Pad in time to 4k+1 frames with an even latent count (mirror)
        length = padded_length(num_frames, window_frames)
        video_t = self.preprocess_video(mirror_pad(video, length))  # (1, 3, T', H, W) in [-1, 1]
        condition = self.preprocess_quadmask(mirror_pad(quadmask, length))  # (1, 1, T', H, W): 0, 127/255, 1

        # Models are freed on every way out: after a cancel or an error, model offload would otherwise
        # leave the transformer on the GPU beside the next job's T5.
        try:
            # 3. Prompt
            do_cfg = guidance_scale > 1.0
            prompt_embeds = self.encode_prompt(prompt, negative_prompt, do_cfg, device)  # (B, 226, D)
            self.offload_text_encoder()

            # 4. Timesteps (DDIM, strength 1)
            self.scheduler.set_timesteps(num_inference_steps, device=device)
            timesteps = self.scheduler.timesteps

            # 5. Initial latents over the whole clip
            num_latents = latent_count(length, self.vae_scale_factor_temporal)
            latents = self.prepare_latents(num_latents, height, width, seed, prompt_embeds.dtype, device, latents)

            # 6. Conditioning: [mask latents 16, masked-video latents 16], after the noisy latents
            mask_latents = self.prepare_mask_latents(condition, device)  # (1, L, 16, h, w)
            masked_video_latents = self.prepare_masked_video_latents(video_t, seed, device)  # (1, L, 16, h, w)
            inpaint_latents = torch.cat([mask_latents, masked_video_latents], dim=2).to(latents.dtype)
            if do_cfg:
                inpaint_latents = torch.cat([inpaint_latents] * 2)

            # 7. Denoise, with temporal multidiffusion when the clip exceeds one window
            window = latent_window(window_frames, self.transformer.config["patch_size_t"])
            latents = self.denoise(
                latents,
                inpaint_latents,
                prompt_embeds,
                timesteps,
                window,
                guidance_scale,
                height,
                width,
                progress,
                cancel,
            )

            # 8. Decode by the reference schedule (4L-3 frames) and crop the padding
            frames = decode_latents(self.vae, latents)  # (1, 3, T', H, W) in [0, 1]
        finally:
            self.maybe_free_model_hooks()
        return np.ascontiguousarray(frames[0, :, :num_frames].permute(1, 2, 3, 0).cpu().numpy(), dtype=np.float32)

    @torch.no_grad()
    def refine(
        self,
        video: np.ndarray,
        quadmask: np.ndarray,
        prompt: str,
        first_pass: np.ndarray,
        *,
        seed: int,
        num_inference_steps: int,
        window_frames: int = 85,
        guidance_scale: float = PASS2_GUIDANCE_SCALE,
        negative_prompt: str = "",
        degradation: float = DEFAULT_DEGRADATION,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> np.ndarray:
        """Pass 2: re-run with the pass-2 transformer, guidance 6, from noise warped along `first_pass`'s flow.

        `first_pass` is pass 1's result for the same video and quadmask (float32 (T, H, W, 3)).
        """
        if self.checkpoints.get("pass2") is None:
            raise ValueError("pass 2 needs void_pass2.safetensors: load the pipeline with pass2=PATH")
        first_pass = np.asarray(first_pass, dtype=np.float32)
        if first_pass.shape != np.shape(video):
            raise ValueError(f"first_pass has shape {first_pass.shape}, expected the video's {np.shape(video)}")
        length = padded_length(first_pass.shape[0], window_frames)
        noise = warped_latent_noise(
            mirror_pad(first_pass, length), latent_count(length), seed=seed, degradation=degradation
        )
        with self.transformer_weights("pass2"):
            return self(
                video,
                quadmask,
                prompt,
                seed=seed,
                num_inference_steps=num_inference_steps,
                window_frames=window_frames,
                guidance_scale=guidance_scale,
                negative_prompt=negative_prompt,
                progress=progress,
                cancel=cancel,
                latents=noise,
            )

    # ------------------------------------------------------------------ steps
    def check_inputs(
        self, video: np.ndarray, quadmask: np.ndarray, prompt: str, num_inference_steps: int, window_frames: int
    ) -> tuple[int, int, int]:
        """Validate the arrays and settings; returns (T, H, W). ValueError naming the field otherwise."""
        if not isinstance(video, np.ndarray) or video.ndim != 4 or video.shape[-1] != 3:
            raise ValueError(f"video must be a float32 array (T, H, W, 3); got {getattr(video, 'shape', type(video))}")
        if video.dtype != np.float32:
            raise ValueError(f"video must be float32; got {video.dtype}")
        num_frames, height, width, _ = video.shape
        if not isinstance(quadmask, np.ndarray) or quadmask.shape != (num_frames, height, width):
            raise ValueError(
                f"quadmask must be a uint8 array of shape {(num_frames, height, width)}; "
                f"got {getattr(quadmask, 'shape', type(quadmask))}"
            )
        if quadmask.dtype != np.uint8:
            raise ValueError(f"quadmask must be uint8 raw levels {LEVELS_TEXT}; got {quadmask.dtype}")
        if height % 16 or width % 16 or height == 0 or width == 0:
            raise ValueError(f"video height and width must be multiples of 16; got {height}x{width}")
        config = self.transformer.config
        if config["use_rotary_positional_embeddings"] and config["patch_size_t"] is not None:
            # The "slice" rotary grid covers sample_height x sample_width latents; a larger frame would
            # fail deep inside attention with a bare size mismatch.
            unit = self.vae_scale_factor_spatial * config["patch_size"]
            max_h, max_w = (
                (config["sample_height"] // config["patch_size"]) * unit,
                (config["sample_width"] // config["patch_size"]) * unit,
            )
            if height > max_h or width > max_w:
                raise ValueError(
                    f"video is {height}x{width} (H x W) but this transformer's rotary embeddings cover at most "
                    f"{max_h}x{max_w} (sample_height/sample_width in its config.json); use a smaller model size"
                )
        if not np.isfinite(video).all() or video.min() < 0.0 or video.max() > 1.0:
            bad = int(np.argmax([(~np.isfinite(f)).any() or f.min() < 0 or f.max() > 1 for f in video]))
            raise ValueError(f"video values must be finite and in [0, 1]; frame {bad} is not")
        if not isinstance(prompt, str):
            raise ValueError(f"prompt must be a string; got {type(prompt).__name__}")
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be at least 1; got {num_inference_steps}")
        if self.transformer.config["patch_size_t"] is None:
            raise ValueError("the transformer is not CogVideoX 1.5 (patch_size_t is None)")
        problem = window_frames_problem(window_frames, self.transformer.config["patch_size_t"])
        if problem:
            raise ValueError(problem)
        return num_frames, height, width

    def preprocess_video(self, video: np.ndarray) -> torch.Tensor:
        """(T, H, W, 3) [0,1] -> (1, 3, T, H, W) float32 in [-1, 1] (2x - 1, as diffusers' image processor)."""
        frames = torch.from_numpy(video).permute(3, 0, 1, 2).unsqueeze(0).to(torch.float32)
        return 2.0 * frames - 1.0

    def preprocess_quadmask(self, quadmask: np.ndarray) -> torch.Tensor:
        """Raw quadmask (T, H, W) -> snapped, inverted, three-level condition (1, 1, T, H, W) float32."""
        inverted = torch.from_numpy(invert_quadmask(snap_quadmask(quadmask)))
        return mask_condition(inverted)[None, None]

    def encode_prompt(
        self, prompt: str, negative_prompt: str | None, do_cfg: bool, device: torch.device
    ) -> torch.Tensor:
        """T5 last hidden state for 226 tokens (padding included, no attention mask); [negative, prompt] with CFG."""
        embeds = self._t5_embeds(prompt, device)
        if do_cfg:
            negative = DEFAULT_NEGATIVE_PROMPT if negative_prompt is None else negative_prompt
            embeds = torch.cat([self._t5_embeds(negative, device), embeds], dim=0)
        return embeds

    def offload_text_encoder(self) -> None:
        """Move T5 off the GPU now, if model offload hooks manage it (model_offload and fp8 on a GPU).

        accelerate's hook chain (text_encoder -> transformer -> vae) would only offload T5 when the
        transformer first runs, so T5-XXL (9.5 GB) would sit beside both VAE encodes. Under sequential
        offload, or with no hooks, there is nothing to do.
        """
        for hook in getattr(self, "_all_hooks", None) or ():
            if getattr(hook, "model", None) is self.text_encoder:
                hook.offload()

    def _t5_embeds(self, prompt: str, device: torch.device) -> torch.Tensor:
        ids = self.tokenizer(
            [prompt],
            padding="max_length",
            max_length=MAX_SEQUENCE_LENGTH,
            truncation=True,
            add_special_tokens=True,
            return_tensors="pt",
        ).input_ids
        untruncated = self.tokenizer([prompt], padding="longest", return_tensors="pt").input_ids
        if untruncated.shape[-1] >= ids.shape[-1] and not torch.equal(ids, untruncated):
            removed = self.tokenizer.batch_decode(untruncated[:, MAX_SEQUENCE_LENGTH - 1 : -1])
            log.warning("prompt truncated to %d tokens; dropped: %s", MAX_SEQUENCE_LENGTH, removed)
        embeds = self.text_encoder(ids.to(device))[0]  # last hidden state, no attention mask
        return embeds.to(dtype=self.text_encoder.dtype, device=device)

    def prepare_latents(
        self,
        num_latents: int,
        height: int,
        width: int,
        seed: int,
        dtype: torch.dtype,
        device: torch.device,
        latents: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Initial noise (1, L, 16, H/8, W/8) from a CPU generator seeded with `seed`, times init_noise_sigma."""
        shape = (
            1,
            num_latents,
            self.vae.config["latent_channels"],
            height // self.vae_scale_factor_spatial,
            width // self.vae_scale_factor_spatial,
        )
        if latents is None:
            generator = torch.Generator("cpu").manual_seed(seed)
            noise = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        else:
            if tuple(latents.shape) != shape:
                raise ValueError(f"latents must have shape {shape}; got {tuple(latents.shape)}")
            noise = latents.to(device=device, dtype=dtype)
        return noise * self.scheduler.init_noise_sigma

    def _encode(self, pixels: torch.Tensor, device: torch.device) -> torch.Tensor:
        # Posterior mode x scaling_factor, one clip at a time; (1, C, T, H, W) -> (1, L, 16, h, w).
        pixels = pixels.to(device=device, dtype=self.vae.dtype)
        latents = torch.cat([self.vae.encode(clip).latent_dist.mode() for clip in pixels.split(1)])
        latents = latents * self.vae.config["scaling_factor"]
        return latents.permute(0, 2, 1, 3, 4)

    def prepare_mask_latents(self, condition: torch.Tensor, device: torch.device) -> torch.Tensor:
        """VAE latents of 1 - mask tiled to 3 channels (remove 0, affected 128/255, keep 1), not mapped to [-1,1]."""
        return self._encode(1 - torch.tile(condition, [1, 3, 1, 1, 1]), device)

    def prepare_masked_video_latents(self, video: torch.Tensor, seed: int, device: torch.device) -> torch.Tensor:
        """VAE latents of the whole video; with add_noise_in_inpaint_model, plus N(0, 0.0563²) noise on every
        pixel not exactly -1 (float32, on the CPU, from a generator seeded with `seed`, in frame-major order)."""
        if self.add_noise_in_inpaint_model:
            video = add_masked_video_noise(video, seed, MASKED_VIDEO_NOISE_SIGMA)
        return self._encode(video, device)

    def rotary_embeddings(
        self, height: int, width: int, num_latents: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """3D rotary embeddings ("slice" grid, CogVideoX 1.5) for a window of `num_latents` latent frames."""
        config = self.transformer.config
        p, p_t = config["patch_size"], config["patch_size_t"]
        grid = (height // (self.vae_scale_factor_spatial * p), width // (self.vae_scale_factor_spatial * p))
        cos, sin = get_3d_rotary_pos_embed(
            embed_dim=config["attention_head_dim"],
            crops_coords=None,
            grid_size=grid,
            temporal_size=(num_latents + p_t - 1) // p_t,
            grid_type="slice",
            max_size=(config["sample_height"] // p, config["sample_width"] // p),
        )
        return cos.to(device=device), sin.to(device=device)

    def denoise(
        self,
        latents: torch.Tensor,
        inpaint_latents: torch.Tensor,
        prompt_embeds: torch.Tensor,
        timesteps: torch.Tensor,
        window: int,
        guidance_scale: float,
        height: int,
        width: int,
        progress: ProgressFn | None,
        cancel: CancelFn | None,
    ) -> torch.Tensor:
        """DDIM over all timesteps; windows of `window` latents blended with linear ramps where they overlap."""
        num_latents = latents.shape[1]
        spans = window_spans(num_latents, window)
        total = len(timesteps)
        for step, t in enumerate(timesteps, start=1):
            if len(spans) == 1:
                self._check_cancel(cancel)
                latents = self.denoise_window(latents, inpaint_latents, prompt_embeds, t, guidance_scale, height, width)
                if progress is not None:
                    progress(0, step, total)
                continue
            canvas = torch.zeros_like(latents).float()
            weight_sum = torch.zeros(1, num_latents, 1, 1, 1).to(latents.device).float()
            for index, (start, end) in enumerate(spans):
                self._check_cancel(cancel)
                out = self.denoise_window(
                    latents[:, start:end],
                    inpaint_latents[:, start:end],
                    prompt_embeds,
                    t,
                    guidance_scale,
                    height,
                    width,
                )
                weights = window_weights(start, end, num_latents, latents.dtype).to(latents.device)
                canvas[:, start:end] += out * weights
                weight_sum[:, start:end] += weights
                if progress is not None:
                    progress(index, step, total)
            latents = (canvas / weight_sum).to(latents.dtype)
        return latents

    def denoise_window(
        self,
        latents: torch.Tensor,
        inpaint_latents: torch.Tensor,
        prompt_embeds: torch.Tensor,
        t: torch.Tensor,
        guidance_scale: float,
        height: int,
        width: int,
    ) -> torch.Tensor:
        """One transformer pass and one DDIM step (eta 0) for one window of latents (B, n, 16, h, w)."""
        do_cfg = guidance_scale > 1.0
        rotary = (
            self.rotary_embeddings(height, width, latents.shape[1], latents.device)
            if self.transformer.config["use_rotary_positional_embeddings"]
            else None
        )
        model_input = torch.cat([latents] * 2) if do_cfg else latents
        model_input = self.scheduler.scale_model_input(model_input, int(t))  # DDIM: the input unchanged
        hidden_states = torch.cat([model_input, inpaint_latents], dim=2)  # (B, n, 48, h, w)
        with attention_context(self.attention_backend):
            noise_pred = self.transformer(
                hidden_states=hidden_states,
                encoder_hidden_states=prompt_embeds,
                timestep=t.expand(model_input.shape[0]),
                image_rotary_emb=rotary,
                return_dict=False,
            )[0].float()
        if do_cfg:
            uncond, text = noise_pred.chunk(2)
            noise_pred = uncond + guidance_scale * (text - uncond)
        # The timestep only indexes the alphas table, so int(t) picks exactly the value the tensor would.
        latents = self.scheduler.step(noise_pred, int(t), latents, eta=0.0, return_dict=False)[0]
        return latents.to(prompt_embeds.dtype)

    @staticmethod
    def _check_cancel(cancel: CancelFn | None) -> None:
        if cancel is not None and cancel():
            raise Cancelled("cancelled between denoising steps")

    @contextlib.contextmanager
    def transformer_weights(self, which: str) -> Iterator[None]:
        """Within the block the transformer holds the `which` ("pass1"/"pass2") checkpoint; pass 1 after."""
        path = self.checkpoints.get(which)
        if path is None:
            raise ValueError(f"no {which} checkpoint was given to from_pretrained")
        if which == "pass1":
            yield
            return
        if any(param.is_meta for param in self.transformer.parameters()):
            # Sequential offload keeps the weights in accelerate's offload map; load_state_dict cannot reach them.
            raise ValueError("pass 2 cannot swap transformer weights in the sequential memory mode; use another mode")
        pass1 = self.checkpoints["pass1"]
        if pass1 is None:
            raise ValueError("the pass-1 checkpoint path is unknown, so pass 1 could not be restored after pass 2")
        load_void_checkpoint(self.transformer, path)
        try:
            yield
        finally:
            load_void_checkpoint(self.transformer, pass1)
