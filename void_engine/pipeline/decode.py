"""The reference's VAE decode schedule, run on diffusers' own CogVideoX decoder modules.

diffusers' ``AutoencoderKLCogVideoX.decode`` chunks the latents as (0,1,2),(3,4),... or (0,1),(2,3),...
and returns 4L frames for an even latent count L. VOID's reference decodes latent frame 0 alone, then
pairs [1:3], [3:5], ... with one conv cache shared by all chunks, and in every chunk after the first its
temporal upsamplers double time by plain nearest repetition -- including a trailing single latent
frame, which diffusers would upsample in space only. The result has T_out = 4L - 3 frames.

We reproduce that by calling ``vae.decoder`` chunk by chunk and, for the chunks after the first,
temporarily giving the time-compressing ``CogVideoXUpsample3D`` modules the reference's "rest" forward.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
from diffusers.models.upsampling import CogVideoXUpsample3D

LATENT_FRAMES_PER_CHUNK = 2


def decoded_frame_count(num_latents: int) -> int:
    """Frames the reference schedule produces from `num_latents` latent frames: 4L - 3."""
    if num_latents < 1:
        raise ValueError(f"need at least one latent frame, got {num_latents}")
    return 4 * num_latents - 3


def latent_chunks(num_latents: int) -> list[tuple[int, int]]:
    """[start, end) latent chunks: frame 0 alone, then pairs (the last one may be a single frame)."""
    chunks = [(0, 1)]
    start = 1
    while start < num_latents:
        chunks.append((start, min(start + LATENT_FRAMES_PER_CHUNK, num_latents)))
        start += LATENT_FRAMES_PER_CHUNK
    return chunks


def _upsample_rest_chunk(self: CogVideoXUpsample3D, inputs: torch.Tensor) -> torch.Tensor:
    # Nearest x2 in time and space on the 5D tensor, then the 2D conv per frame.
    inputs = F.interpolate(inputs, scale_factor=2.0)
    b, c, t, h, w = inputs.shape
    inputs = inputs.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    inputs = self.conv(inputs)
    return inputs.reshape(b, t, *inputs.shape[1:]).permute(0, 2, 1, 3, 4)


@contextlib.contextmanager
def _rest_chunk_upsampling(decoder: torch.nn.Module) -> Iterator[None]:
    """Within the block, every time-compressing upsampler doubles time by repetition."""
    patched = [m for m in decoder.modules() if isinstance(m, CogVideoXUpsample3D) and m.compress_time]
    for module in patched:
        module.forward = types.MethodType(_upsample_rest_chunk, module)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for module in patched:
            del module.forward  # back to the class's forward


def _decode_schedule(vae: AutoencoderKLCogVideoX, z: torch.Tensor) -> torch.Tensor:
    conv_cache = None
    frames = []
    for index, (start, end) in enumerate(latent_chunks(z.shape[2])):
        chunk = z[:, :, start:end]
        if vae.post_quant_conv is not None:
            chunk = vae.post_quant_conv(chunk)
        if index == 0:
            out, conv_cache = vae.decoder(chunk, conv_cache=conv_cache)
        else:
            with _rest_chunk_upsampling(vae.decoder):
                out, conv_cache = vae.decoder(chunk, conv_cache=conv_cache)
        frames.append(out)
    return torch.cat(frames, dim=2)


def _decode_tiled(vae: AutoencoderKLCogVideoX, z: torch.Tensor) -> torch.Tensor:
    # diffusers' spatial tiling (same tile sizes, overlaps and blends as its tiled_decode), with our
    # temporal schedule inside each tile. Saves memory; not bit-identical to the untiled decode.
    height, width = z.shape[3], z.shape[4]
    scale = vae.tile_sample_min_height // vae.tile_latent_min_height
    overlap_h = int(vae.tile_latent_min_height * (1 - vae.tile_overlap_factor_height))
    overlap_w = int(vae.tile_latent_min_width * (1 - vae.tile_overlap_factor_width))
    blend_h = int(vae.tile_sample_min_height * vae.tile_overlap_factor_height)
    blend_w = int(vae.tile_sample_min_width * vae.tile_overlap_factor_width)
    limit_h = vae.tile_sample_min_height - blend_h
    limit_w = vae.tile_sample_min_width - blend_w
    rows = []
    for i in range(0, height, overlap_h):
        row = []
        for j in range(0, width, overlap_w):
            tile = z[:, :, :, i : i + vae.tile_latent_min_height, j : j + vae.tile_latent_min_width]
            row.append(_decode_schedule(vae, tile))
        rows.append(row)
    result_rows = []
    for i, row in enumerate(rows):
        result_row = []
        for j, tile in enumerate(row):
            if i > 0:
                tile = vae.blend_v(rows[i - 1][j], tile, blend_h)
            if j > 0:
                tile = vae.blend_h(row[j - 1], tile, blend_w)
            result_row.append(tile[:, :, :, :limit_h, :limit_w])
        result_rows.append(torch.cat(result_row, dim=4))
    return torch.cat(result_rows, dim=3)[:, :, :, : height * scale, : width * scale]


def decode_latents(vae: AutoencoderKLCogVideoX, latents: torch.Tensor) -> torch.Tensor:
    """Latents (B, L, C, h, w) -> video (B, 3, 4L-3, 8h, 8w) float32 in [0, 1], by the reference schedule.

    Uses spatial tiling when ``vae.use_tiling`` is set and the latents exceed a tile (memory modes).
    """
    hook = getattr(vae, "_hf_hook", None)
    if hook is not None:  # model offload: bring the VAE to the execution device, as vae.decode would
        hook.pre_forward(vae)
    z = latents.permute(0, 2, 1, 3, 4)  # (B, C, L, h, w)
    z = 1 / vae.config["scaling_factor"] * z
    tiled = vae.use_tiling and (z.shape[4] > vae.tile_latent_min_width or z.shape[3] > vae.tile_latent_min_height)
    frames = torch.cat([(_decode_tiled if tiled else _decode_schedule)(vae, zb) for zb in z.split(1)])
    frames = (frames / 2 + 0.5).clamp(0, 1)
    return frames.float()
