"""Selection rules, frame range, panel answers and the job they make (no engine needed)."""

from __future__ import annotations

import pytest

from .nuke_helpers import make_scene


def test_read_and_roto_give_plate_and_remove_matte(fake_nuke, tmp_path):
    from void_nuke.selection import pick_inputs

    read, roto = make_scene(fake_nuke, tmp_path, range(1001, 1003))
    inputs = pick_inputs(fake_nuke.selectedNodes())
    assert (inputs.plate, inputs.remove, inputs.affected) == (read, roto, None)


def test_a_matte_labelled_affected_is_the_affected_matte(fake_nuke, tmp_path):
    from void_nuke.selection import pick_inputs

    read, roto = make_scene(fake_nuke, tmp_path, range(1, 3), tag_affected=True)
    inputs = pick_inputs(fake_nuke.selectedNodes())
    assert inputs.remove is roto and inputs.affected is not None
    assert "affected" in inputs.affected["label"].value()


def test_two_untagged_mattes_ask_for_an_affected_tag(fake_nuke, tmp_path):
    from void_nuke.errors import SetupError
    from void_nuke.selection import pick_inputs

    make_scene(fake_nuke, tmp_path, range(1, 3))
    fake_nuke.nodes.Roto().setSelected(True)
    with pytest.raises(SetupError, match="'affected' in the label"):
        pick_inputs(fake_nuke.selectedNodes())


def test_void_role_knob_picks_the_plate_among_several_nodes(fake_nuke, tmp_path):
    nuke = fake_nuke
    from void_nuke.selection import pick_inputs

    read, roto = make_scene(nuke, tmp_path, range(1, 3))
    grade = nuke.nodes.Grade(inputs=[read])
    grade.addKnob(nuke.String_Knob("void_role", "VOID role", "plate"))
    grade.setSelected(True)
    assert pick_inputs(nuke.selectedNodes()).plate is grade


def test_a_roto_alone_uses_its_input_as_the_plate(fake_nuke, tmp_path):
    from void_nuke.selection import pick_inputs

    read, roto = make_scene(fake_nuke, tmp_path, range(1, 3), select=False)
    roto.setInput(0, read)
    roto.setSelected(True)
    assert pick_inputs(fake_nuke.selectedNodes()).plate is read


def test_a_ready_quadmask_refuses_an_affected_matte(fake_nuke, tmp_path):
    from void_nuke.errors import SetupError
    from void_nuke.selection import pick_inputs

    make_scene(fake_nuke, tmp_path, range(1, 3), tag_affected=True)
    with pytest.raises(SetupError, match="quadmask already holds"):
        pick_inputs(fake_nuke.selectedNodes(), quadmask=True)


def test_empty_selection_tells_the_artist_what_to_select(fake_nuke):
    import nukescripts

    from void_nuke.action import remove_object

    assert remove_object() is None
    assert fake_nuke.fake_state.messages[-1].startswith("Select the plate")
    assert not nukescripts.fake_panels


def test_a_matte_of_another_size_than_the_plate_is_refused_before_rendering(fake_nuke, tmp_path):
    from void_nuke.action import remove_object

    read, _ = make_scene(fake_nuke, tmp_path, range(1, 3), select=False)
    fake_nuke.root().fake_set_format(2048, 1556)  # a new Roto takes the project's format
    roto = fake_nuke.nodes.Roto()
    read.setSelected(True)
    roto.setSelected(True)
    assert remove_object() is None
    assert f"{roto.name()} is 2048x1556 but the plate Read1 is 192x96" in fake_nuke.fake_state.messages[-1]
    assert not fake_nuke.fake_state.executed


def test_frame_range_comes_from_the_read_else_the_project(fake_nuke, tmp_path):
    nuke = fake_nuke
    from void_nuke.selection import default_frame_range

    read, _ = make_scene(nuke, tmp_path, range(1001, 1004), select=False)
    assert default_frame_range(read) == (1001, 1003)
    nuke.root()["first_frame"].setValue(7)
    nuke.root()["last_frame"].setValue(9)
    assert default_frame_range(nuke.nodes.Constant(first=7, last=9)) == (7, 9)
    assert default_frame_range(nuke.nodes.CheckerBoard2()) == (7, 9)


def test_a_read_that_renumbers_its_frames_is_rendered_over_its_script_frames(fake_nuke, tmp_path):
    nuke = fake_nuke
    from void_nuke.nodes import read_source
    from void_nuke.selection import default_frame_range

    read, _ = make_scene(nuke, tmp_path, range(1001, 1004), select=False)
    read["frame_mode"].setValue("start at")
    read["frame"].setValue("1")  # files 1001-1003 shown at script frames 1-3, where the roto is drawn
    assert read_source(read).pattern is None  # rendered like any node, in script frames
    assert default_frame_range(read) == (1, 3)


def test_windows_paths_reach_nuke_file_knobs_with_forward_slashes(fake_nuke, tmp_path, monkeypatch):
    nuke = fake_nuke
    from void_nuke import nodes

    monkeypatch.setattr(nodes, "_SEP", "\\")  # as on Windows
    read, roto = make_scene(nuke, tmp_path, range(1001, 1003), select=False)
    write = nuke.toNode(nodes.make_temp_write(roto.name(), r"C:\temp\void\.void-inputs\k\remove.####.exr", "alpha"))
    result = nuke.toNode(
        nodes.create_result_read(read.name(), r"C:\temp\void\v001\plate_void.####.exr", (1001, 1002), "", "VOID v001")
    )
    assert write["file"].value() == "C:/temp/void/.void-inputs/k/remove.####.exr"
    assert result["file"].value() == "C:/temp/void/v001/plate_void.####.exr"


def test_panel_answers_become_the_engine_job(fake_nuke, tmp_path):
    nuke = fake_nuke
    from void_nuke.panel import RemovePanel
    from void_nuke.selection import pick_inputs
    from void_nuke.settings import build_spec

    make_scene(nuke, tmp_path, range(1001, 1005))
    panel = RemovePanel(pick_inputs(nuke.selectedNodes()), 1001, 1004, str(tmp_path / "void"), "tcp://127.0.0.1:5555")
    for name, value in (
        ("prompt", " empty road "),
        ("seed", 42),
        ("steps", 12),
        ("first", 1002),
        ("mask_mode", 1),
        ("transfer", 2),
    ):
        panel.fake_set(name, value)
    s = panel.settings()
    assert (s.first, s.last, s.seed, s.steps, s.mask_mode, s.transfer) == (1002, 1004, 42, 12, "quadmask", "value")
    spec = build_spec(s, plate="/p/plate.####.exr", remove="/p/q.####.exr", name="sh010 plate", job_key="k1")
    assert spec.quadmask == "/p/q.####.exr" and spec.remove is None
    assert spec.frames == (1002, 1003, 1004) and spec.prompt == "empty road" and spec.name == "sh010_plate"


@pytest.mark.parametrize(
    "change, words",
    [
        ({"prompt": "  "}, "Describe the clean background"),
        ({"first": 10, "last": 5}, "runs backwards"),
        ({"engine": "localhost:5555"}, "should look like tcp://"),
        ({"mask_mode": "propagate"}, "key frames"),
        ({"mask_mode": "propagate", "keyframes": (9,)}, "Key frame 9 is outside the frame range 1-3"),
        ({"mask_mode": "reason", "keyframes": (2,)}, "Say what to remove in 'instruction'"),
    ],
)
def test_settings_the_engine_cannot_serve_are_refused_with_the_fix(change, words):
    from void_nuke.errors import SetupError
    from void_nuke.settings import RemoveSettings, build_spec

    base = dict(prompt="street", first=1, last=3, out_dir="/tmp/void", engine="tcp://127.0.0.1:5555")
    with pytest.raises(SetupError, match=words):
        build_spec(
            RemoveSettings(**{**base, **change}), plate="/p/p.####.exr", remove="/p/r.####.exr", name="p", job_key="k"
        )


def test_key_frame_modes_and_pass2_become_mask_modes_c_and_d():
    from bridge.protocol import JobMasks, JobSpec
    from void_nuke.errors import SetupError
    from void_nuke.settings import RemoveSettings, build_spec, parse_keyframes

    base = dict(
        prompt="street",
        first=1001,
        last=1010,
        out_dir="/tmp/void",
        engine="tcp://127.0.0.1:5555",
        pass2=True,
        keyframes=parse_keyframes("1005,1001", 1003),
    )
    prop = build_spec(
        RemoveSettings(**base, mask_mode="propagate"),
        plate="/p/p.####.exr",
        remove="/p/roto.####.exr",
        name="p",
        job_key="k",
    )
    assert prop.masks == JobMasks(mode="propagate", roto="/p/roto.####.exr", keyframes=(1001, 1005))
    assert prop.pass2 and prop.remove is None
    reason = build_spec(
        RemoveSettings(**base, mask_mode="reason", instruction=" the dog "),
        plate="/p/p.####.exr",
        remove="/p/roto.####.exr",
        name="p",
        job_key="k",
    )
    assert reason.masks.mode == "reason" and reason.masks.instruction == "the dog"
    JobSpec.from_wire(reason.to_wire())  # valid on the wire as the plugin sends it
    assert parse_keyframes("  ", 1003) == (1003,)  # empty: the current frame
    with pytest.raises(SetupError, match="affected"):
        build_spec(
            RemoveSettings(**base, mask_mode="propagate"),
            plate="/p/p.####.exr",
            remove="/p/r.####.exr",
            affected="/p/a.####.exr",
            name="p",
            job_key="k",
        )
