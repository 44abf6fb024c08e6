"""A minimal stand-in for the few ``torchvision`` names SAM3's text path imports, for hosts without it.

Why this exists: ``sam3`` (0.1.4) and ``timm`` import torchvision at module level, but the registry's
torchvision wheels link CUDA torch and do not import beside this project's CPU torch
(``operator torchvision::nms does not exist``; see DEPENDENCIES.md). The text path (image encoder,
text encoder, grounding decoder, mask head) calls none of torchvision's compiled operators: the
names are imported for box prompts, instance interactivity and the image loaders, which this engine
never uses. :func:`install` registers this stand-in only when the real torchvision cannot be
imported, and only the names listed below; anything the text path would need beyond them raises
:class:`NotImplementedError` naming it, rather than computing something else.

The stand-in is registered only *while* sam3's modules are imported (:func:`while_importing_sam3`):
they bind the names they use at import time, and afterwards ``torchvision`` is absent again, so
libraries that probe for it (transformers, diffusers: the VOID pipeline in the same engine) see
this host as it is.

Where torchvision imports (a CUDA host with matching wheels), the real one is used and this module
does nothing.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_MISSING = (
    "torchvision is not importable here; void_engine's stand-in does not provide {name} "
    "(the SAM3 text path does not use it)"
)


def _unavailable(name: str) -> Any:
    def call(*_args: Any, **_kwargs: Any) -> Any:
        raise NotImplementedError(_MISSING.format(name=name))

    call.__name__ = name.rsplit(".", 1)[-1]
    return call


def _unavailable_class(name: str) -> type:
    def init(self: Any, *_args: Any, **_kwargs: Any) -> None:
        raise NotImplementedError(_MISSING.format(name=name))

    return type(name.rsplit(".", 1)[-1], (), {"__init__": init})


def masks_to_boxes(masks: Any) -> Any:
    """(N, H, W) bool/0-1 masks -> (N, 4) float boxes x0, y0, x1, y1 (torchvision's definition:
    inclusive pixel coordinates of the outermost set pixels; an empty mask gives zeros)."""
    import torch

    if masks.numel() == 0:
        return torch.zeros((0, 4), device=masks.device, dtype=torch.float)
    n, h, w = masks.shape
    on = masks != 0
    ys = torch.arange(h, device=masks.device, dtype=torch.float)[None, :, None].expand(n, h, w)
    xs = torch.arange(w, device=masks.device, dtype=torch.float)[None, None, :].expand(n, h, w)
    big = float(max(h, w))
    x0 = torch.where(on, xs, big).flatten(1).min(1).values
    y0 = torch.where(on, ys, big).flatten(1).min(1).values
    x1 = torch.where(on, xs, -1.0).flatten(1).max(1).values
    y1 = torch.where(on, ys, -1.0).flatten(1).max(1).values
    boxes = torch.stack([x0, y0, x1, y1], dim=1)
    empty = ~on.flatten(1).any(1)
    boxes[empty] = 0.0
    return boxes


def _roi_align_of_no_boxes(features: Any, boxes: Any, output_size: Any, *args: Any, **kwargs: Any) -> Any:
    """torchvision's roi_align for the one case the text path reaches: SAM3's geometry encoder
    pools its prompt boxes, and a text prompt has none. Any box raises."""
    import torch

    per_image = boxes if isinstance(boxes, (list, tuple)) else [boxes]
    if any(b.numel() for b in per_image):
        raise NotImplementedError(_MISSING.format(name="torchvision.ops.roi_align over boxes"))
    k = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    return torch.zeros((0, features.shape[1], *k), dtype=features.dtype, device=features.device)


def _real_torchvision_imports() -> bool:
    try:
        importlib.import_module("torchvision")
    except Exception:  # ImportError, or the RuntimeError of a wheel built against another torch
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]  # a half-imported package must not shadow the stand-in
        return False
    return True


@contextmanager
def while_importing_sam3() -> Iterator[bool]:
    """Within the block, ``import torchvision`` (stand-in), ``import timm.layers`` (without timm's
    model zoo) and sam3's Triton module work; on leaving, the stand-in torchvision and the hollow
    ``timm`` package are taken out of ``sys.modules`` again (the modules imported meanwhile keep
    what they bound). Yields whether the stand-in was used (False: the real torchvision imports)."""
    installed = install()
    try:
        yield installed
    finally:
        if installed:
            uninstall()


def uninstall() -> None:
    """Take the stand-in torchvision and the hollow ``timm`` package out of ``sys.modules``."""
    for name in list(sys.modules):
        top = name.split(".", 1)[0]
        if top in ("torchvision", "timm") and getattr(sys.modules[name], "__void_engine_stand_in__", False):
            del sys.modules[name]


def install() -> bool:
    """Make ``import torchvision`` work for sam3/timm; True when the stand-in was installed.

    Idempotent. Does nothing when the real torchvision imports. Prefer :func:`while_importing_sam3`.
    """
    existing = sys.modules.get("torchvision")
    if existing is not None:
        return bool(getattr(existing, "__void_engine_stand_in__", False))
    if _real_torchvision_imports():
        return False

    def module(name: str, **attrs: Any) -> types.ModuleType:
        mod = types.ModuleType(name, "void_engine stand-in for " + name)
        # a spec, so importlib.util.find_spec("torchvision") answers instead of raising ValueError
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
        mod.__dict__.update(attrs)
        mod.__dict__["__void_engine_stand_in__"] = True
        sys.modules[name] = mod
        return mod

    roi_align = _roi_align_of_no_boxes
    roi_mod = module("torchvision.ops.roi_align", roi_align=roi_align, RoIAlign=_unavailable_class("RoIAlign"))
    misc = module("torchvision.ops.misc", FrozenBatchNorm2d=_unavailable_class("FrozenBatchNorm2d"))
    ops = module(
        "torchvision.ops",
        roi_align=roi_align,
        RoIAlign=roi_mod.RoIAlign,
        masks_to_boxes=masks_to_boxes,
        nms=_unavailable("torchvision.ops.nms"),
        misc=misc,
    )
    functional = module(
        "torchvision.transforms.functional",
        resize=_unavailable("torchvision.transforms.functional.resize"),
        to_tensor=_unavailable("torchvision.transforms.functional.to_tensor"),
    )
    v2 = module("torchvision.transforms.v2")
    transforms = module(
        "torchvision.transforms",
        functional=functional,
        v2=v2,
        Normalize=_unavailable_class("Normalize"),
        Resize=_unavailable_class("Resize"),
        ToTensor=_unavailable_class("ToTensor"),
    )
    # a base class of sam3's training dataset, which sam3_image imports for a type annotation
    vision = module("torchvision.datasets.vision", VisionDataset=_unavailable_class("VisionDataset"))
    datasets = module("torchvision.datasets", vision=vision)
    module("torchvision", ops=ops, transforms=transforms, datasets=datasets, __version__="0+void_engine_stand_in")
    _timm_layers_only()
    return True


def _timm_layers_only() -> None:
    """Let ``import timm.layers`` (the only part of timm sam3 imports: DropPath, Mlp,
    trunc_normal_) run without ``timm/__init__.py``, which imports timm's whole model zoo and data
    pipeline and with them torchvision's datasets and transforms."""
    package_without_init("timm")


def package_without_init(name: str) -> None:
    """Register package ``name`` with its real folder as its path but without running its
    ``__init__.py``, so ``import name.sub`` loads the package's own submodules and nothing its
    ``__init__`` would have pulled in. Does nothing when the package is already imported or not
    installed (the import that follows then names it)."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)  # finds, does not execute
    if spec is None or not spec.submodule_search_locations:
        return
    pkg = types.ModuleType(name, f"{name}, without its __init__ (void_engine: see _torchvision_stand_in)")
    pkg.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    pkg.__spec__.submodule_search_locations = list(spec.submodule_search_locations)
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__dict__["__void_engine_stand_in__"] = True
    sys.modules[name] = pkg


def edt_without_triton() -> None:
    """``sam3.model.edt`` compiles a Triton kernel at import (``import triton``; CUDA hosts only),
    and ``sam3_image`` imports it through the tracker's utilities. Its one function, a distance
    transform for sampling corrective clicks in training, is not on the text path; on a host
    without Triton the module is registered as a stand-in whose function raises."""
    if "sam3.model.edt" in sys.modules or importlib.util.find_spec("triton") is not None:
        return
    mod = types.ModuleType("sam3.model.edt", "void_engine stand-in: Triton is not installed")
    mod.__spec__ = importlib.machinery.ModuleSpec("sam3.model.edt", None)
    mod.__dict__["edt_triton"] = _unavailable("sam3.model.edt.edt_triton (needs Triton)")
    mod.__dict__["__void_engine_stand_in__"] = True
    sys.modules["sam3.model.edt"] = mod
