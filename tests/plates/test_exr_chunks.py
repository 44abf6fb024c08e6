"""The write path that re-encodes only the chunks a composite changes (void_engine.plates.exr_chunks)."""

import numpy as np
import pytest

import void_engine.plates.shot as shot_module
from void_engine.levels import KEEP, REMOVE
from void_engine.plates import CorruptPlateError, FrameSequence, Shot, ShotSettings
from void_engine.plates.exr_chunks import open_scanline_exr

from .exr_factory import make_shot, read_raw, write_exr

FRAMES = range(1001, 1003)
SIZE = (160, 96)  # (H, W): ten 16-line ZIP chunks
SETTINGS = ShotSettings(model_size=(32, 56), context_min_px=8, dilate_px=2, feather_px=3)
BOX = (70, 80, 30, 60)  # y0, y1, x0, x1: the matte crosses rows 65..85, chunks 4 and 5


def _bits(a):
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


def _shot(folder, compression="zip"):
    pattern = make_shot(folder / "src", FRAMES, size=SIZE)
    if compression != "zip":  # the same pixels again, with another compression
        for f in FRAMES:
            path = folder / "src" / f"plate.{f:04d}.exr"
            px, spec = read_raw(path)
            write_exr(path, px, tuple(spec.channelnames), ("half",) * 5 + ("float",), compression=compression)
    seq = FrameSequence.parse(pattern, "1001-1002")
    masks = []
    for _ in FRAMES:
        q = np.full(SIZE, KEEP, np.uint8)
        q[BOX[0] : BOX[1], BOX[2] : BOX[3]] = REMOVE
        masks.append(q)
    return seq, Shot.load(seq, masks, SETTINGS)


def _chunks(path):
    """Each chunk's stored bytes, by its first row."""
    raw = open_scanline_exr(path)
    assert raw is not None
    return {raw.y + i * raw.lines_per_chunk: raw._data[s : s + n] for i, (s, n) in enumerate(raw._chunks)}


@pytest.mark.parametrize("compression", ["zip", "zips", "none"])
def test_rewritten_chunks_give_the_same_pixels_as_the_whole_image_write(tmp_path, monkeypatch, compression):
    seq, shot = _shot(tmp_path, compression)
    assert open_scanline_exr(seq.path(1001)) is not None
    model = np.clip(shot.model_video[..., ::-1] * 0.7 + 0.2, 0, 1).astype(np.float32)
    chunked = shot.write_result(model, tmp_path / "chunked", "out")
    monkeypatch.setattr(shot_module, "open_scanline_exr", lambda path: None)
    whole = shot.write_result(model, tmp_path / "whole", "out")
    for f in FRAMES:
        a, sa = read_raw(chunked.path(f))
        b, sb = read_raw(whole.path(f))
        assert tuple(sa.channelnames) == tuple(sb.channelnames)
        assert sa.channelformats == sb.channelformats and sa.getattribute("compression") == compression
        assert np.array_equal(_bits(a), _bits(b)), f"frame {f} differs from the whole-image write"
        assert (_bits(a) != _bits(read_raw(seq.path(f))[0])).any(), "nothing was composited"


def test_chunks_the_matte_does_not_cross_are_copied_byte_for_byte(tmp_path):
    seq, shot = _shot(tmp_path)
    out = shot.write_result(np.full_like(shot.model_video, 0.5), tmp_path / "out", "out")
    source, result = _chunks(seq.path(1001)), _chunks(out.path(1001))
    assert source.keys() == result.keys()
    changed = sorted(y for y in source if source[y] != result[y])
    assert changed == [64, 80], changed


def test_provenance_is_added_and_the_plate_header_kept(tmp_path):
    seq, shot = _shot(tmp_path)
    out = shot.write_result(np.full_like(shot.model_video, 0.5), tmp_path / "out", "out", {"job": "j1"})
    _, spec = read_raw(out.path(1001))
    assert spec.getattribute("studio:shot") == "sh010"
    assert spec.getattribute("void:job") == "j1"
    assert spec.getattribute("void:source") == seq.pattern


def test_a_damaged_chunk_outside_the_roi_is_an_error_naming_the_file(tmp_path):
    seq, shot = _shot(tmp_path)
    path = seq.path(1002)
    raw = open_scanline_exr(path)
    assert raw is not None
    start, size = raw._chunks[-1]  # the last rows, below the region of interest
    assert shot.roi.y_end <= raw.y + (len(raw._chunks) - 1) * raw.lines_per_chunk
    data = bytearray(path.read_bytes())
    data[start + size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptPlateError, match="plate.1002.exr"):
        shot.write_result(np.full_like(shot.model_video, 0.5), tmp_path / "out", "out")


@pytest.mark.parametrize("compression", ["piz", "rle"])
def test_other_compressions_take_the_whole_image_path(tmp_path, compression):
    seq, shot = _shot(tmp_path, compression)
    assert open_scanline_exr(seq.path(1001)) is None
    out = shot.write_result(np.full_like(shot.model_video, 0.5), tmp_path / "out", "out")
    _, spec = read_raw(out.path(1001))
    assert spec.getattribute("compression") == compression
