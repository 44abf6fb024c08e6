"""Quadmask levels, 4k+1 padding, multidiffusion windows and the decode schedule (VOID_SPEC.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLCogVideoX

from void_engine.levels import snap_quadmask
from void_engine.pipeline.conditioning import (
    invert_quadmask,
    latent_count,
    latent_window,
    mask_condition,
    mirror_pad,
    padded_length,
    window_spans,
    window_weights,
)
from void_engine.pipeline.decode import decode_latents, decoded_frame_count, latent_chunks
from void_engine.pipeline.tiny import TINY_VAE

# raw value -> (snapped level, inverted value, three-level condition, VAE mask value 1 - condition)
QUADMASK_TABLE = [
    (0, 0, 1.0, 1.0, 0.0),
    (31, 0, 1.0, 1.0, 0.0),
    (32, 63, 192 / 255, 1.0, 0.0),  # overlap merges with remove, as in training
    (63, 63, 192 / 255, 1.0, 0.0),
    (95, 63, 192 / 255, 1.0, 0.0),
    (96, 127, 128 / 255, 127 / 255, 128 / 255),
    (127, 127, 128 / 255, 127 / 255, 128 / 255),
    (191, 127, 128 / 255, 127 / 255, 128 / 255),
    (192, 255, 0.0, 0.0, 1.0),
    (255, 255, 0.0, 0.0, 1.0),
]


@pytest.mark.parametrize("raw, level, inverted, condition, vae_mask", QUADMASK_TABLE)
def test_quadmask_snapping_and_inversion_table(raw, level, inverted, condition, vae_mask):
    snapped = snap_quadmask(np.array([[raw]], np.uint8))
    assert snapped.dtype == np.uint8 and snapped[0, 0] == level
    inv = invert_quadmask(snapped)
    assert inv.dtype == np.float32 and inv[0, 0] == pytest.approx(inverted, abs=1e-7)
    cond = mask_condition(torch.from_numpy(inv))
    assert cond.dtype == torch.float32 and float(cond[0, 0]) == pytest.approx(condition, abs=1e-7)
    assert float(1 - cond[0, 0]) == pytest.approx(vae_mask, abs=1e-6)


def _valid(n: int) -> bool:
    return n % 4 == 1 and latent_count(n) % 2 == 0


@pytest.mark.parametrize("window", [85, 21])
def test_padding_lengths_for_1_to_200_frames(window):
    for frames in range(1, 201):
        smallest = next(n for n in range(frames, frames + 9) if _valid(n))
        assert padded_length(frames, window) == max(window, smallest), frames


def test_padding_examples_and_no_cap_at_197():
    assert padded_length(13) == 85  # a short clip fills one window, as the reference does
    assert padded_length(86) == 93  # 89 has 23 latents (odd) -> 93
    assert padded_length(197) == 197
    assert padded_length(200) == 205  # the reference would cut at 197; we pad and run windows
    with pytest.raises(ValueError, match="at least one frame"):
        padded_length(0)


def test_mirror_padding_appends_frames_in_reverse():
    frames = np.arange(5)
    assert mirror_pad(frames, 12).tolist() == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 1]
    assert mirror_pad(frames, 3).tolist() == [0, 1, 2]


def test_latent_window_of_85_frames_is_22_and_rounds_down_to_even():
    assert latent_window(85) == 22
    assert latent_window(89) == 22  # 23 latents -> even
    with pytest.raises(ValueError, match="window"):
        latent_window(17)


def test_window_starts_and_weights_for_50_latents():
    spans = window_spans(50, 22)
    assert spans == [(0, 22), (18, 40), (36, 50)]
    ramp_up, ramp_down = [0.2, 0.4, 0.6, 0.8], [0.8, 0.6, 0.4, 0.2]
    first, middle, last = (window_weights(s, e, 50).flatten().tolist() for s, e in spans)
    assert first == pytest.approx([1.0] * 18 + ramp_down)
    assert middle == pytest.approx(ramp_up + [1.0] * 14 + ramp_down)
    assert last == pytest.approx(ramp_up + [1.0] * 10)
    total = torch.zeros(50)
    for s, e in spans:
        total[s:e] += window_weights(s, e, 50).flatten()
    assert torch.allclose(total, torch.ones(50))  # overlaps blend to a partition of unity


def test_a_clip_that_fits_one_window_is_one_span():
    assert window_spans(22, 22) == [(0, 22)]
    assert window_spans(6, 22) == [(0, 6)]


def test_decode_chunks_are_frame_zero_then_pairs():
    assert latent_chunks(1) == [(0, 1)]
    assert latent_chunks(4) == [(0, 1), (1, 3), (3, 4)]
    assert latent_chunks(5) == [(0, 1), (1, 3), (3, 5)]


@pytest.mark.parametrize("num_latents", [1, 2, 3, 4])
def test_decode_gives_4L_minus_3_frames(num_latents):
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(**TINY_VAE).eval()
    latents = torch.randn(1, num_latents, 16, 2, 3)
    with torch.no_grad():
        frames = decode_latents(vae, latents)
    assert frames.shape == (1, 3, decoded_frame_count(num_latents), 16, 24) == (1, 3, 4 * num_latents - 3, 16, 24)
    assert frames.dtype == torch.float32 and frames.min() >= 0 and frames.max() <= 1
    # The decoder is causal: frame 0 decodes alone, so later latents never change it.
    with torch.no_grad():
        alone = decode_latents(vae, latents[:, :1])
    assert torch.equal(frames[:, :, :1], alone)
