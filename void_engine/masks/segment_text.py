"""Text-prompted segmentation with SAM3: "the glass" -> where the glass is, on the frames asked.

SAM3's image model (vision + text encoders, grounding decoder, mask head) finds every instance of
a short noun phrase in a frame; :class:`Sam3Segmenter` runs it on key frames and returns the union
of the instances it is confident about. Tracking over the range is the propagator's job (the
resident SAM2, :mod:`.propagate`): the detections become key-frame mattes, as an artist's roto would.

``sam3`` is imported only here, and only when a text job runs: importing this module is cheap. The
production model is built by sam3's own builder from its checkpoint (``sam3.pt`` of the gated hub
repo ``facebook/sam3``) and a CLIP BPE vocabulary (sam3's ``bpe_simple_vocab_16e6.txt.gz``, which
the 0.1.4 wheel does not ship). :meth:`Sam3Config.tiny` is a random-weight SAM3 composed here from
sam3's own modules at 112 px with one layer per stage — the tests' model, not useful for shots.
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from void_engine.devices import resolve_device
from void_engine.progress import CancelFn, Cancelled

# SAM3's image normalisation (its processor: mean 0.5, std 0.5 per channel) and resolution
_MEAN_STD = 0.5
PRODUCTION_RESOLUTION = 1008
TINY_RESOLUTION = 112  # 8 x 8 patches of 14 px


class TextSegmentationError(ValueError):
    """SAM3 cannot run as configured, or found nothing; the message names the text, frames, setting."""


@dataclass(frozen=True)
class Sam3Config:
    """Which SAM3 to run. ``checkpoint`` None means random weights, allowed only for tests."""

    checkpoint: Path | None = None
    bpe: Path | None = None  # the CLIP BPE vocabulary (gzip); None: sam3's packaged default
    device: str | None = None  # None: CUDA when available, else CPU
    score_threshold: float = 0.5  # on SAM3's instance score (class x presence probability)
    allow_random_weights: bool = False
    tiny_model: bool = False  # the random-weight test model (see :meth:`tiny`)

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> "Sam3Config":
        """From a config section, e.g. ``{"checkpoint": "/models/sam3/sam3.pt", "bpe": ...}``.

        Falls back to ``$VOID_SAM3_CHECKPOINT`` when the section names no checkpoint.
        """
        known = {"checkpoint", "bpe", "device", "score_threshold"}
        unknown = set(cfg) - known
        if unknown:
            raise TextSegmentationError(f"sam3 config: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        ckpt = cfg.get("checkpoint") or os.environ.get("VOID_SAM3_CHECKPOINT")
        bpe = cfg.get("bpe")
        return cls(
            checkpoint=Path(ckpt) if ckpt else None,
            bpe=Path(bpe) if bpe else None,
            device=cfg.get("device"),
            score_threshold=float(cfg.get("score_threshold", 0.5)),
        )

    @classmethod
    def tiny(cls, device: str | None = "cpu", score_threshold: float = 0.5) -> "Sam3Config":
        """The random-weight test model (seeded, so its answers repeat)."""
        return cls(device=device, score_threshold=score_threshold, allow_random_weights=True, tiny_model=True)


# The sam3 modules the text path uses (the tiny builder's and the segmenter's), imported once
# while the stand-ins are in place.
_SAM3_MODULES = (
    "sam3.model.data_misc",
    "sam3.model.decoder",
    "sam3.model.encoder",
    "sam3.model.geometry_encoders",
    "sam3.model.maskformer_segmentation",
    "sam3.model.model_misc",
    "sam3.model.necks",
    "sam3.model.position_encoding",
    "sam3.model.sam3_image",
    "sam3.model.text_encoder_ve",
    "sam3.model.tokenizer_ve",
    "sam3.model.vitdet",
    "sam3.model.vl_combiner",
)


def _import_sam3_modules() -> None:
    """Import sam3's image-model modules on this host (see ``_torchvision_stand_in``)."""
    import importlib

    from ._torchvision_stand_in import edt_without_triton, package_without_init, while_importing_sam3

    if all(name in sys.modules for name in _SAM3_MODULES):
        return
    with while_importing_sam3():
        # sam3/__init__.py imports its whole builder, video predictor included (Triton kernels);
        # the text path needs the image model's modules only
        package_without_init("sam3")
        edt_without_triton()
        for name in _SAM3_MODULES:
            importlib.import_module(name)


def _tiny_bpe(folder: Path) -> Path:
    """A small BPE merges file in sam3's format (gzip; a header line, then one merge per line):
    byte-level tokens plus a few merges, so the tiny text encoder's vocabulary is small."""
    path = folder / "tiny_bpe.txt.gz"
    if not path.exists():
        merges = ["t h", "th e</w>", "g l", "a s", "as s</w>", "c u", "l i", "m e</w>"]
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            fh.write("#version: tiny\n" + "\n".join(merges) + "\n")
        os.replace(tmp, path)
    return path


def build_tiny_sam3(device: str, bpe_folder: Path) -> Any:
    """A random-weight SAM3 image model with sam3's own modules, shrunk: ViT 2 blocks of width 64
    at 112 px, text encoder 1 layer of width 64, one encoder and one decoder layer, 16 queries."""
    import torch
    from torch import nn

    _import_sam3_modules()
    from sam3.model.decoder import TransformerDecoder, TransformerDecoderLayer
    from sam3.model.encoder import TransformerEncoderFusion, TransformerEncoderLayer
    from sam3.model.geometry_encoders import SequenceGeometryEncoder
    from sam3.model.maskformer_segmentation import PixelDecoder, UniversalSegmentationHead
    from sam3.model.model_misc import MLP, DotProductScoring, TransformerWrapper
    from sam3.model.model_misc import MultiheadAttentionWrapper as Attention
    from sam3.model.necks import Sam3DualViTDetNeck
    from sam3.model.position_encoding import PositionEmbeddingSine
    from sam3.model.sam3_image import Sam3Image
    from sam3.model.text_encoder_ve import VETextEncoder
    from sam3.model.tokenizer_ve import SimpleTokenizer
    from sam3.model.vitdet import ViT
    from sam3.model.vl_combiner import SAM3VLBackbone

    d = 256  # sam3's modules assume this width between stages
    ff = 256
    torch.manual_seed(0)

    def pos() -> Any:
        return PositionEmbeddingSine(num_pos_feats=d, normalize=True)

    vit = ViT(
        img_size=TINY_RESOLUTION,
        pretrain_img_size=TINY_RESOLUTION,
        patch_size=14,
        embed_dim=64,
        depth=2,
        num_heads=2,
        mlp_ratio=2.0,
        rel_pos_blocks=(),
        window_size=4,
        global_att_blocks=(1,),
        use_rope=True,
        use_interp_rope=True,
        retain_cls_token=False,
        ln_pre=True,
        bias_patch_embed=False,
        use_act_checkpoint=False,
    )
    neck = Sam3DualViTDetNeck(trunk=vit, position_encoding=pos(), d_model=d, scale_factors=[4.0, 2.0, 1.0, 0.5])
    tokenizer = SimpleTokenizer(bpe_path=str(_tiny_bpe(bpe_folder)))
    text = VETextEncoder(
        tokenizer=tokenizer,
        d_model=d,
        width=64,
        heads=2,
        layers=1,
        vocab_size=len(tokenizer.encoder),
        use_act_checkpoint=False,
    )
    backbone = SAM3VLBackbone(visual=neck, text=text, scalp=1)

    def attention(batch_first: bool = False) -> Any:
        return Attention(num_heads=8, dropout=0.0, embed_dim=d, batch_first=batch_first)

    encoder = TransformerEncoderFusion(
        layer=TransformerEncoderLayer(
            activation="relu",
            d_model=d,
            dim_feedforward=ff,
            dropout=0.0,
            pos_enc_at_attn=True,
            pos_enc_at_cross_attn_keys=False,
            pos_enc_at_cross_attn_queries=False,
            pre_norm=True,
            self_attention=attention(True),
            cross_attention=attention(True),
        ),
        num_layers=1,
        d_model=d,
        num_feature_levels=1,
        frozen=False,
        use_act_checkpoint=False,
        add_pooled_text_to_img_feat=False,
        pool_text_with_mask=True,
    )
    decoder = TransformerDecoder(
        layer=TransformerDecoderLayer(
            activation="relu",
            d_model=d,
            dim_feedforward=ff,
            dropout=0.0,
            cross_attention=attention(),
            n_heads=8,
            use_text_cross_attention=True,
        ),
        num_layers=1,
        num_queries=16,
        return_intermediate=True,
        box_refine=True,
        num_o2m_queries=0,
        dac=True,
        boxRPB="log",
        d_model=d,
        frozen=False,
        interaction_layer=None,
        dac_use_selfatt_ln=True,
        use_act_checkpoint=False,
        presence_token=True,
    )
    head = UniversalSegmentationHead(
        hidden_dim=d,
        upsampling_stages=3,
        aux_masks=False,
        presence_head=False,
        dot_product_scorer=None,
        act_ckpt=False,
        cross_attend_prompt=attention(),
        pixel_decoder=PixelDecoder(num_upsampling_stages=3, interpolation_mode="nearest", hidden_dim=d),
    )
    geo_layer = TransformerEncoderLayer(
        activation="relu",
        d_model=d,
        dim_feedforward=ff,
        dropout=0.0,
        pos_enc_at_attn=False,
        pre_norm=True,
        self_attention=attention(),
        pos_enc_at_cross_attn_queries=False,
        pos_enc_at_cross_attn_keys=True,
        cross_attention=attention(),
    )
    geometry = SequenceGeometryEncoder(
        pos_enc=pos(),
        encode_boxes_as_points=False,
        points_direct_project=True,
        points_pool=True,
        points_pos_enc=True,
        boxes_direct_project=True,
        # the box-pooling branch pins memory (fails on a host without an accelerator) even for the
        # text path's zero boxes; the production model has it, and it is a no-op there
        boxes_pool=False,
        boxes_pos_enc=True,
        d_model=d,
        num_layers=1,
        layer=geo_layer,
        use_act_ckpt=False,
        add_cls=True,
        add_post_encode_proj=True,
    )
    scoring = DotProductScoring(
        d_model=d,
        d_proj=d,
        prompt_mlp=MLP(
            input_dim=d, hidden_dim=ff, output_dim=d, num_layers=2, dropout=0.0, residual=True, out_norm=nn.LayerNorm(d)
        ),
    )
    model = Sam3Image(
        backbone=backbone,
        transformer=TransformerWrapper(encoder=encoder, decoder=decoder, d_model=d),
        input_geometry_encoder=geometry,
        segmentation_head=head,
        num_feature_levels=1,
        o2m_mask_predict=True,
        dot_prod_scoring=scoring,
        use_instance_query=False,
        multimask_output=True,
        inst_interactive_predictor=None,
        matcher=None,
    )
    # sam3 leaves these as torch.empty / torch.Tensor (its checkpoint fills them): with random
    # weights they would hold whatever memory held, NaN included
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.rsplit(".", 1)[-1] in ("positional_embedding", "text_projection", "level_embed"):
                nn.init.normal_(param, std=0.02)
    return model.to(device).eval()


def build_production_sam3(config: Sam3Config, device: str) -> Any:
    """sam3's own image-model builder with the configured checkpoint and vocabulary."""
    import importlib

    from ._torchvision_stand_in import while_importing_sam3

    _import_sam3_modules()
    with while_importing_sam3():
        builder = importlib.import_module("sam3.model_builder")  # lazy: sam3 is heavy
    build_sam3_image_model = builder.build_sam3_image_model

    return build_sam3_image_model(
        bpe_path=str(config.bpe) if config.bpe else None,
        device=device,
        eval_mode=True,
        checkpoint_path=str(config.checkpoint),
        load_from_HF=False,  # never download at run time: `void-engine download --with-sam3`
    )


class Sam3Segmenter:
    """A loaded SAM3 image model; :meth:`find` segments a text on frames in memory."""

    def __init__(self, model: Any, config: Sam3Config, resolution: int):
        self.model = model
        self.config = config
        self.resolution = resolution
        self.device = str(next(model.parameters()).device)
        self._lock = threading.Lock()  # one grounding at a time on the shared model

    def find(
        self,
        frames: np.ndarray,
        text: str,
        indices: Sequence[int],
        *,
        progress: Callable[[int, int], None] | None = None,
        cancel: CancelFn | None = None,
    ) -> dict[int, np.ndarray]:
        """Where ``text`` is on each of ``frames[indices]`` ((T, H, W, 3) display-referred [0, 1]):
        {index: bool (H, W)}, the union of the instances scoring above the threshold; frames where
        nothing scores are left out (an empty dict: found nowhere)."""
        import torch
        import torch.nn.functional as F

        phrase = text.strip()
        if not phrase:
            raise TextSegmentationError("the text to segment is empty (name the object, e.g. 'the glass')")
        _import_sam3_modules()
        from sam3.model.data_misc import FindStage

        arr = np.asarray(frames)
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise TextSegmentationError(f"frames must be (T, H, W, 3), got shape {arr.shape}")
        h, w = arr.shape[1:3]
        dev = torch.device(self.device)
        found: dict[int, np.ndarray] = {}
        with self._lock, torch.inference_mode():
            text_out = self.model.backbone.forward_text([phrase], device=dev)
            find_stage = FindStage(
                img_ids=torch.tensor([0], device=dev, dtype=torch.long),
                text_ids=torch.tensor([0], device=dev, dtype=torch.long),
                input_boxes=None,
                input_boxes_mask=None,
                input_boxes_label=None,
                input_points=None,
                input_points_mask=None,
            )
            for n, i in enumerate(indices):
                if cancel is not None and cancel():
                    raise Cancelled("SAM3 text segmentation cancelled")
                img = torch.from_numpy(np.clip(arr[i], 0.0, 1.0).astype(np.float32)).permute(2, 0, 1)[None]
                img = F.interpolate(
                    img, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False, antialias=True
                )
                img = ((img - _MEAN_STD) / _MEAN_STD).to(dev)
                backbone_out = self.model.backbone.forward_image(img)
                backbone_out.update(text_out)
                out = self.model.forward_grounding(
                    backbone_out=backbone_out,
                    find_input=find_stage,
                    geometric_prompt=self.model._get_dummy_prompt(),
                    find_target=None,
                )
                scores = out["pred_logits"].sigmoid() * out["presence_logit_dec"].sigmoid().unsqueeze(1)
                keep = scores.squeeze(-1)[0] > self.config.score_threshold
                if bool(keep.any()):
                    logits = out["pred_masks"][0][keep].float()  # (N, h', w')
                    up = F.interpolate(logits[None], size=(h, w), mode="bilinear", align_corners=False)[0]
                    mask = (up > 0).any(dim=0).cpu().numpy()
                    if mask.any():
                        found[int(i)] = mask
                if progress is not None:
                    progress(n + 1, len(indices))
        return found


_CACHE: dict[Sam3Config, Sam3Segmenter] = {}
_CACHE_LOCK = threading.Lock()


def sam3_import_problem() -> str | None:
    """Why ``sam3`` cannot be imported here (not installed, a run-time need missing); None when it can.

    Cheap to call often: it looks the packages up, it does not import them.
    """
    import importlib.util

    for name in ("sam3", "timm", "einops", "ftfy", "regex", "iopath", "pycocotools"):
        if importlib.util.find_spec(name) is None:
            return f"the Python package '{name}' is not installed (SAM3 text masks need sam3 and its run-time needs)"
    return None


def packaged_bpe() -> Path | None:
    """Where sam3's builder looks for its BPE vocabulary when none is given (``assets/`` beside the
    package; the 0.1.4 wheel does not ship it); None when sam3 is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("sam3")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).parent / "assets" / "bpe_simple_vocab_16e6.txt.gz"


def load_sam3(config: Sam3Config) -> Sam3Segmenter:
    """Build (once per config, then cached: the engine keeps models resident) a segmenter."""
    with _CACHE_LOCK:
        if config in _CACHE:
            return _CACHE[config]
        problem = sam3_import_problem()
        if problem:
            raise TextSegmentationError(f"sam3: {problem}")
        device = resolve_device(config.device)
        if config.tiny_model:
            if not config.allow_random_weights:
                raise TextSegmentationError("sam3: the tiny model has random weights; only tests may ask for it")
            folder = Path(tempfile.mkdtemp(prefix="void-sam3-tiny-"))
            model, resolution = build_tiny_sam3(device, folder), TINY_RESOLUTION
        else:
            if config.checkpoint is None:
                raise TextSegmentationError(
                    "sam3: no checkpoint configured (set [masks] sam3_checkpoint or $VOID_SAM3_CHECKPOINT "
                    "to sam3.pt; `void-engine download --with-sam3` fetches it)"
                )
            if not Path(config.checkpoint).is_file():
                raise TextSegmentationError(f"sam3: checkpoint not found: {config.checkpoint}")
            if config.bpe is not None and not Path(config.bpe).is_file():
                raise TextSegmentationError(f"sam3: BPE vocabulary not found: {config.bpe} ([masks] sam3_bpe)")
            model, resolution = build_production_sam3(config, device), PRODUCTION_RESOLUTION
        _CACHE[config] = seg = Sam3Segmenter(model, config, resolution)
        return seg


__all__ = [
    "PRODUCTION_RESOLUTION",
    "Sam3Config",
    "Sam3Segmenter",
    "TextSegmentationError",
    "build_tiny_sam3",
    "load_sam3",
    "packaged_bpe",
    "sam3_import_problem",
]
