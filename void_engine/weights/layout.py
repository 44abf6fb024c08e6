"""Which layout a VOID checkpoint has: the complete 48-channel transformer, or a delta on the base.

A VOID checkpoint is loaded over the base transformer with ``strict=False``, so it may hold only what
training changed ("delta"). The reference's training script saves the whole model, and the hub's
void_pass1/void_pass2.safetensors are each 11.1 GB -- the size of the whole transformer -- so they are
probably "complete": every tensor of the transformer, the patch embedding 48 channels wide. Then the
base folder's transformer weights (another 11 GB) are never used: ``void-engine download`` fetches only
the base transformer's config.json, and the loader builds the transformer from that config and the
checkpoint alone.

The rule is the same everywhere (download, doctor, loader): a checkpoint is complete when it holds
every tensor of ``expected_shapes(config)`` with exactly that shape. Only safetensors headers are
compared; torch and diffusers are imported when the expected shapes are first asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VOID_IN_CHANNELS = 48  # 16 noisy latents + 16 mask latents + 16 masked-video latents
PATCH_EMBED_KEY = "patch_embed.proj.weight"
# Keys of the base config that only the reference's transformer class knows; we read them ourselves.
REFERENCE_ONLY_KEYS = ("add_noise_in_inpaint_model",)

Shapes = Mapping[str, tuple[int, ...]]


def void_transformer_config(base_config: Mapping[str, Any]) -> dict[str, Any]:
    """The base transformer's config.json as diffusers' CogVideoXTransformer3DModel takes it, 48 channels wide."""
    config = {k: v for k, v in base_config.items() if k not in REFERENCE_ONLY_KEYS}
    config["in_channels"] = VOID_IN_CHANNELS
    return config


def expected_shapes(base_config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of the VOID transformer (its state_dict), built on the meta device."""
    import torch
    from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXTransformer3DModel

    with torch.device("meta"):  # shapes only: no memory, no random init
        model = CogVideoXTransformer3DModel.from_config(void_transformer_config(base_config))
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


@dataclass(frozen=True)
class CheckpointLayout:
    """Whether a checkpoint holds the complete transformer, and a sentence saying so."""

    complete: bool
    detail: str


def checkpoint_layout(name: str, header: Shapes, expected: Shapes) -> CheckpointLayout:
    """Compare a checkpoint's header (`name` for the message) with the transformer's expected shapes."""
    missing = [key for key in expected if key not in header]
    differ = [key for key in expected if key in header and tuple(header[key]) != tuple(expected[key])]
    if not missing and not differ:
        return CheckpointLayout(True, f"{name} holds the complete transformer ({len(expected)} tensors)")
    if differ:
        key = differ[0]
        why = f"{key} is {tuple(header[key])}, the 48-channel transformer's is {tuple(expected[key])}"
    else:
        why = f"it lacks {len(missing)} of {len(expected)} tensors, e.g. {missing[0]}"
    return CheckpointLayout(False, f"{name} is a delta on the base transformer ({why})")
