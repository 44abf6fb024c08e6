"""Shared fixtures of the pipeline tests: one tiny model directory and one loaded pipeline per session.

Test modules import the fixtures by name (``from pipeline_tiny_fixtures import tiny_model_dir, tiny_pipe``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from void_engine.pipeline import VoidPipeline
from void_engine.pipeline.tiny import make_tiny_model

# Small enough for 2 CPU cores: 9 frames pad to one 21-frame window (6 latents), 32x48 pixels.
FRAMES, HEIGHT, WIDTH = 9, 32, 48
WINDOW = 21
PROMPT = "an empty room with a table"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("void-tiny"), with_pass2=True)


@pytest.fixture(scope="session")
def tiny_pipe(tiny_model_dir: Path) -> VoidPipeline:
    torch.set_num_threads(2)
    return VoidPipeline.from_model_dir(tiny_model_dir, device="cpu", dtype=torch.float32)


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
