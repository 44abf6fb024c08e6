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
