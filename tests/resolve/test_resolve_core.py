"""The host-free core: handle maths, sequence names, mask roles, settings."""

from __future__ import annotations

import pytest

from void_resolve.ranges import ClipCut, fusion_render_range, plan_handles
from void_resolve.roles import MaskError, Tagged, next_version_name, pick_masks, role_of, safe_name
from void_resolve.sequences import (
    FrameRange,
    SequenceError,
    find_rendered,
    hash_pattern,
    parse_resolve_path,
    printf_pattern,
    renumber,
    require_frames,
    saver_clip,
    saver_output_path,
)
from void_resolve.settings import settings_from_env


def test_handles_are_capped_by_the_media_available_on_each_side():
    cut = ClipCut(record_start=86448, duration=24, source_start=1010, left_available=3, right_available=40)
    plan = plan_handles(cut, wanted=8)
    assert (plan.left, plan.right) == (3, 8)
    assert plan.source == FrameRange(1007, 1041)
    assert plan.cut_in_result == (3, 27)  # exclusive end, as AppendToTimeline takes it
    assert plan.record_range == (86448, 86472)
    assert len(plan.source) == 24 + 3 + 8


def test_no_handles_sends_exactly_the_cut():
    plan = plan_handles(ClipCut(100, 5, 0, 0, 0), wanted=8)
    assert plan.source == FrameRange(0, 4) and plan.cut_in_result == (0, 5)


def test_bad_cuts_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="no frames"):
        ClipCut(100, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="handles must be"):
        plan_handles(ClipCut(100, 5, 0, 0, 0), wanted=-1)


def test_fusion_render_range_reads_comp_attrs():
    assert fusion_render_range({"COMPN_RenderStart": 1001.0, "COMPN_RenderEnd": 1096.0}) == FrameRange(1001, 1096)
    with pytest.raises(ValueError, match="COMPN_RenderEnd"):
        fusion_render_range({"COMPN_RenderStart": 1.0})
    with pytest.raises(ValueError, match="whole frames"):
        fusion_render_range({"COMPN_RenderStart": 1.5, "COMPN_RenderEnd": 9.0})


def test_resolve_sequence_paths_round_trip_to_engine_patterns():
    seq = parse_resolve_path("/shots/A/plate.[1001-1096].exr")
    assert seq.pattern == "/shots/A/plate.####.exr" and seq.range == FrameRange(1001, 1096)
    assert parse_resolve_path("/shots/A/take3.mov") is None
    assert printf_pattern(seq.pattern) == "/shots/A/plate.%04d.exr"
    assert hash_pattern("/a/b_%03d.exr") == "/a/b_###.exr"
    with pytest.raises(SequenceError):
        printf_pattern("/a/b.exr")


def test_saver_naming_follows_fusion(tmp_path):
    clip, pattern = saver_clip(tmp_path, "shot_plate")
    assert saver_output_path(clip, 1001) == str(tmp_path / "shot_plate.1001.exr")
    assert pattern == str(tmp_path / "shot_plate.####.exr")
    assert saver_output_path("/r/out.exr", 7) == "/r/out0007.exr"


def test_missing_frames_are_named(tmp_path):
    for f in (1, 2, 4):
        (tmp_path / f"m.{f:04d}.exr").write_bytes(b"x")
    with pytest.raises(SequenceError, match=r"frame 3 was not written .*m\.0003\.exr"):
        require_frames(str(tmp_path / "m.####.exr"), [1, 2, 3, 4], "the remove render")


def test_rendered_frames_are_found_and_renumbered(tmp_path):
    for f in range(86400, 86403):
        (tmp_path / f"plate_{f:08d}.exr").write_bytes(bytes([f % 256]))
    (tmp_path / "other_00086400.exr").write_bytes(b"")
    found = find_rendered(tmp_path, "plate")
    assert found.range == FrameRange(86400, 86402)
    moved = renumber(found, str(tmp_path / "plate.######.exr"), 12)
    assert moved.range == FrameRange(12, 14)
    assert (tmp_path / "plate.000013.exr").read_bytes() == bytes([86401 % 256])


def test_a_render_with_a_gap_is_an_error(tmp_path):
    for f in (1, 2, 4):
        (tmp_path / f"p.{f}.exr").write_bytes(b"")
    with pytest.raises(SequenceError, match="skipped frame 3"):
        find_rendered(tmp_path, "p")
    with pytest.raises(SequenceError, match="no q"):
        find_rendered(tmp_path, "q")


def test_mask_roles_by_name_or_comment_tag():
    assert role_of("remove_car") == "remove"
    assert role_of("VOID_affected") == "affected"
    assert role_of("Polygon1", "void:remove") == "remove"
    assert role_of("Polygon1") is None
    assert role_of("removed_stuff") is None  # a word, not a substring


def test_pick_masks_needs_exactly_one_remove():
    a, b = Tagged("a", "remove", "remove"), Tagged("b", "shadow", "affected")
    pick = pick_masks([a, b, Tagged("c", "Polygon2", None)], "this comp", "mark it")
    assert pick.remove is a and pick.affected is b
    with pytest.raises(MaskError, match=r"No mask marked \"remove\" in this comp \(masks found: Polygon2\)"):
        pick_masks([Tagged("c", "Polygon2", None)], "this comp", "mark it")
    with pytest.raises(MaskError, match='Several masks are marked "remove"'):
        pick_masks([a, Tagged("d", "remove2", "remove")], "this comp", "mark it")


def test_versioned_names_count_up():
    assert next_version_name("shot", []) == "shot_void_v001"
    assert next_version_name("shot", ["shot_void_v001", "shot_void_v007", "other_void_v009"]) == "shot_void_v008"
    assert safe_name("A001 C003 [1-9].exr") == "A001_C003_1-9_.exr"
    assert safe_name("///") == "plate"


def test_settings_from_env_name_the_bad_variable():
    s = settings_from_env({"VOID_ENGINE": "tcp://gpu1:5555", "VOID_STEPS": "20", "VOID_BY_VALUE": "yes"})
    assert s.engine == "tcp://gpu1:5555" and s.steps == 20 and s.by_value and s.handles == 8
    with pytest.raises(ValueError, match="VOID_HANDLES"):
        settings_from_env({"VOID_HANDLES": "lots"})


def test_exr_display_size_is_read_from_the_header_without_openimageio(shot, tmp_path):
    from void_resolve.exr_header import ExrHeaderError, display_size

    assert display_size(shot.path(shot.plate, 1001)) == (shot.width, shot.height)
    (tmp_path / "not.exr").write_bytes(b"P6 2 2 255\n")
    with pytest.raises(ExrHeaderError, match="not an OpenEXR file"):
        display_size(tmp_path / "not.exr")
    with pytest.raises(ExrHeaderError, match="cannot read"):
        display_size(tmp_path / "missing.exr")
