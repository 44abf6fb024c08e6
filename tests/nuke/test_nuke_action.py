"""The Remove Object action end to end: fake Nuke, real engine (preview backend) on 127.0.0.1."""

from __future__ import annotations

import uuid
from pathlib import Path

from .nuke_helpers import PLATE_HW, answer_panel, make_scene, pump_until_finished, read_exr

FRAMES = range(1001, 1005)


def test_remove_object_creates_a_read_of_the_result_beside_the_plate(fake_nuke, engine):
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    address, root = engine
    shot = root / uuid.uuid4().hex[:8]
    read, _ = make_scene(nuke, shot, FRAMES, tag_affected=True)
    answer_panel(nukescripts, address)

    job = remove_object()
    assert job is not None
    pump_until_finished(nuke, job)

    assert job.outcome.state == "done", job.outcome
    result = nuke.toNode(job.outcome.read_node)
    assert result is not None and result.Class() == "Read"
    pattern = str(result["file"].value())
    assert Path(pattern).parent.parent == shot / "plates" / "void"
    assert Path(pattern).parent.name == "v001"
    assert (result["first"].value(), result["last"].value()) == (FRAMES[0], FRAMES[-1])
    assert result["colorspace"].value() == "ACES - ACEScg"
    assert job.outcome.job in result["label"].value() and "v001" in result["label"].value()
    assert result.xpos() > read.xpos() and result.ypos() == read.ypos()
    for f in FRAMES:
        frame = Path(nuke.fake_frame_path(pattern, f))
        px, channels = read_exr(frame)
        assert px.shape[:2] == PLATE_HW and channels[:4] == ["R", "G", "B", "A"]
        plate_px, _ = read_exr(shot / "plates" / f"plate.{f:04d}.exr")
        # Far from the roto the result is the plate, inside it something was painted over.
        assert (px[:, 100:, :3] == plate_px[:, 100:, :3]).all()
        assert not (px[40:52, 20:30, :3] == plate_px[40:52, 20:30, :3]).all()
    # The temporary renders and their Write nodes are gone.
    assert not nuke.allNodes("Write")
    assert not any((shot / "plates" / "void" / ".void-inputs").glob("*/*"))
    assert not nuke.fake_state.messages
    task = nuke.fake_state.progress_tasks[-1]
    assert any("step" in m for m in task.messages) and task.progress[-1] == 100
