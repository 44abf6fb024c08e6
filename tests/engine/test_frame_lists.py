"""The one frame-list grammar (bridge.sequences.parse_frame_list) and the callers that use it."""

from __future__ import annotations

import re

import pytest

from bridge import protocol
from bridge.sequences import MAX_LISTED_FRAMES, parse_frame_list
from void_engine.plates import FrameRangeError, FrameSequence, parse_frames


@pytest.mark.parametrize(
    "text, frames",
    [
        ("1001", [1001]),
        ("1001-1004", [1001, 1002, 1003, 1004]),
        ("1,3,5-7", [1, 3, 5, 6, 7]),
        ("1001-1009x4", [1001, 1005, 1009]),
        ("1001-1010x4", [1001, 1005, 1009]),  # the step need not land on the last frame
        ("1001-1001x5", [1001]),
        ("1-9x2,2-10x2", list(range(1, 11))),  # interleaved steps name every frame once
        ("-3--1,0", [-3, -2, -1, 0]),
        (" 1001 - 1003 , 1005 ", [1001, 1002, 1003, 1005]),
        ("1001 - 1009 x 4", [1001, 1005, 1009]),
        ("1,,3,", [1, 3]),  # empty parts are skipped
        ("1040,1001", [1001, 1040]),  # ascending, whatever the order written
    ],
)
def test_frame_list_grammar_reads_frames_ranges_and_steps(text, frames):
    assert parse_frame_list(text) == frames


@pytest.mark.parametrize(
    "text, frame",
    [("1,1", 1), ("1001-1005,1003", 1003), ("1-9x2,4-6", 5), ("1-3, 3-5", 3)],
)
def test_a_frame_named_twice_is_an_error_naming_the_frame(text, frame):
    with pytest.raises(ValueError, match=f"names frame {frame} twice"):
        parse_frame_list(text)


@pytest.mark.parametrize(
    "text, part",
    [
        ("1 2", "'1 2'"),
        ("1-", "'1-'"),
        ("a-b", "'a-b'"),
        ("1..5", "'1..5'"),
        ("1-5x", "'1-5x'"),
        ("1x2", "'1x2'"),
        ("1001-1096x2x2", "'1001-1096x2x2'"),
        ("10-1", "'10-1'"),
        ("1-5x0", "'1-5x0'"),
    ],
)
def test_a_part_that_cannot_be_read_is_quoted(text, part):
    with pytest.raises(ValueError) as err:
        parse_frame_list(text)
    assert part in str(err.value)


@pytest.mark.parametrize("text", ["", "   ", ",", " , "])
def test_a_list_that_names_no_frames_is_refused(text):
    with pytest.raises(ValueError, match="names no frames"):
        parse_frame_list(text)


def test_a_list_longer_than_the_cap_is_refused_before_it_is_built():
    with pytest.raises(ValueError, match=f"more than {MAX_LISTED_FRAMES} frames"):
        parse_frame_list(f"1-{MAX_LISTED_FRAMES + 1}")
    assert len(parse_frame_list(f"1-{MAX_LISTED_FRAMES}x2")) == MAX_LISTED_FRAMES // 2


AGREEMENT = ["1001-1004", "1,3,5-7", "1001-1009x4", "7,1", " 1 - 2 ", "1,1", "2-1", "1-3x0", "x", ""]


@pytest.mark.parametrize("text", AGREEMENT)
def test_the_protocol_and_the_plate_layer_read_frame_lists_alike(text):
    """bridge.protocol and void_engine.plates had their own parsers; both now give the grammar's answer."""
    try:
        expected = parse_frame_list(text)
    except ValueError as exc:
        with pytest.raises(ValueError, match="^" + re.escape(str(exc)) + "$"):
            protocol.parse_frame_list(text)
        with pytest.raises(FrameRangeError) as err:
            parse_frames(text)
        assert str(err.value) == str(exc)
        return
    assert protocol.parse_frame_list(text) == expected
    assert parse_frames(text) == expected
    assert FrameSequence.parse("s.####.exr", text).frames == tuple(expected)
