"""Conditioning arithmetic of VOID: quadmask inversion, 4k+1 padding, multidiffusion windows.

Plain functions with no model in them, so each rule of VOID_SPEC.md can be tested on its own.
Every float operation here is written the way the reference writes it (same order, same dtype),
because the pipeline's output must match the reference bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch

from ..levels import AFFECTED, KEEP
from .windows import OVERLAP_LATENTS

# Latent frames blended with a linear ramp where two multidiffusion windows overlap
# (the reference's temporal_multidiffusion_stride of 16 frames, / 4).
WINDOW_OVERLAP_LATENTS = OVERLAP_LATENTS

# The reference's longest clip; we do not cut there (long shots become more windows).
REFERENCE_MAX_FRAMES = 197


def invert_quadmask(snapped: np.ndarray) -> np.ndarray:
    """255 - q, divided by 255: remove -> 1.0, overlap -> 192/255, affected -> 128/255, keep -> 0.0 (float32)."""
    inverted = (float(KEEP) - snapped.astype(np.float32)).astype(np.float32)
    return (torch.from_numpy(inverted) / float(KEEP)).numpy()


def mask_condition(inverted: torch.Tensor) -> torch.Tensor:
    """Three-level mask the model was trained on: > 0.75 -> 1, 0.25..0.75 -> 127/255, < 0.25 -> 0.

    Overlap (192/255) lands on 1 together with remove, as in training. float32 in, float32 out.
    """
    m = torch.where(inverted > 0.75, 1.0, inverted)
    m = torch.where((m <= 0.75) * (m >= 0.25), AFFECTED / KEEP, m)
    m = torch.where(m < 0.25, 0.0, m)
    return m.to(torch.float32)


def padded_length(num_frames: int, window_frames: int = 85) -> int:
    """Frames after padding: the smallest 4k+1 >= T whose latent count k+1 is even, at least one window.

    Unlike the reference we do not cap at 197 frames: longer shots are padded the same way and run as
    overlapping multidiffusion windows (for T <= 197 both agree).
    """
    if num_frames < 1:
        raise ValueError(f"a clip needs at least one frame, got {num_frames}")
    length = (num_frames // 4) * 4 + 1
    if length < num_frames:
        length += 4
    if (length // 4) % 2 == 0:  # odd latent count: patch_size_t=2 needs an even one
        length += 4
    return max(window_frames, length)


def mirror_pad(frames: np.ndarray, length: int) -> np.ndarray:
    """Extend `frames` (time first) to `length` by appending it in reverse, repeatedly (last frame repeated)."""
    out = frames[:length]
    while out.shape[0] < length:
        out = np.concatenate([out, out[::-1]], axis=0)[:length]
    return np.ascontiguousarray(out)


def latent_count(num_frames: int, temporal_compression: int = 4) -> int:
    """Latent frames for a 4k+1-frame clip."""
    return (num_frames - 1) // temporal_compression + 1


def latent_window(window_frames: int, patch_size_t: int = 2, temporal_compression: int = 4) -> int:
    """Latent frames per multidiffusion window: (frames - 1)/4 + 1, rounded down to a multiple of patch_size_t."""
    latents = latent_count(window_frames, temporal_compression)
    latents -= latents % patch_size_t
    if latents <= WINDOW_OVERLAP_LATENTS:
        raise ValueError(
            f"window_frames={window_frames} gives a {latents}-latent window; it must exceed the "
            f"{WINDOW_OVERLAP_LATENTS}-latent overlap (use at least {4 * (WINDOW_OVERLAP_LATENTS + 2) - 3} frames)"
        )
    return latents


def window_spans(num_latents: int, window: int) -> list[tuple[int, int]]:
    """[start, end) latent spans of the multidiffusion windows; one span when the clip fits in a window.

    Windows start every window - 4 latents; the last one is cut at the clip's end.
    """
    if num_latents <= window:
        return [(0, num_latents)]
    spans = []
    start = 0
    while True:
        end = min(start + window, num_latents)
        spans.append((start, end))
        if end >= num_latents:
            return spans
        start = end - WINDOW_OVERLAP_LATENTS


def window_weights(start: int, end: int, num_latents: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Blend weights (1, end-start, 1, 1, 1) of one window: ramps up over its first 4 latents unless it
    is the first window, down over its last 4 unless it is the last, 1 elsewhere."""
    n = WINDOW_OVERLAP_LATENTS
    weights = torch.ones(1, end - start, 1, 1, 1).to(dtype)
    if start > 0:
        weights[:, :n] = torch.linspace(0.0, 1.0, n + 2)[1:-1].to(dtype).reshape(1, n, 1, 1, 1)
    if end < num_latents:
        weights[:, -n:] = torch.linspace(1.0, 0.0, n + 2)[1:-1].to(dtype).reshape(1, n, 1, 1, 1)
    return weights


def add_masked_video_noise(video: torch.Tensor, seed: int, sigma: float) -> torch.Tensor:
    """Video (B, C, T, H, W) in [-1, 1] plus N(0, sigma²) noise on every value not exactly -1.

    The numbers are those the reference draws with ``torch.randn_like`` from the global RNG seeded with
    `seed`: its video tensor is a frame-major (B, T, C, H, W) buffer viewed as (B, C, T, H, W), and torch
    fills such a non-contiguous tensor element by element, which differs from a contiguous randn. We make
    the same layout and fill it the same way from a private CPU generator, so global state is untouched.
    """
    generator = torch.Generator("cpu").manual_seed(seed)
    b, c, t, h, w = video.shape
    noise = torch.empty((b, t, c, h, w), dtype=video.dtype).permute(0, 2, 1, 3, 4).normal_(generator=generator)
    scale = torch.ones((b,)).to(video.device, video.dtype) * sigma
    noise = noise.to(video.device) * scale[:, None, None, None, None]
    noise = torch.where(video == -1, torch.zeros_like(video), noise)
    return video + noise
