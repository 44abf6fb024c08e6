"""Quadmask rules, validation and files."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest

from void_engine.masks.quadmask import (
    AFFECTED,
    KEEP,
    OVERLAP,
    REMOVE,
    QuadmaskError,
    quadmask_from_mattes,
    read_matte,
    read_quadmask,
    read_quadmask_sequence,
    split_quadmask,
    validate_quadmask,
    validate_quadmask_sequence,
    write_quadmask,
    write_quadmask_sequence,
)
from void_engine.plates import FrameSequence, PlateError

from .masks_helpers import FIRST, write_exr


@pytest.mark.parametrize(
    "remove, affected, expected",
    [
        (0.0, 0.0, KEEP),
        (1.0, 0.0, REMOVE),
        (0.0, 1.0, AFFECTED),
        (1.0, 1.0, OVERLAP),
        (0.6, 0.4, REMOVE),
        (0.4, 0.6, AFFECTED),
        (0.5, 0.5, KEEP),
    ],  # threshold is strict: > 0.5
)
def test_quadmask_rules_table(remove, affected, expected):
    q = quadmask_from_mattes(np.full((2, 3), remove, np.float32), np.full((2, 3), affected, np.float32))
    assert q.dtype == np.uint8 and q.shape == (2, 3)
    assert np.all(q == expected)


def test_remove_only_matte_gives_remove_and_keep():
    rem = np.zeros((4, 4), np.float32)
    rem[1:3, 1:3] = 1.0
    q = quadmask_from_mattes(rem)
    assert set(np.unique(q)) == {REMOVE, KEEP}
    assert np.array_equal(q == REMOVE, rem > 0.5)


def test_eight_bit_mattes_are_coverage_over_255():
    rem = np.zeros((2, 2), np.uint8)
    rem[0, 0] = 200
    rem[0, 1] = 100
    q = quadmask_from_mattes(rem)
    assert q[0, 0] == REMOVE and q[0, 1] == KEEP


def test_dilation_grows_both_regions_and_split_inverts():
    rem = np.zeros((21, 21), np.float32)
    rem[10, 5] = 1.0
    aff = np.zeros((21, 21), np.float32)
    aff[10, 15] = 1.0
    q = quadmask_from_mattes(rem, aff, dilate_px=3)
    r, a = split_quadmask(q)
    assert r.sum() > 1 and a.sum() > 1
    assert r[10, 2] and r[10, 8] and not r[10, 9]  # grown by exactly 3 px
    assert a[10, 12] and a[10, 18] and not a[10, 11]


def test_mismatched_matte_sizes_are_refused():
    with pytest.raises(QuadmaskError, match="affected matte is 3x2"):
        quadmask_from_mattes(np.zeros((4, 4)), np.zeros((2, 3)))


def test_validate_snaps_within_tolerance():
    q = np.array([[2, 61, 130, 252]], np.uint8)
    assert validate_quadmask(q, 1001, (1, 4)).tolist() == [[0, 63, 127, 255]]


def test_validate_names_frame_value_and_position_of_off_level_pixels():
    q = np.full((5, 6), 255, np.uint8)
    q[3, 4] = 200
    with pytest.raises(QuadmaskError) as exc:
        validate_quadmask(q, 1007, (5, 6))
    msg = str(exc.value)
    assert "frame 1007" in msg and "value 200" in msg and "x=4, y=3" in msg and "1 pixel" in msg
    assert isinstance(exc.value, PlateError)  # the engine maps plate errors to bad_frame


def test_validate_wrong_size_names_both_sizes():
    with pytest.raises(QuadmaskError, match=r"frame 1002.*is 6x5, expected 8x4"):
        validate_quadmask(np.full((5, 6), 255, np.uint8), 1002, (4, 8))


def test_validate_rejects_nan_and_multichannel():
    with pytest.raises(QuadmaskError, match="NaN"):
        validate_quadmask(np.array([[np.nan, 255.0]]), 3)
    with pytest.raises(QuadmaskError, match="one channel"):
        validate_quadmask(np.zeros((2, 2, 3), np.uint8), 3)


def test_sequence_frame_count_mismatch_is_reported():
    masks = [np.full((2, 2), 255, np.uint8)] * 3
    with pytest.raises(QuadmaskError, match=r"3 frame\(s\) but the plate range has 4 \(1001..1004\)"):
        validate_quadmask_sequence(masks, [1001, 1002, 1003, 1004])


def test_sequence_frames_must_share_one_size():
    masks = [np.full((2, 2), 255, np.uint8), np.full((3, 2), 255, np.uint8)]
    with pytest.raises(QuadmaskError, match="frame 1002"):
        validate_quadmask_sequence(masks, [1001, 1002])


def test_exr_sequence_round_trip_stores_level_over_255(tmp_path):
    rng = np.random.default_rng(1)
    levels = np.array([REMOVE, OVERLAP, AFFECTED, KEEP], np.uint8)
    masks = [levels[rng.integers(0, 4, (12, 20))] for _ in range(3)]
    seq = FrameSequence(str(tmp_path / "q.####.exr"), (FIRST, FIRST + 1, FIRST + 2))
    paths = write_quadmask_sequence(seq, masks)
    assert [p.name for p in paths] == ["q.1001.exr", "q.1002.exr", "q.1003.exr"]
    buf = oiio.ImageBuf(str(paths[1]))
    assert buf.spec().format == oiio.HALF
    first = buf.get_pixels(oiio.FLOAT)[..., 0]
    np.testing.assert_allclose(first, masks[1] / 255.0, atol=1e-3)
    back = read_quadmask_sequence(seq, (12, 20))
    assert all(np.array_equal(a, b) for a, b in zip(masks, back))


def test_write_refuses_to_overwrite(tmp_path):
    q = np.full((2, 2), 255, np.uint8)
    write_quadmask(tmp_path / "q.exr", q)
    with pytest.raises(QuadmaskError, match="already exists"):
        write_quadmask(tmp_path / "q.exr", q)
    write_quadmask(tmp_path / "q.exr", np.zeros((2, 2), np.uint8), overwrite=True)
    assert np.all(read_quadmask(tmp_path / "q.exr") == 0)


def test_write_refuses_off_level_values(tmp_path):
    with pytest.raises(QuadmaskError, match="frame 5"):
        write_quadmask(tmp_path / "q.exr", np.full((2, 2), 100, np.uint8), frame=5)
    assert not (tmp_path / "q.exr").exists()


def test_eight_bit_image_holds_raw_levels(tmp_path):
    q = np.array([[0, 63], [127, 255]], np.uint8)
    path = tmp_path / "q.png"
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), oiio.ImageSpec(2, 2, 1, oiio.UINT8))
    out.write_image(q[..., None])
    out.close()
    assert read_quadmask(path).tolist() == q.tolist()


def test_data_window_smaller_than_display_reads_as_keep_outside(tmp_path):
    # a quadmask written with a bbox (Nuke does this): nothing stored outside = nothing touched
    inner = np.zeros((4, 5, 1), np.float32)
    path = write_exr(tmp_path / "q.exr", inner, ("Y",), data_window=(3, 2, 5, 4), display=(10, 8))
    q = read_quadmask(path)
    assert q.shape == (8, 10)
    assert np.all(q[2:6, 3:8] == REMOVE)
    assert (q == KEEP).sum() == 80 - 20


def test_read_sequence_lists_missing_frames(tmp_path):
    seq = FrameSequence(str(tmp_path / "q.####.exr"), (1001, 1002, 1003))
    write_quadmask(seq.path(1002), np.full((2, 2), 255, np.uint8))
    with pytest.raises(QuadmaskError, match=r"missing 2 frame\(s\): 1001, 1003"):
        read_quadmask_sequence(seq)


def test_read_sequence_names_file_of_bad_frame(tmp_path):
    seq = FrameSequence(str(tmp_path / "q.####.exr"), (1001, 1002))
    write_quadmask(seq.path(1001), np.full((2, 2), 255, np.uint8))
    write_exr(seq.path(1002), np.full((2, 2, 1), 0.7, np.float32), ("Y",))
    with pytest.raises(QuadmaskError, match=r"frame 1002, .*q\.1002\.exr.*value 17[89]"):
        read_quadmask_sequence(seq)


def test_read_matte_prefers_alpha_then_luminance(tmp_path):
    rgba = np.zeros((2, 2, 4), np.float32)
    rgba[..., 3] = [[1, 0], [0, 1]]
    rgba[..., :3] = 0.5
    a = read_matte(write_exr(tmp_path / "a.exr", rgba, ("R", "G", "B", "A")))
    assert a.tolist() == [[1, 0], [0, 1]]
    lum = read_matte(write_exr(tmp_path / "l.exr", rgba[..., :3], ("R", "G", "B")))
    np.testing.assert_allclose(lum, 0.5, atol=1e-3)
    with pytest.raises(QuadmaskError, match="no channel 'Z'"):
        read_matte(tmp_path / "a.exr", "Z", frame=1001)
