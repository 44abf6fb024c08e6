"""The Resolve plugin reads key-frame tags with bridge's frame-list grammar, as the engine does."""

from __future__ import annotations

import pytest

from bridge.sequences import parse_frame_list
from void_resolve.roles import MaskError, keyframes_tag


@pytest.mark.parametrize("frames", ["1001,1040", "1001-1097x8", "1040, 1001", "1001 - 1003"])
def test_a_key_frame_tag_reads_as_the_engine_reads_the_frame_list(frames):
    assert keyframes_tag(f"roto of the ball\nvoid:keyframes {frames}\nchecked") == tuple(parse_frame_list(frames))


def test_a_key_frame_tagged_twice_is_refused_naming_it():
    with pytest.raises(MaskError, match="frame 1040 twice"):
        keyframes_tag("void:keyframes 1001,1040,1040")


def test_a_word_after_the_tag_is_not_read_as_a_step():
    assert keyframes_tag("void:keyframes 1001,1040 xmas shot") == (1001, 1040)
