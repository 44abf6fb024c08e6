"""The preview backend uses the finish stage's alignment and robust estimate."""

import cv2
import numpy as np

from void_engine.backends.preview import preview_inpaint


def _panning_shot(hand: bool, drift: float = 0.0):
    rng = np.random.default_rng(4)
    frames, h, w, pan = 9, 120, 200, 3
    canvas = cv2.GaussianBlur(rng.random((h, w + pan * frames, 3)).astype(np.float32), (0, 0), 1.5)
    canvas = 0.2 + 0.6 * (canvas - canvas.min()) / (canvas.max() - canvas.min())
    # ``drift``: the camera's exposure rises by this factor a frame (auto exposure, flicker)
    clean = np.stack([canvas[:, pan * t : pan * t + w] * (1.0 + drift) ** t for t in range(frames)])
    video = clean.copy()
    quadmask = np.full((frames, h, w), 255, np.uint8)
    for t in range(frames):
        x = 40 + 12 * t
        video[t, 40:80, x : x + 36] = (0.9, 0.1, 0.1)  # the object, in the quadmask
        quadmask[t, 36:84, x - 4 : x + 40] = 0
    if hand:
        # Frame 6 alone shows a hand (not masked) where the object hides the background at frame 4.
        x4 = 40 + 12 * 4 - 3 * 2  # frame 4's object position, in frame 6's coordinates
        video[6, 45:75, x4 + 6 : x4 + 30] = (0.95, 0.75, 0.6)
    return video.astype(np.float32), clean.astype(np.float32), quadmask


def test_preview_follows_a_camera_pan():
    video, clean, quadmask = _panning_shot(hand=False)
    out = preview_inpaint(video, quadmask)
    inside = quadmask[4] != 255
    assert np.abs(out[4][inside] - clean[4][inside]).max() < 0.03


def test_preview_does_not_paste_a_transient_foreground_from_one_candidate():
    video, clean, quadmask = _panning_shot(hand=True)
    out = preview_inpaint(video, quadmask)
    inside = quadmask[4] != 255
    assert np.abs(out[4][inside] - clean[4][inside]).max() < 0.05


def test_preview_matches_each_candidates_exposure_to_the_frame_it_fills():
    # 2% a frame: without matching, frames 3 or 4 away bring a patch 6-8% brighter or darker.
    video, clean, quadmask = _panning_shot(hand=False, drift=0.02)
    out = preview_inpaint(video, quadmask)
    inside = quadmask[4] != 255
    error = np.abs(out[4][inside] - clean[4][inside])
    assert error.mean() < 0.01 and error.max() < 0.05  # unmatched: 0.034 and 0.098
