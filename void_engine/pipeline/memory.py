"""Memory modes: where the pipeline's weights live while it runs.

- ``full``: everything on the device.
- ``model_offload``: diffusers' model CPU offload (one whole model on the GPU at a time).
- ``fp8``: transformer weights stored float8_e4m3fn and computed in bf16 layer by layer (diffusers'
  layerwise casting), with model CPU offload so T5 leaves the GPU after encoding; the VAE encodes and
  decodes in spatial tiles (not bit-identical to untiled).
- ``sequential``: diffusers' sequential CPU offload (layer by layer; slowest, smallest); the VAE works in
  spatial tiles as in ``fp8`` (the mode is for 6-12 GB cards, and the untiled decode alone peaks near 11.5 GB).

With model offload hooks (``model_offload``, ``fp8``) the pipeline moves T5 off the GPU as soon as the
prompt is encoded (VoidPipeline.offload_text_encoder), before the VAE encodes.

On the CPU the offload modes have nothing to offload to and behave as ``full`` (the VAE tiling of
``fp8`` and ``sequential`` stays: it is part of what the mode computes).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .pipeline import VoidPipeline

log = logging.getLogger(__name__)

MEMORY_MODES = ("full", "model_offload", "fp8", "sequential")


def default_dtype(device: str | torch.device) -> torch.dtype:
    """bf16 on a GPU, float32 on the CPU."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def apply_memory_mode(pipe: VoidPipeline, mode: str, device: str | torch.device) -> None:
    """Place `pipe`'s components for `mode` on `device`; ValueError for an unknown mode."""
    if mode not in MEMORY_MODES:
        raise ValueError(f"memory_mode must be one of {', '.join(MEMORY_MODES)}; got {mode!r}")
    device = torch.device(device)
    if mode == "fp8":
        # Computes in the dtype the pipeline was loaded with (bf16 on a GPU by default); diffusers keeps
        # the patch embedding and norms unquantised.
        pipe.transformer.enable_layerwise_casting(
            storage_dtype=torch.float8_e4m3fn, compute_dtype=pipe.transformer.dtype
        )
        pipe.vae.enable_tiling()
        if device.type == "cpu":
            pipe.to(device)
        else:
            # As the reference's model_cpu_offload_and_qfloat8: one model on the GPU at a time, so T5-XXL
            # leaves the GPU once the prompt is encoded and never sits beside the transformer.
            pipe.enable_model_cpu_offload(device=device)
        return
    if mode == "sequential":
        pipe.vae.enable_tiling()
    if mode == "full" or device.type == "cpu":
        if mode != "full":
            log.info("memory_mode %s has nothing to offload to on the CPU; running as full", mode)
        pipe.to(device)
        return
    if mode == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)
