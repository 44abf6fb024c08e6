"""Opt-in speed settings of the pipeline ([worker] attention_backend, compile_blocks, compile_cache_dir).

Both are off by default until bench/gpu_pipeline.py has measured them on the GPU the engine runs on:

- ``attention_backend``: the transformer's forward runs inside ``torch.nn.attention.sdpa_kernel`` with
  only that kernel allowed ("cudnn", "flash", "efficient" or "math"); "" leaves PyTorch's own choice.
  A kernel the GPU or the inputs cannot use fails the job with PyTorch's "No available kernel" error
  rather than falling back silently.
- ``compile_blocks``: regional compilation -- ``torch.compile`` of each of the transformer's 42
  identical ``CogVideoXBlock`` modules. They share one code object, so Dynamo compiles the block once
  and reuses it for all 42 (minutes less than compiling the whole model). Inductor's caches go to
  ``compile_cache_dir``, so the next engine start reads the compiled kernels instead of compiling again.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import torch
from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXBlock, CogVideoXTransformer3DModel
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..config import ATTENTION_BACKENDS

log = logging.getLogger(__name__)

SDPA_BACKENDS: dict[str, SDPBackend] = {
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
}
# Inductor reads this variable whenever it compiles, so setting it before the first compile is enough.
INDUCTOR_CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


def check_attention_backend(name: str) -> str:
    """`name` if it is "" or a known backend; ValueError naming the choices otherwise."""
    if name not in ATTENTION_BACKENDS:
        raise ValueError(
            f"attention_backend must be one of {', '.join(repr(b) for b in ATTENTION_BACKENDS)}; got {name!r}"
        )
    return name


def attention_context(name: str) -> contextlib.AbstractContextManager[object]:
    """The context the transformer's forward runs in: only backend `name` allowed ("" = no restriction)."""
    if not name:
        return contextlib.nullcontext()
    return sdpa_kernel([SDPA_BACKENDS[check_attention_backend(name)]])


def compile_blocks(transformer: CogVideoXTransformer3DModel, cache_dir: Path | None = None) -> int:
    """Compile every CogVideoXBlock of `transformer` in place (one compile, reused); returns how many.

    `cache_dir` (created if missing) becomes Inductor's cache folder for this process; None keeps
    PyTorch's default (a per-user folder under the system's temporary directory).
    """
    if cache_dir is not None:
        cache_dir = Path(cache_dir).expanduser()
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Process-wide by nature: Inductor has no per-call cache setting, and an engine holds one model.
        os.environ[INDUCTOR_CACHE_ENV] = str(cache_dir)
    blocks = [m for m in transformer.modules() if isinstance(m, CogVideoXBlock)]
    for block in blocks:
        block.compile(dynamic=False)
    log.info("compiling %d transformer blocks on first use (Inductor cache: %s)", len(blocks), cache_dir or "default")
    return len(blocks)


def is_compiled(module: torch.nn.Module) -> bool:
    """Whether `module.compile()` was called on it (its calls go through torch.compile)."""
    return getattr(module, "_compiled_call_impl", None) is not None
