"""The VOID inpainting pipeline on diffusers' CogVideoX classes.

    pipe = VoidPipeline.from_pretrained(base_dir, pass1=PATH, pass2=PATH|None, device="cpu",
                                        dtype=None, memory_mode="full")   # or VoidPipeline.from_model_dir(DIR)
    out = pipe(video, quadmask, prompt, seed=1, num_inference_steps=30)   # float32 (T, H, W, 3) in [0, 1]
    out2 = pipe.refine(video, quadmask, prompt, out, seed=1, num_inference_steps=30)  # pass 2
    # or pipe(..., use_pass2=True) for both passes in one call

See pipeline.py for the algorithm, step by step, and docs/architecture.md for where it sits.

The names below load on first use (PEP 562), so the package's light modules — ``windows`` (valid
window lengths, which the engine config checks at load) and ``model_dir`` — import without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..progress import Cancelled
    from .loader import CheckpointError
    from .model_dir import ModelDir, ModelDirError
    from .pipeline import VoidPipeline

_HOMES = {
    "Cancelled": "void_engine.progress",
    "CheckpointError": "void_engine.pipeline.loader",
    "ModelDir": "void_engine.pipeline.model_dir",
    "ModelDirError": "void_engine.pipeline.model_dir",
    "VoidPipeline": "void_engine.pipeline.pipeline",
}

__all__ = ["Cancelled", "CheckpointError", "ModelDir", "ModelDirError", "VoidPipeline"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
