"""Pass 2's initial latents: noise warped along the optical flow of the pass-1 result.

Go-with-the-Flow in its simplest Gaussian-preserving form: white noise at pixel resolution (16
channels) is carried from frame to frame by nearest-neighbour backward warping along dense flow
(OpenCV DIS, or Farneback where DIS is missing -- nothing downloads weights). A nearest warp only
moves samples, so every pixel stays exactly N(0, 1); pixels whose source leaves the frame get fresh
noise. Each 8x8 block is then summed and divided by 8 (sum of 64 N(0,1) / sqrt(64)), which gives one
N(0,1) latent pixel. Finally the warped noise is blended with fresh noise by a degradation factor
(training used 0.3), normalised so the variance stays 1.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

LATENT_CHANNELS = 16
DEFAULT_DEGRADATION = 0.3


def _gray_u8(frame: np.ndarray) -> np.ndarray:
    rgb = np.clip(np.round(frame * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def backward_flows(video: np.ndarray) -> list[np.ndarray]:
    """For t = 1..T-1 the flow (H, W, 2) from frame t back to frame t-1 (x, y in pixels)."""
    gray = [_gray_u8(f) for f in video]
    if hasattr(cv2, "DISOpticalFlow_create"):
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return [dis.calc(gray[t], gray[t - 1], None) for t in range(1, len(gray))]
    return [  # pragma: no cover - opencv builds without DIS
        cv2.calcOpticalFlowFarneback(gray[t], gray[t - 1], None, 0.5, 3, 15, 3, 5, 1.2, 0)  # type: ignore[call-overload]
        for t in range(1, len(gray))
    ]


def warp_noise(noise: np.ndarray, flow: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """Noise (C, H, W) of the previous frame -> this frame's, by nearest backward warping along `flow`."""
    channels, height, width = noise.shape
    ys, xs = np.mgrid[0:height, 0:width]
    src_x = np.rint(xs + flow[..., 0]).astype(np.int64)
    src_y = np.rint(ys + flow[..., 1]).astype(np.int64)
    inside = (src_x >= 0) & (src_x < width) & (src_y >= 0) & (src_y < height)
    fresh = torch.randn((channels, height, width), generator=generator).numpy()
    warped = noise[:, np.clip(src_y, 0, height - 1), np.clip(src_x, 0, width - 1)]
    return np.where(inside[None], warped, fresh).astype(np.float32)


def pool_to_latent(noise: np.ndarray, factor: int = 8) -> np.ndarray:
    """(C, H, W) -> (C, H/f, W/f): block sums divided by f, so i.i.d. N(0,1) stays N(0,1)."""
    c, h, w = noise.shape
    blocks = noise.reshape(c, h // factor, factor, w // factor, factor)
    return (blocks.sum(axis=(2, 4)) / factor).astype(np.float32)


def blend_fresh(noise: torch.Tensor, degradation: float, generator: torch.Generator) -> torch.Tensor:
    """(1-d)·warped + d·fresh, divided by sqrt((1-d)² + d²) so unit variance is kept."""
    if not 0.0 <= degradation <= 1.0:
        raise ValueError(f"degradation must be in [0, 1], got {degradation}")
    fresh = torch.randn(noise.shape, generator=generator, dtype=noise.dtype)
    scale = ((1 - degradation) ** 2 + degradation**2) ** 0.5
    return ((1 - degradation) * noise + degradation * fresh) / scale


def warped_latent_noise(
    video: np.ndarray,
    num_latents: int,
    *,
    seed: int,
    degradation: float = DEFAULT_DEGRADATION,
    spatial_factor: int = 8,
) -> torch.Tensor:
    """Flow-warped noise for a video (T, H, W, 3) in [0,1]: float32 (1, L, 16, H/8, W/8), each value ~N(0,1).

    Latent frame i takes the warped noise of frame round-down(linspace(0, T-1, L)[i]), as the reference's
    pass-2 script resamples its noise in time.
    """
    frames, height, width, _ = video.shape
    generator = torch.Generator("cpu").manual_seed(seed)
    picks = np.linspace(0, frames - 1, num_latents).astype(int)
    wanted = {int(p) for p in picks}
    noise = torch.randn((LATENT_CHANNELS, height, width), generator=generator).numpy()
    pooled = {0: pool_to_latent(noise, spatial_factor)} if 0 in wanted else {}
    if frames > 1 and max(wanted) > 0:
        flows = backward_flows(video[: max(wanted) + 1])
        for t, flow in enumerate(flows, start=1):
            noise = warp_noise(noise, flow, generator)
            if t in wanted:
                pooled[t] = pool_to_latent(noise, spatial_factor)
    latent = torch.from_numpy(np.stack([pooled[int(p)] for p in picks]))[None]  # (1, L, 16, h, w)
    return blend_fresh(latent, degradation, generator) if degradation > 0 else latent
