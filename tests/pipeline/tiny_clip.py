"""The pipeline tests' clip: sizes of the tiny model's runs and a random video with a quadmask."""

from __future__ import annotations

import numpy as np

# Small enough for 2 CPU cores: 9 frames pad to one 21-frame window (6 latents), 32x48 pixels.
FRAMES, HEIGHT, WIDTH = 9, 32, 48
WINDOW = 21
PROMPT = "an empty room with a table"


def make_clip(frames: int = FRAMES, height: int = HEIGHT, width: int = WIDTH, seed: int = 0):
    """A random video in [0,1] and a quadmask with all four levels on a moving square."""
    rng = np.random.default_rng(seed)
    video = rng.random((frames, height, width, 3), dtype=np.float32)
    quadmask = np.full((frames, height, width), 255, np.uint8)
    for t in range(frames):
        x = 4 + t % 8
        quadmask[t, 8:24, x : x + 16] = 0
        quadmask[t, 8:24, x + 16 : x + 24] = 127
        quadmask[t, 4:8, x : x + 8] = 63
    return video, quadmask
