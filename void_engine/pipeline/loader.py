"""Load the VOID components from a base folder (diffusers layout) plus a VOID transformer checkpoint.

The base CogVideoX-Fun-V1.5-5b-InP transformer takes 33 input channels (16 latents, 1 mask, 16
masked-video latents); VOID widens it to 48 (the mask becomes 16 VAE-encoded channels). As the
reference does, the widened ``patch_embed.proj`` keeps the base columns of the first and last 16
channels and repeats the base mask channel's columns across the 16 new mask channels; the VOID
checkpoint is then loaded on top with ``strict=False``.

A checkpoint that holds the complete 48-channel transformer (void_engine.weights.layout; its header says
so before any weight is read) is loaded alone: the base folder's transformer weights are not read and
need not exist.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXTransformer3DModel
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import AutoTokenizer, PreTrainedTokenizerBase, T5EncoderModel

from ..weights.layout import PATCH_EMBED_KEY, checkpoint_layout, void_transformer_config
from ..weights.safetensors_header import HeaderError, read_header
from .model_dir import check_base_folder

log = logging.getLogger(__name__)

LATENT_CHANNELS = 16


class CheckpointError(ValueError):
    """A weights file is unreadable or does not fit the model; the message names the file."""


@dataclass(frozen=True)
class LoadReport:
    """What loading one checkpoint into the transformer did."""

    path: Path
    missing: int
    unexpected: int
    adapted_patch_embed: bool
    base_weights_read: bool = True  # False: the checkpoint held the complete transformer


@dataclass
class Components:
    """Everything VoidPipeline is made of, as loaded from disk."""

    tokenizer: PreTrainedTokenizerBase
    text_encoder: T5EncoderModel
    vae: AutoencoderKLCogVideoX
    transformer: CogVideoXTransformer3DModel
    scheduler: DDIMScheduler
    add_noise_in_inpaint_model: bool
    report: LoadReport


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file (a nested ``state_dict`` is unwrapped); CheckpointError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        size = path.stat().st_size
        raise CheckpointError(
            f"{path}: cannot read as safetensors ({size} bytes; truncated or corrupt download?): {exc}"
        ) from exc
    if not state:
        raise CheckpointError(f"{path}: the file holds no tensors")
    return state


def _transformer_patch_size(config: dict) -> int:
    p, p_t = config.get("patch_size", 2), config.get("patch_size_t") or 1
    return p * p * p_t


def _widen_base_patch_embed(base_weight: torch.Tensor, width: int, feat: int, source: Path) -> torch.Tensor:
    """Base (out, 33*8) -> (out, 48*8): first/last `feat` columns kept, base mask columns repeated between."""
    middle = base_weight[:, feat:-feat]
    new_width = width - 2 * feat
    if middle.shape[1] == 0 or new_width % middle.shape[1] != 0:
        raise CheckpointError(
            f"{source}: {PATCH_EMBED_KEY} has shape {tuple(base_weight.shape)}; cannot widen it to {width} columns"
        )
    widened = torch.empty(base_weight.shape[0], width, dtype=base_weight.dtype)
    widened[:, :feat] = base_weight[:, :feat]
    widened[:, -feat:] = base_weight[:, -feat:]
    for i in range(feat, width - feat, middle.shape[1]):
        widened[:, i : i + middle.shape[1]] = middle
    return widened


def _read_folder_weights(folder: Path) -> dict[str, torch.Tensor]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"no *.safetensors weights in {folder}")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(read_checkpoint(file))
    return state


def _meta_transformer(base: Path) -> tuple[CogVideoXTransformer3DModel, bool, dict]:
    """The 48-channel transformer with no storage (every tensor comes from a file), add_noise, its config."""
    folder = Path(base) / "transformer"
    base_config = dict(CogVideoXTransformer3DModel.load_config(folder))
    add_noise = bool(base_config.get("add_noise_in_inpaint_model", False))
    config = void_transformer_config(base_config)
    with torch.device("meta"):  # no random init of 5B parameters
        model = CogVideoXTransformer3DModel.from_config(config)
    return model, add_noise, config


def _assign(
    model: CogVideoXTransformer3DModel, state: dict[str, torch.Tensor], dtype: torch.dtype, what: str
) -> tuple[CogVideoXTransformer3DModel, int]:
    """Give the meta `model` the tensors of `state` (all of them needed); returns (model, unexpected count)."""
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if missing:
        raise CheckpointError(f"{what} lack {len(missing)} tensors, e.g. {missing[0]}")
    if unexpected:
        log.info("%s: %d unexpected tensors ignored", what, len(unexpected))
    still_meta = [name for name, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if still_meta:
        raise CheckpointError(f"{what}: no weights for {', '.join(still_meta[:3])}")
    if any(param.dtype != dtype for param in model.parameters()):
        _cast(model, dtype)
    return model.eval(), len(unexpected)


def _cast(module: torch.nn.Module, dtype: torch.dtype) -> None:
    # In place (Module.to returns the module itself). Typed as nn.Module because diffusers wraps its
    # ModelMixin.to with functools.wraps, which mypy cannot bind; at run time ModelMixin.to still runs.
    module.to(dtype)


def build_transformer(base: Path, dtype: torch.dtype) -> tuple[CogVideoXTransformer3DModel, bool]:
    """The base transformer widened to 48 input channels, with the base weights. Returns (model, add_noise)."""
    folder = Path(base) / "transformer"
    model, add_noise, config = _meta_transformer(base)
    state = _read_folder_weights(folder)
    expected = model.state_dict()
    feat = LATENT_CHANNELS * _transformer_patch_size(config)
    weight = state.get(PATCH_EMBED_KEY)
    if weight is not None and weight.shape != expected[PATCH_EMBED_KEY].shape:
        state[PATCH_EMBED_KEY] = _widen_base_patch_embed(weight, expected[PATCH_EMBED_KEY].shape[1], feat, folder)
    _check_shapes(state, expected, folder)
    model, _ = _assign(model, state, dtype, f"base transformer weights in {folder}")
    return model, add_noise


def _holds_complete_transformer(checkpoint: Path, model: CogVideoXTransformer3DModel) -> bool:
    """From the checkpoint's header alone; False when unreadable (the delta path then names the problem)."""
    try:
        header = read_header(checkpoint)
    except (OSError, HeaderError):
        return False
    shapes = {name: t.shape for name, t in header.tensors.items()}
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    layout = checkpoint_layout(checkpoint.name, shapes, expected)
    log.info("%s", layout.detail)
    return layout.complete


def transformer_from_checkpoint(
    base: Path, checkpoint: Path, dtype: torch.dtype
) -> tuple[CogVideoXTransformer3DModel, bool, LoadReport] | None:
    """The transformer built from the base config and `checkpoint` alone, when that holds all of it; else None.

    Returns (model, add_noise, report); the base folder's transformer weights are not read.
    """
    checkpoint = Path(checkpoint)
    model, add_noise, _ = _meta_transformer(base)
    if not _holds_complete_transformer(checkpoint, model):
        return None
    state = read_checkpoint(checkpoint)
    _check_shapes(state, model.state_dict(), checkpoint)
    model, unexpected = _assign(model, state, dtype, str(checkpoint))
    return model, add_noise, LoadReport(checkpoint, 0, unexpected, False, base_weights_read=False)


def _check_shapes(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], source: Path) -> None:
    for key, tensor in state.items():
        if key in expected and tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"{source}: tensor '{key}' has shape {tuple(tensor.shape)} but the transformer expects "
                f"{tuple(expected[key].shape)} -- is this a VOID checkpoint for this base model?"
            )


def load_void_checkpoint(transformer: CogVideoXTransformer3DModel, path: Path) -> LoadReport:
    """Load a VOID transformer checkpoint with strict=False, logging missing/unexpected counts.

    A ``patch_embed.proj.weight`` of another input width keeps the model's weights and takes the first and
    last 128 input columns (16 channels x patch 2x2x2) from the checkpoint.
    """
    path = Path(path)
    state = read_checkpoint(path)
    if "state_dict" in state and isinstance(state["state_dict"], dict):  # pragma: no cover - torch pickles only
        state = state["state_dict"]
    expected = transformer.state_dict()
    if not set(state) & set(expected):
        raise CheckpointError(
            f"{path}: none of its {len(state)} tensors (e.g. '{next(iter(state))}') belong to the transformer"
        )
    adapted = False
    weight = state.get(PATCH_EMBED_KEY)
    model_weight = expected[PATCH_EMBED_KEY]
    if weight is not None and weight.shape != model_weight.shape:
        if weight.ndim != 2 or weight.shape[0] != model_weight.shape[0]:
            _check_shapes({PATCH_EMBED_KEY: weight}, expected, path)
        feat = LATENT_CHANNELS * _transformer_patch_size(dict(transformer.config))
        new_weight = model_weight.detach().clone()
        new_weight[:, :feat] = weight[:, :feat]
        new_weight[:, -feat:] = weight[:, -feat:]
        state[PATCH_EMBED_KEY] = new_weight
        adapted = True
        log.info(
            "%s: adapted %s from %d to %d input columns",
            path.name,
            PATCH_EMBED_KEY,
            weight.shape[1],
            model_weight.shape[1],
        )
    _check_shapes(state, expected, path)
    missing, unexpected = transformer.load_state_dict(state, strict=False)
    log.info("%s: missing keys: %d, unexpected keys: %d", path.name, len(missing), len(unexpected))
    return LoadReport(path=path, missing=len(missing), unexpected=len(unexpected), adapted_patch_embed=adapted)


def load_components(base: Path, pass1: Path, dtype: torch.dtype) -> Components:
    """Tokenizer, T5, VAE, widened transformer with `pass1` loaded, DDIM scheduler -- all on the CPU.

    A `pass1` holding the complete transformer is loaded alone (no base transformer weights read).
    """
    base = check_base_folder(Path(base))
    alone = transformer_from_checkpoint(base, Path(pass1), dtype)
    if alone is not None:
        transformer, add_noise, report = alone
    else:
        transformer, add_noise = build_transformer(base, dtype)
        report = load_void_checkpoint(transformer, pass1)
    try:
        vae = AutoencoderKLCogVideoX.from_pretrained(base, subfolder="vae", torch_dtype=dtype).eval()
        text_encoder = T5EncoderModel.from_pretrained(base / "text_encoder", dtype=dtype).eval()
        tokenizer = AutoTokenizer.from_pretrained(base / "tokenizer")
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"cannot load the base model in {base}: {exc}") from exc
    # "DDIM_Origin": plain DDIMScheduler with the folder's config (v-prediction, trailing, zero-SNR).
    scheduler = DDIMScheduler.from_config(_read_json(base / "scheduler" / "scheduler_config.json"))
    return Components(tokenizer, text_encoder, vae, transformer, scheduler, add_noise, report)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
