"""Which torch device a model runs on: the configured one, or ``auto`` = the GPU when there is one."""

from __future__ import annotations

AUTO = "auto"


def resolve_device(requested: str | None) -> str:
    """``requested`` as given ("cpu", "cuda", "cuda:1"), or for ``auto``/None CUDA when available,
    else CPU. torch is imported only when it has to be asked."""
    if requested and requested != AUTO:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
