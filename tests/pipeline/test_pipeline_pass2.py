"""Pass 2: flow-warped noise stays N(0,1) and follows motion; the refinement run with the pass-2 weights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from void_engine.pipeline import VoidPipeline
from void_engine.pipeline.pass2 import blend_fresh, pool_to_latent, warped_latent_noise

from .tiny_clip import PROMPT, WINDOW, make_clip


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.random((height, width, 3), dtype=np.float32), (0, 0), 2.0)
    return (image - image.min()) / (image.max() - image.min())


def _panning(frames: int, step: int, size: int = 64) -> np.ndarray:
    wide = _texture(size, size + step * frames)
    return np.stack([wide[:, step * (frames - t) : step * (frames - t) + size] for t in range(frames)])


def test_warped_noise_of_a_moving_video_is_standard_normal():
    noise = warped_latent_noise(_panning(17, 3, size=128), num_latents=5, seed=3, degradation=0.0)
    assert noise.shape == (1, 5, 16, 16, 16) and noise.dtype == torch.float32
    assert abs(float(noise.mean())) < 0.05
    assert abs(float(noise.std()) - 1.0) < 0.05
    for frame in noise[0]:  # every latent frame on its own, not just the whole clip
        assert abs(float(frame.std()) - 1.0) < 0.1


def test_degradation_blend_keeps_unit_variance():
    noise = warped_latent_noise(_panning(9, 3, size=128), num_latents=3, seed=4, degradation=0.3)
    assert abs(float(noise.mean())) < 0.05 and abs(float(noise.std()) - 1.0) < 0.05
    with pytest.raises(ValueError, match="degradation"):
        blend_fresh(noise, 1.5, torch.Generator().manual_seed(0))


def test_static_video_gives_temporally_constant_noise():
    still = np.repeat(_texture(64, 64)[None], 13, axis=0)
    noise = warped_latent_noise(still, num_latents=4, seed=5, degradation=0.0)
    for t in range(1, 4):
        assert torch.equal(noise[0, t], noise[0, 0])
    blended = warped_latent_noise(still, num_latents=4, seed=5, degradation=0.3)
    assert not torch.equal(blended[0, 1], blended[0, 0])  # fresh noise is mixed in per frame


def test_warped_noise_follows_the_motion():
    # The scene pans 8 px (one latent pixel) to the right per frame: latent noise shifts with it.
    noise = warped_latent_noise(_panning(2, 8, size=128), num_latents=2, seed=6, degradation=0.0)
    before, after = noise[0, 0], noise[0, 1]
    moved = torch.corrcoef(torch.stack([before[:, 2:-2, 1:-3].flatten(), after[:, 2:-2, 2:-2].flatten()]))[0, 1]
    still = torch.corrcoef(torch.stack([before[:, 2:-2, 2:-2].flatten(), after[:, 2:-2, 2:-2].flatten()]))[0, 1]
    assert moved > 0.9 and abs(float(still)) < 0.3


def test_pooling_keeps_unit_variance():
    noise = torch.randn((16, 256, 256), generator=torch.Generator().manual_seed(0)).numpy()
    pooled = pool_to_latent(noise)
    assert pooled.shape == (16, 32, 32) and abs(float(pooled.std()) - 1.0) < 0.05


def test_refine_uses_pass2_weights_and_restores_pass1(tiny_pipe):
    video, quadmask = make_clip()
    kwargs = dict(seed=3, num_inference_steps=1, window_frames=WINDOW)
    first = tiny_pipe(video, quadmask, PROMPT, **kwargs)
    refined = tiny_pipe.refine(video, quadmask, PROMPT, first, **kwargs)
    assert refined.shape == video.shape and refined.dtype == np.float32
    assert not np.array_equal(refined, first)
    assert np.array_equal(tiny_pipe(video, quadmask, PROMPT, **kwargs), first)  # pass-1 weights are back
    both = tiny_pipe(video, quadmask, PROMPT, use_pass2=True, **kwargs)
    assert np.array_equal(both, refined)


def test_refine_without_pass2_checkpoint_is_refused(tiny_model_dir):
    base = tiny_model_dir / "CogVideoX-Fun-V1.5-5b-InP"
    pipe = VoidPipeline.from_pretrained(base, pass1=tiny_model_dir / "void_pass1.safetensors")
    video, quadmask = make_clip()
    with pytest.raises(ValueError, match="void_pass2.safetensors"):
        pipe.refine(video, quadmask, PROMPT, video, seed=1, num_inference_steps=1, window_frames=WINDOW)
