"""Fixtures of the pipeline tests: one tiny model directory and one loaded pipeline per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.parallel import torch_threads
from void_engine.pipeline import VoidPipeline
from void_engine.pipeline.tiny import make_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("void-tiny"), with_pass2=True)


@pytest.fixture(scope="session")
def tiny_pipe(tiny_model_dir: Path) -> VoidPipeline:
    torch.set_num_threads(torch_threads())
    return VoidPipeline.from_model_dir(tiny_model_dir, device="cpu", dtype=torch.float32)
