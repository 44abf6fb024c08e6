"""The Nuke plugin reads frame lists and numbers fetched versions by bridge's rules, as the engine does."""

from __future__ import annotations

import pytest

from bridge.sequences import parse_frame_list
from bridge.versions import version_name
from void_engine.plates import parse_frames
from void_engine.plates.output import reserve_version_dir


@pytest.mark.parametrize("text", ["1001,1040", "1001-1009x4", "1040, 1001", "-2-2x2"])
def test_key_frames_typed_in_the_panel_read_as_the_engine_reads_them(fake_nuke, text):
    from void_nuke.settings import parse_keyframes

    assert parse_keyframes(text, 1001) == tuple(parse_frame_list(text)) == tuple(parse_frames(text))


def test_a_key_frame_typed_twice_is_refused_naming_it(fake_nuke):
    from void_nuke.errors import SetupError
    from void_nuke.settings import parse_keyframes

    with pytest.raises(SetupError, match="frame 1001 twice"):
        parse_keyframes("1001, 1040, 1001", 1001)


def test_fetched_results_take_the_version_the_engine_would_publish(fake_nuke, tmp_path):
    from void_nuke.runner import next_version_dir

    for name in ("v001", "v999", "v12", "v1000_old"):
        (tmp_path / name).mkdir()
    planned = next_version_dir(tmp_path)
    assert planned == tmp_path / version_name(1000)
    assert reserve_version_dir(tmp_path) == planned  # the engine, asked the same, picks the same
