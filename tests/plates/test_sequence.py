from pathlib import Path

import pytest

from void_engine.plates import FrameRangeError, FrameSequence, MissingFramesError, compress_frames, parse_frames


@pytest.mark.parametrize(
    "text, frames",
    [
        ("1001-1005", [1001, 1002, 1003, 1004, 1005]),
        ("1001", [1001]),
        ("1,3,5-7", [1, 3, 5, 6, 7]),
        ("1001-1009x4", [1001, 1005, 1009]),
        (" 1-2, 3 ", [1, 2, 3]),
    ],
)
def test_parse_frames_reads_ranges_lists_and_steps(text, frames):
    assert parse_frames(text) == frames


def test_parse_frames_refuses_a_frame_named_twice_naming_it():
    # It used to drop the second 2 silently; the one grammar (bridge.sequences) refuses it.
    with pytest.raises(FrameRangeError, match="frame 2 twice"):
        parse_frames(" 1-2, 2-3 ")


@pytest.mark.parametrize("text", ["", "abc", "1005-1001", "1-", "1-5x0", "1..5"])
def test_parse_frames_rejects_malformed_ranges_by_quoting_them(text):
    with pytest.raises(FrameRangeError) as err:
        parse_frames(text)
    assert (repr(text.strip()) in str(err.value)) or "empty" in str(err.value) or text in str(err.value)


@pytest.mark.parametrize("pattern", ["s.####.exr", "s.%04d.exr", "s.$F4.exr", "s.@@@@.exr"])
def test_every_padding_style_names_the_same_file(pattern):
    seq = FrameSequence.parse(pattern, "1001,7")
    assert seq.path(1001) == Path("s.1001.exr")
    assert seq.path(7) == Path("s.0007.exr")


def test_unpadded_and_negative_frames():
    assert FrameSequence.parse("s.%d.exr", [7]).path(7) == Path("s.7.exr")
    assert FrameSequence.parse("s.$F.exr", [12]).path(12) == Path("s.12.exr")
    assert FrameSequence.parse("s.####.exr", [-5]).path(-5) == Path("s.-005.exr")


@pytest.mark.parametrize("pattern", ["s.exr", "s.####.####.exr"])
def test_pattern_needs_exactly_one_frame_token(pattern):
    with pytest.raises(FrameRangeError, match="exactly one frame token"):
        FrameSequence.parse(pattern, "1")


def test_missing_frames_are_named_as_ranges(tmp_path):
    for f in (1001, 1002, 1006):
        (tmp_path / f"p.{f}.exr").write_bytes(b"x")
    seq = FrameSequence.parse(tmp_path / "p.####.exr", "1001-1006")
    with pytest.raises(MissingFramesError) as err:
        seq.require_complete()
    assert err.value.missing == [1003, 1004, 1005]
    assert "1003-1005" in str(err.value) and "p.1003.exr" in str(err.value)


def test_compress_frames():
    assert compress_frames([5, 1, 2, 3, 9]) == "1-3,5,9"
