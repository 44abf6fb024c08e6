"""The VOID inpainting pipeline on diffusers' CogVideoX classes (issue 4).

    pipe = VoidPipeline.from_pretrained(base_dir, pass1=PATH, pass2=PATH|None, device="cpu",
                                        dtype=None, memory_mode="full")   # or VoidPipeline.from_model_dir(DIR)
    out = pipe(video, quadmask, prompt, seed=1, num_inference_steps=30)   # float32 (T, H, W, 3) in [0, 1]
    out2 = pipe.refine(video, quadmask, prompt, out, seed=1, num_inference_steps=30)  # pass 2
    # or pipe(..., use_pass2=True) for both passes in one call

See pipeline.py for the algorithm and VOID_SPEC.md for the specification.
"""

from ..progress import Cancelled
from .loader import CheckpointError
from .model_dir import ModelDir, ModelDirError
from .pipeline import VoidPipeline

__all__ = ["Cancelled", "CheckpointError", "ModelDir", "ModelDirError", "VoidPipeline"]
