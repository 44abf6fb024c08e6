"""The preview backend: temporal fill + OpenCV inpainting, on a small sample shot."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from void_engine.backends.preview import DEFAULT_GROW_PX, preview_inpaint
from void_engine.demo.samples import SampleScene
from void_engine.masks.quadmask import quadmask_from_mattes
from void_engine.progress import Cancelled


def _small_shot(frames=12, width=224, height=126, seed=1):
    scene = SampleScene(seed=seed, width=width, height=height, frames=frames)
    drawn = [scene.render(i) for i in range(frames)]
    # Model space is display-referred [0, 1]; a plain clip stands in for the colour conversion.
    video = np.stack([np.clip(d.plate[..., :3], 0, 1) for d in drawn]).astype(np.float32)
    clean = np.stack([np.clip(d.clean[..., :3], 0, 1) for d in drawn]).astype(np.float32)
    quadmask = np.stack([quadmask_from_mattes(d.remove, d.affected) for d in drawn])
    return video, clean, quadmask


def _psnr(a, b):
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def _grown(quadmask, px):
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return np.stack([cv2.dilate((q != 255).astype(np.uint8), k) > 0 for q in quadmask])


def test_preview_recovers_the_background_inside_the_mask():
    video, clean, quadmask = _small_shot()
    out = preview_inpaint(video, quadmask)
    inside = quadmask != 255
    assert _psnr(video[inside], clean[inside]) < 25  # the ball and shadow really are there
    assert _psnr(out[inside], clean[inside]) > 40


def test_preview_leaves_pixels_away_from_the_mask_bit_identical():
    video, _, quadmask = _small_shot()
    out = preview_inpaint(video, quadmask)
    far = ~_grown(quadmask, DEFAULT_GROW_PX)
    assert out.dtype == np.float32 and out.shape == video.shape
    assert np.array_equal(out[far], video[far])
    assert not np.array_equal(out[~far], video[~far])


def test_background_never_visible_is_inpainted_from_its_surroundings():
    # A flat-ish gradient with a static mask: no frame shows what is under it.
    t, h, w = 4, 64, 96
    ramp = np.linspace(0.2, 0.8, w, dtype=np.float32)
    clean = np.broadcast_to(ramp[None, None, :, None], (t, h, w, 3)).copy()
    video = clean.copy()
    quadmask = np.full((t, h, w), 255, np.uint8)
    quadmask[:, 24:40, 40:56] = 0
    video[:, 24:40, 40:56] = (1.0, 0.0, 0.0)
    out = preview_inpaint(video, quadmask)
    hole = quadmask != 255
    assert np.abs(out[hole] - clean[hole]).max() < 0.05
    assert np.all(np.isfinite(out))


def test_progress_is_reported_per_frame_and_cancel_stops_before_work():
    video, _, quadmask = _small_shot(frames=5, width=96, height=54)
    calls = []
    preview_inpaint(video, quadmask, progress=lambda w, s, n: calls.append((w, s, n)))
    assert calls == [(0, s, 5) for s in range(1, 6)]

    polled = []

    def cancel():
        polled.append(1)
        return len(polled) > 2  # cancel before the third frame

    calls.clear()
    with pytest.raises(Cancelled, match="cancelled") as raised:
        preview_inpaint(video, quadmask, progress=lambda w, s, n: calls.append(s), cancel=cancel)
    assert calls == [1, 2]
    assert isinstance(raised.value, Cancelled)  # the engine reports it as a cancelled job, not a failure


@pytest.mark.parametrize(
    "video_shape, mask_shape, dtype, message",
    [
        ((3, 8, 8, 4), (3, 8, 8), np.uint8, "video must be"),
        ((3, 8, 8, 3), (3, 8, 9), np.uint8, "quadmask must be"),
        ((3, 8, 8, 3), (3, 8, 8), np.float32, "uint8"),
    ],
)
def test_bad_inputs_are_refused_with_the_field_named(video_shape, mask_shape, dtype, message):
    with pytest.raises(ValueError, match=message):
        preview_inpaint(np.zeros(video_shape, np.float32), np.full(mask_shape, 255, dtype))
