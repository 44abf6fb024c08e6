"""The stand-in for the few torchvision names SAM3's text path imports (torchvision does not
import beside this project's CPU torch): what it computes is torchvision's definition, and what it
does not provide says so instead of computing something else."""

from __future__ import annotations

import pytest
import torch

from void_engine.masks import _torchvision_stand_in as stand_in


def test_masks_to_boxes_gives_inclusive_pixel_bounds_and_zeros_for_an_empty_mask():
    masks = torch.zeros((2, 6, 8), dtype=torch.bool)
    masks[0, 1:4, 2:7] = True  # rows 1..3, columns 2..6
    boxes = stand_in.masks_to_boxes(masks)
    assert boxes.tolist() == [[2.0, 1.0, 6.0, 3.0], [0.0, 0.0, 0.0, 0.0]]


def test_roi_align_answers_for_no_boxes_and_refuses_real_ones():
    feats = torch.zeros((1, 5, 4, 4))
    out = stand_in._roi_align_of_no_boxes(feats, [torch.zeros((0, 4))], 7)
    assert out.shape == (0, 5, 7, 7)
    with pytest.raises(NotImplementedError, match="roi_align over boxes"):
        stand_in._roi_align_of_no_boxes(feats, [torch.tensor([[0.0, 0.0, 2.0, 2.0]])], 7)


def test_unprovided_names_raise_naming_themselves():
    with pytest.raises(NotImplementedError, match="FrozenBatchNorm2d"):
        stand_in._unavailable_class("FrozenBatchNorm2d")()


def test_after_sam3_loads_the_stand_in_is_gone_so_the_void_pipeline_still_imports():
    """The engine runs SAM3 and the VOID pipeline in one process: once the tiny SAM3 is built,
    torchvision is as absent as before (transformers/diffusers probe for it) and diffusers' VAE
    still imports."""
    import subprocess
    import sys

    code = (
        "import importlib.util, sys, torch\n"
        "torch.set_num_threads(1)\n"
        "real = importlib.util.find_spec('torchvision') is not None\n"
        "from void_engine.masks.segment_text import Sam3Config, load_sam3\n"
        "load_sam3(Sam3Config.tiny())\n"
        "assert (importlib.util.find_spec('torchvision') is not None) == real\n"
        "assert not any(getattr(m, '__void_engine_stand_in__', False) for n, m in list(sys.modules.items())"
        " if n.split('.')[0] in ('torchvision', 'timm'))\n"
        "from diffusers import AutoencoderKLCogVideoX\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
