"""SAM2 video propagation: a roto matte on a key frame (or a few clicks) -> a matte on every frame.

Frames come from our plates in memory (display-referred RGB in [0, 1]); SAM2's own
``init_state`` only reads a JPEG folder or an mp4, so :func:`_new_inference_state` builds the same
state from a tensor we prepare ourselves (no 8-bit JPEG round trip of the plate).

``sam2`` is imported lazily: importing it initialises hydra's global config and pulls torch.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from void_engine.devices import resolve_device
from void_engine.progress import CancelFn, Cancelled

# sam2 1.1.0 normalises frames with the ImageNet statistics (sam2.utils.misc.load_video_frames).
_IMG_MEAN = (0.485, 0.456, 0.406)
_IMG_STD = (0.229, 0.224, 0.225)

# The production model; a checkpoint from https://github.com/facebookresearch/sam2 (e.g.
# sam2.1_hiera_large.pt) must match the config.
DEFAULT_MODEL_CFG = "configs/sam2.1/sam2.1_hiera_l.yaml"

_MEM_LAYER = "++model.memory_attention.layer"
# A 17 M-parameter SAM2 (random weights) at 128 px that propagates a few frames in well under
# a second on CPU (feature maps are image_size/16):
# the tests' model. Not useful for real shots.
TINY_SAM2_OVERRIDES: tuple[str, ...] = (
    "++model.image_size=128",
    "++model.image_encoder.trunk.stages=[1,1,2,1]",
    # a global-attention block must not open a stage (SAM2's Hiera divides by zero)
    "++model.image_encoder.trunk.global_att_blocks=[3]",
    "++model.memory_attention.num_layers=1",
    f"{_MEM_LAYER}.self_attention.feat_sizes=[8,8]",
    f"{_MEM_LAYER}.cross_attention.feat_sizes=[8,8]",
    f"{_MEM_LAYER}.dim_feedforward=256",
    "++model.num_maskmem=3",
)


class PropagationError(ValueError):
    """Bad prompts, frames or configuration for propagation; the message names what."""


@dataclass(frozen=True)
class Sam2Config:
    """Which SAM2 to run. ``checkpoint`` None means random weights, allowed only for tests."""

    checkpoint: Path | None = None
    model_cfg: str = DEFAULT_MODEL_CFG
    device: str | None = None  # None: CUDA when available, else CPU
    hydra_overrides: tuple[str, ...] = ()
    allow_random_weights: bool = False
    threshold: float = 0.0  # on SAM2's mask logits

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> "Sam2Config":
        """Build from a config section, e.g. ``{"checkpoint": "/models/sam2.1_hiera_large.pt"}``.

        Falls back to ``$VOID_SAM2_CHECKPOINT`` when the section names no checkpoint.
        """
        known = {"checkpoint", "model_cfg", "device", "hydra_overrides", "threshold"}
        unknown = set(cfg) - known
        if unknown:
            raise PropagationError(f"sam2 config: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        ckpt = cfg.get("checkpoint") or os.environ.get("VOID_SAM2_CHECKPOINT")
        return cls(
            checkpoint=Path(ckpt) if ckpt else None,
            model_cfg=str(cfg.get("model_cfg", DEFAULT_MODEL_CFG)),
            device=cfg.get("device"),
            hydra_overrides=tuple(cfg.get("hydra_overrides", ())),
            threshold=float(cfg.get("threshold", 0.0)),
        )

    @classmethod
    def tiny(cls, device: str | None = "cpu") -> "Sam2Config":
        """The random-weight test model (see :data:`TINY_SAM2_OVERRIDES`)."""
        return cls(
            checkpoint=None,
            model_cfg="configs/sam2.1/sam2.1_hiera_t.yaml",
            device=device,
            hydra_overrides=TINY_SAM2_OVERRIDES,
            allow_random_weights=True,
        )


@dataclass(frozen=True)
class Prompt:
    """What the artist gave SAM2 on one frame for one object.

    ``frame_index`` is 0-based into the frames passed to :meth:`Sam2Propagator.track` (not the
    plate frame number). Either ``matte`` (coverage (H, W), > 0.5 is inside) or ``points``
    ((x, y) in pixels of the plate's display window) with ``labels`` (1 inside, 0 outside).
    """

    frame_index: int
    matte: np.ndarray | None = None
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in pixels

    def __post_init__(self) -> None:
        has_points = bool(self.points) or self.box is not None
        if (self.matte is None) == (not has_points):
            raise PropagationError(
                f"prompt on frame index {self.frame_index}: give a matte or points/box, exactly one of them"
            )
        if self.points and len(self.labels) != len(self.points):
            raise PropagationError(
                f"prompt on frame index {self.frame_index}: {len(self.points)} point(s) but {len(self.labels)} label(s)"
            )


def prepare_frames(frames: np.ndarray, image_size: int) -> tuple[Any, int, int]:
    """Frames (T, H, W, 3) display-referred [0, 1] -> (tensor (T, 3, S, S) normalised, H, W).

    What sam2's ``load_video_frames`` produces from JPEGs: squashed to S x S, ImageNet-normalised,
    float32 on CPU — here resized from float pixels, so no 8-bit quantisation of the plate.
    """
    import torch
    import torch.nn.functional as F

    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise PropagationError(f"frames must be (T, H, W, 3), got shape {arr.shape}")
    t, h, w, _ = arr.shape
    if t == 0:
        raise PropagationError("no frames to propagate over")
    mean = torch.tensor(_IMG_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(_IMG_STD, dtype=torch.float32)[:, None, None]
    out = torch.empty((t, 3, image_size, image_size), dtype=torch.float32)
    # a frame at a time: a 4K plate as one float tensor would be several GB
    for i in range(t):
        img = torch.from_numpy(np.clip(arr[i], 0.0, 1.0).astype(np.float32)).permute(2, 0, 1)
        img = F.interpolate(
            img[None], size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
        )[0]
        out[i] = (img - mean) / std
    return out, h, w


def _new_inference_state(predictor: Any, images: Any, height: int, width: int) -> dict:
    """The dict ``SAM2VideoPredictor.init_state`` builds (sam2 1.1.0), from prepared frames.

    Frames stay on the CPU and move to the model's device one at a time (SAM2's
    ``offload_video_to_cpu``), so a long shot does not fill GPU memory.
    """
    import torch

    device = predictor.device
    state: dict[str, Any] = {
        "images": images,
        "num_frames": len(images),
        "offload_video_to_cpu": True,
        "offload_state_to_cpu": False,
        "video_height": height,
        "video_width": width,
        "device": device,
        "storage_device": device,
        "point_inputs_per_obj": {},
        "mask_inputs_per_obj": {},
        "cached_features": {},
        "constants": {},
        "obj_id_to_idx": OrderedDict(),
        "obj_idx_to_id": OrderedDict(),
        "obj_ids": [],
        "output_dict_per_obj": {},
        "temp_output_dict_per_obj": {},
        "frames_tracked_per_obj": {},
    }
    with torch.inference_mode():
        predictor._get_image_feature(state, frame_idx=0, batch_size=1)  # warm-up, as init_state
    return state


class Sam2Propagator:
    """A loaded SAM2 video predictor; :meth:`track` runs one propagation over frames in memory."""

    def __init__(self, predictor: Any, config: Sam2Config):
        self.predictor = predictor
        self.config = config
        self.device = str(predictor.device)
        self._lock = threading.Lock()  # the predictor's caches are not safe to share mid-run

    @property
    def image_size(self) -> int:
        return int(self.predictor.image_size)

    def track(
        self,
        frames: np.ndarray,
        objects: Mapping[Any, Sequence[Prompt]],
        *,
        progress: Callable[[int, int], None] | None = None,
        cancel: CancelFn | None = None,
    ) -> dict[Any, np.ndarray]:
        """Propagate each object's prompts over all frames: {object key: bool (T, H, W)}.

        Tracks forward from each object's earliest prompted frame to the end, then backward from
        its latest prompted frame to the start, so every frame gets a mask whichever frame the
        roto is on. ``progress(done, total)`` is called per frame processed; ``cancel()`` is
        checked between frames and raises :class:`Cancelled`.
        """
        import torch

        if not objects:
            raise PropagationError("nothing to track: no objects with prompts")
        images, h, w = prepare_frames(frames, self.image_size)
        t = images.shape[0]
        for key, prompts in objects.items():
            if not prompts:
                raise PropagationError(f"object {key!r}: no prompts")
            for p in prompts:
                if not 0 <= p.frame_index < t:
                    raise PropagationError(
                        f"object {key!r}: prompt on frame index {p.frame_index}, but there are only {t} frames"
                    )
                if p.matte is not None and np.shape(p.matte)[:2] != (h, w):
                    raise PropagationError(
                        f"object {key!r}: matte on frame index {p.frame_index} is "
                        f"{np.shape(p.matte)[1]}x{np.shape(p.matte)[0]}, frames are {w}x{h}"
                    )

        keys = list(objects)
        out = {k: np.zeros((t, h, w), dtype=bool) for k in keys}
        filled = np.zeros(t, dtype=bool)
        prompted = [p.frame_index for ps in objects.values() for p in ps]
        # frames visited: forward from the earliest prompt, backward from the latest (sam2 skips
        # the backward pass when that is frame 0)
        total = (t - min(prompted)) + (max(prompted) + 1 if max(prompted) > 0 else 0)
        done = 0
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.device.startswith("cuda") else nullcontext()
        with self._lock, torch.inference_mode(), autocast:
            pred = self.predictor
            state = _new_inference_state(pred, images, h, w)
            for obj_id, key in enumerate(keys):
                for p in objects[key]:
                    if p.matte is not None:
                        pred.add_new_mask(state, p.frame_index, obj_id, torch.from_numpy(np.asarray(p.matte) > 0.5))
                    else:
                        pts = np.asarray(p.points, dtype=np.float32).reshape(-1, 2)
                        pred.add_new_points_or_box(
                            state,
                            p.frame_index,
                            obj_id,
                            points=pts if len(pts) else None,
                            labels=np.asarray(p.labels, dtype=np.int32) if len(pts) else None,
                            box=np.asarray(p.box, dtype=np.float32) if p.box else None,
                            normalize_coords=True,
                        )
            for reverse in (False, True):
                for frame_idx, obj_ids, logits in pred.propagate_in_video(state, reverse=reverse):
                    if cancel is not None and cancel():
                        raise Cancelled("SAM2 propagation cancelled")
                    # forward results win where both passes reached a frame
                    if not (reverse and filled[frame_idx]):
                        masks = (logits[:, 0] > self.config.threshold).cpu().numpy()
                        for i, oid in enumerate(obj_ids):
                            out[keys[oid]][frame_idx] = masks[i]
                        filled[frame_idx] = True
                    done += 1
                    if progress is not None:
                        progress(done, total)
        if not filled.all():  # cannot happen with both passes; a guard against sam2 changes
            raise PropagationError(f"SAM2 left {int((~filled).sum())} frame(s) without a mask")
        # On a frame the artist rotoscoped, the roto is the truth (SAM2 returns it re-sampled
        # through its low-res mask grid).
        for key in keys:
            for p in objects[key]:
                if p.matte is not None:
                    out[key][p.frame_index] = np.asarray(p.matte) > 0.5
        return out

    def propagate_matte(
        self,
        frames: np.ndarray,
        keys: Sequence[Prompt],
        **kwargs: Any,
    ) -> np.ndarray:
        """One object (the remove matte) from its key-frame prompts: bool (T, H, W)."""
        return self.track(frames, {"remove": list(keys)}, **kwargs)["remove"]


def _float_memory_on_cpu(predictor: Any) -> None:
    """sam2 stores its frame memories as bfloat16 (for CUDA autocast); without autocast, on CPU,
    memory attention would then multiply bfloat16 by float32 weights and fail. Cast its inputs
    back to the weights' dtype."""
    import torch

    def cast(_module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        def f(x: Any) -> Any:
            return x.float() if isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16 else x

        return tuple(f(a) for a in args), {k: f(v) for k, v in kwargs.items()}

    predictor.memory_attention.register_forward_pre_hook(cast, with_kwargs=True)


_CACHE: dict[Sam2Config, Sam2Propagator] = {}
_CACHE_LOCK = threading.Lock()


def load_sam2(config: Sam2Config) -> Sam2Propagator:
    """Build (once per config, then cached: the engine keeps models resident) a propagator."""
    with _CACHE_LOCK:
        if config in _CACHE:
            return _CACHE[config]
        if config.checkpoint is None and not config.allow_random_weights:
            raise PropagationError(
                "sam2: no checkpoint configured (set masks.sam2.checkpoint or "
                "$VOID_SAM2_CHECKPOINT to e.g. sam2.1_hiera_large.pt)"
            )
        if config.checkpoint is not None and not Path(config.checkpoint).is_file():
            raise PropagationError(f"sam2: checkpoint not found: {config.checkpoint}")
        device = resolve_device(config.device)
        from sam2.build_sam import build_sam2_video_predictor  # lazy: initialises hydra

        predictor = build_sam2_video_predictor(
            config.model_cfg,
            ckpt_path=str(config.checkpoint) if config.checkpoint else None,
            device=device,
            hydra_overrides_extra=list(config.hydra_overrides),
            # the hole-filling post-process needs sam2's CUDA extension
            apply_postprocessing=device.startswith("cuda"),
            vos_optimized=False,  # compiles for a minute; not worth it per job
        )
        if not device.startswith("cuda"):
            _float_memory_on_cpu(predictor)
        _CACHE[config] = prop = Sam2Propagator(predictor, config)
        return prop


def propagate_roto(
    frames: np.ndarray,
    key_mattes: Mapping[int, np.ndarray],
    config: Sam2Config,
    **kwargs: Any,
) -> np.ndarray:
    """Propagate roto mattes given on key frames (0-based index -> coverage (H, W)) over all
    frames; returns coverage float32 (T, H, W) in {0, 1}."""
    if not key_mattes:
        raise PropagationError("no key-frame roto to propagate")
    prop = load_sam2(config)
    prompts = [Prompt(frame_index=i, matte=np.asarray(m)) for i, m in sorted(key_mattes.items())]
    return prop.propagate_matte(frames, prompts, **kwargs).astype(np.float32)


__all__ = [
    "Cancelled",
    "DEFAULT_MODEL_CFG",
    "PropagationError",
    "Prompt",
    "Sam2Config",
    "Sam2Propagator",
    "TINY_SAM2_OVERRIDES",
    "load_sam2",
    "prepare_frames",
    "propagate_roto",
    "resolve_device",
]
