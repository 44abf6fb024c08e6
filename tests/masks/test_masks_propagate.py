"""SAM2 propagation with a tiny random SAM2 (its outlines are meaningless; the plumbing is not)."""

from __future__ import annotations

import numpy as np
import pytest

from void_engine.masks.propagate import (
    Cancelled,
    Prompt,
    PropagationError,
    Sam2Config,
    load_sam2,
    prepare_frames,
    propagate_roto,
)

from .masks_helpers import square_masks

T, H, W = 8, 48, 80

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny():
    return load_sam2(Sam2Config.tiny())


@pytest.fixture(scope="module")
def moving_square():
    masks = square_masks(T, H, W)
    frames = np.full((T, H, W, 3), 0.2, np.float32)
    frames[masks] = (0.9, 0.4, 0.1)
    return frames, masks


def test_prepare_frames_matches_sam2_normalisation():
    frames = np.zeros((2, 10, 20, 3), np.float32)
    frames[1] = 1.0
    images, h, w = prepare_frames(frames, 32)
    assert tuple(images.shape) == (2, 3, 32, 32) and (h, w) == (10, 20)
    # black -> -mean/std, white -> (1-mean)/std, per channel (ImageNet statistics)
    np.testing.assert_allclose(images[0, :, 5, 5].numpy(), [-2.1179, -2.0357, -1.8044], atol=1e-3)
    np.testing.assert_allclose(images[1, :, 5, 5].numpy(), [2.2489, 2.4286, 2.64], atol=1e-3)


def test_tiny_model_is_cached_and_on_cpu(tiny):
    assert load_sam2(Sam2Config.tiny()) is tiny
    assert tiny.device == "cpu" and tiny.image_size == 128


def test_propagation_from_middle_key_frame_covers_every_frame(tiny, moving_square):
    frames, masks = moving_square
    seen = []
    out = tiny.propagate_matte(
        frames, [Prompt(3, matte=masks[3].astype(np.float32))], progress=lambda d, t: seen.append((d, t))
    )
    assert out.shape == (T, H, W) and out.dtype == bool
    # the artist's roto is kept exactly on its own frame
    assert np.array_equal(out[3], masks[3])
    # forward 3..7 (5 frames) then backward 3..0 (4 frames)
    assert [d for d, _ in seen] == list(range(1, 10)) and seen[-1][1] == 9


def test_propagate_roto_returns_float_coverage_for_all_frames(moving_square):
    frames, masks = moving_square
    out = propagate_roto(frames, {0: masks[0].astype(np.float32), T - 1: masks[T - 1]}, Sam2Config.tiny())
    assert out.shape == (T, H, W) and out.dtype == np.float32
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert np.array_equal(out[0] > 0.5, masks[0]) and np.array_equal(out[T - 1] > 0.5, masks[T - 1])


def test_click_points_track_several_objects(tiny, moving_square):
    frames, _ = moving_square
    out = tiny.track(
        frames,
        {
            "square": [Prompt(0, points=((16.0, 24.0),), labels=(1,))],
            "ground": [Prompt(2, points=((70.0, 5.0), (5.0, 40.0)), labels=(1, 0))],
        },
    )
    assert set(out) == {"square", "ground"}
    assert all(m.shape == (T, H, W) for m in out.values())


def test_cancel_stops_between_frames(tiny, moving_square):
    frames, masks = moving_square
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) >= 2

    with pytest.raises(Cancelled):
        tiny.propagate_matte(frames, [Prompt(0, matte=masks[0])], cancel=cancel)
    assert len(calls) == 2


def test_bad_prompts_are_named(tiny, moving_square):
    frames, masks = moving_square
    with pytest.raises(PropagationError, match="frame index 9, but there are only 8"):
        tiny.propagate_matte(frames, [Prompt(9, matte=masks[0])])
    with pytest.raises(PropagationError, match="is 40x10, frames are 80x48"):
        tiny.propagate_matte(frames, [Prompt(1, matte=np.ones((10, 40)))])
    with pytest.raises(PropagationError, match="exactly one"):
        Prompt(0)
    with pytest.raises(PropagationError, match="2 point"):
        Prompt(0, points=((1, 1), (2, 2)), labels=(1,))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(PropagationError, match="no checkpoint configured"):
        load_sam2(Sam2Config(checkpoint=None))
    with pytest.raises(PropagationError, match="checkpoint not found"):
        load_sam2(Sam2Config(checkpoint=tmp_path / "nope.pt"))


def test_config_from_mapping(monkeypatch, tmp_path):
    monkeypatch.setenv("VOID_SAM2_CHECKPOINT", str(tmp_path / "s.pt"))
    cfg = Sam2Config.from_mapping({"device": "cpu"})
    assert cfg.checkpoint == tmp_path / "s.pt" and cfg.device == "cpu"
    with pytest.raises(PropagationError, match="unknown field"):
        Sam2Config.from_mapping({"ckpt": "x"})
