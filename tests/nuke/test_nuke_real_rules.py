"""The plugin under real Nuke's rules (issue 18): a Roto over an RGBA plate, errors that Nuke's
main-thread hop does not re-raise, the engine asked before any render, an unwritable output folder."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.engine.engine_harness import free_port

from .nuke_helpers import answer_panel, make_scene, pump_until_finished, read_exr

SHOT_W, SHOT_H, SHOT_FRAMES = 192, 96, 8


def _box_of(matte: np.ndarray, height: int) -> tuple[int, int, int, int]:
    """The Roto box (x, y, r, t; Nuke's y up) that covers a matte's pixels with a 2 px margin."""
    rows, cols = np.nonzero(matte > 0)
    top, bottom = rows.min() - 2, rows.max() + 3
    return int(cols.min() - 2), int(height - bottom), int(cols.max() + 3), int(height - top)


def _distance_outside(box: tuple[int, int, int, int], height: int, width: int) -> np.ndarray:
    """Per pixel, how far (px) it lies outside the box (0 inside)."""
    x, y, r, t = box
    yy, xx = np.mgrid[0:height, 0:width]
    dx = np.maximum(np.maximum(x - xx, xx - (r - 1)), 0)
    dy = np.maximum(np.maximum((height - t) - yy, yy - (height - y - 1)), 0)
    return np.hypot(dx, dy)


def test_a_roto_connected_to_an_rgba_plate_removes_only_its_shapes(fake_nuke, engine):
    """Acceptance: alpha = 1 everywhere in the plate; pixels change only within dilate + feather
    of the Roto, and the ball is gone (the preview backend fills from frames that show the ground)."""
    nuke = fake_nuke
    import nukescripts

    from void_engine.demo.samples import make_sample_shot
    from void_engine.plates import ShotSettings
    from void_nuke.action import remove_object

    address, root = engine
    shot = make_sample_shot(root / uuid.uuid4().hex[:8], seed=5, width=SHOT_W, height=SHOT_H, frames=SHOT_FRAMES)
    first = shot.frames[0]
    plate0, _ = read_exr(shot.path(shot.plate, first))
    assert (plate0[..., 3] == 1.0).all()  # the case under test: an opaque plate
    boxes = {f: _box_of(read_exr(shot.path(shot.remove_matte, f))[0][..., 0], SHOT_H) for f in shot.frames}
    nuke.root().fake_set_format(SHOT_W, SHOT_H)
    read = nuke.nodes.Read(file=shot.plate, first=first, last=shot.frames[-1])
    roto = nuke.nodes.Roto(inputs=[read])  # wired as the README says: the Roto's input is the plate
    roto.fake_shape = lambda f: boxes[f]
    roto.setSelected(True)  # the Roto alone: its input is the plate
    answer_panel(nukescripts, address)

    job = remove_object()
    assert job is not None
    pump_until_finished(nuke, job)

    assert job.outcome.state == "done", job.outcome
    assert roto["replace"].value() is False  # the artist's Roto is as it was
    reach = ShotSettings().dilate_px + ShotSettings().feather_px
    pattern = str(nuke.toNode(job.outcome.read_node)["file"].value())
    for f in shot.frames:
        out, _ = read_exr(Path(nuke.fake_frame_path(pattern, f)))
        plate, _ = read_exr(shot.path(shot.plate, f))
        clean, _ = read_exr(shot.path(shot.clean_plate, f))
        changed = (out[..., :3] != plate[..., :3]).any(axis=-1)
        far = _distance_outside(boxes[f], SHOT_H, SHOT_W) > reach + 1
        assert changed.any(), f"frame {f}: nothing was removed"
        assert not (changed & far).any(), f"frame {f}: {int((changed & far).sum())} pixels changed far from the Roto"
        ball = read_exr(shot.path(shot.remove_matte, f))[0][..., 0] > 0
        before = np.abs(plate[ball, :3] - clean[ball, :3]).mean()
        after = np.abs(out[ball, :3] - clean[ball, :3]).mean()
        assert after < 0.25 * before, f"frame {f}: the ball is still there ({after:.3f} vs {before:.3f})"


def test_a_frame_that_fails_to_render_is_reported_in_nukes_words_not_as_a_missing_frame(fake_nuke, engine, tmp_path):
    # executeInMainThreadWithResult prints an error and returns None: the plugin must carry it.
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    address, _ = engine
    read, roto = make_scene(nuke, tmp_path, range(1, 4), select=False)
    grade = nuke.nodes.Grade(inputs=[read])  # not a Read: the plate is rendered
    (tmp_path / "plates" / "plate.0002.exr").unlink()
    grade.setSelected(True)
    roto.setSelected(True)
    answer_panel(nukescripts, address, out_dir=str(tmp_path / "out"))
    job = remove_object()
    pump_until_finished(nuke, job)

    assert job.outcome.state == "failed" and job.job_id is None  # nothing was submitted
    text = nuke.fake_state.messages[-1]
    assert text.startswith(f"Rendering frame 2 of {grade.name()} failed") and "plate.0002.exr" in text
    assert not nuke.allNodes("Write")


def test_a_result_read_that_cannot_be_made_fails_the_job_instead_of_ending_done(fake_nuke, engine, monkeypatch):
    nuke = fake_nuke
    import nukescripts

    from void_nuke import nodes
    from void_nuke.action import remove_object

    def refuse(*args):
        raise RuntimeError("Read: Can't create a node here")

    monkeypatch.setattr(nodes, "create_result_read", refuse)
    address, root = engine
    make_scene(nuke, root / uuid.uuid4().hex[:8], range(1, 3))
    answer_panel(nukescripts, address)
    job = remove_object()
    pump_until_finished(nuke, job)

    assert job.outcome.state == "failed", job.outcome
    text = nuke.fake_state.messages[-1]
    assert f"Job {job.job_id} finished" in text and "Can't create a node here" in text


def _unwritable_folder(tmp_path: Path, request) -> Path:
    """A folder this process cannot create files in: a read-only mount when root (root ignores
    permission bits), else a ``chmod 555`` folder."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder / "void"
    mount = tmp_path / "read_only_fs"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        return Path("/sys/void-nuke-tests")  # sysfs refuses new files to root as well
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(mount)], check=False))
    return mount / "void"


def test_an_unwritable_output_folder_is_named_with_the_os_reason_before_anything_runs(
    fake_nuke, engine, tmp_path, request
):
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    address, _ = engine
    out = _unwritable_folder(tmp_path, request)
    make_scene(nuke, tmp_path, range(1, 3))
    answer_panel(nukescripts, address, out_dir=str(out))
    job = remove_object()
    pump_until_finished(nuke, job)

    assert job.outcome.state == "failed" and job.job_id is None  # not submitted
    text = nuke.fake_state.messages[-1]
    assert str(out) in text
    assert any(reason in text for reason in ("Permission denied", "Operation not permitted", "Read-only file system"))
    assert nuke.fake_state.executed == [] and not nuke.allNodes("Write")


def test_the_engine_is_asked_before_any_frame_is_rendered(fake_nuke, tmp_path, monkeypatch):
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    monkeypatch.setenv("VOID_ENGINE_TIMEOUT", "0.3")
    read, roto = make_scene(nuke, tmp_path, range(1, 30), select=False)
    grade = nuke.nodes.Grade(inputs=[read])
    grade.setSelected(True)
    roto.setSelected(True)
    answer_panel(nukescripts, f"tcp://127.0.0.1:{free_port()}", out_dir=str(tmp_path / "out"))
    job = remove_object()
    pump_until_finished(nuke, job, timeout=15)

    assert job.outcome.state == "failed"
    assert "can't reach the engine" in nuke.fake_state.messages[-1]
    assert nuke.fake_state.executed == []  # no frame rendered for an engine that is not there


def test_progress_never_runs_backwards_and_steps_follow_their_pass(fake_nuke):
    from bridge.protocol import Event
    from void_nuke.progress import ProgressView

    view = ProgressView("j1", pass2=True)
    events = [
        Event("j1", 1, "state", state="queued"),
        Event("j1", 2, "state", state="running"),
        Event("j1", 3, "stage", stage="resolve", step=0, total=1),
        Event("j1", 4, "stage", stage="resolve", step=1, total=1),
        Event("j1", 5, "stage", stage="masks", step=0, total=1),
        Event("j1", 6, "stage", stage="read", step=0, total=4),
        Event("j1", 7, "stage", stage="model", step=0, total=50),
        Event("j1", 8, "step", window=0, step=1, total=8),
        Event("j1", 9, "step", window=0, step=8, total=8),
        Event("j1", 10, "stage", stage="pass2", step=0, total=50),
        Event("j1", 11, "step", window=0, step=1, total=8),
        Event("j1", 12, "stage", stage="write", step=0, total=4),
    ]
    shown = [view.show(e) for e in events]
    percents = [p for _, p in shown]
    assert percents == sorted(percents) and percents[-1] < 100
    words = [w for w, _ in shown]
    assert "Removing object" in words and not any("0/50" in w for w in words)
    assert words[7] == "Removing object: step 1/8" and words[10] == "Refining (pass 2): step 1/8"


def test_an_untagged_matte_that_is_not_a_roto_is_told_how_to_tag_it(fake_nuke, tmp_path):
    from void_nuke.errors import SetupError
    from void_nuke.selection import pick_inputs

    read, _ = make_scene(fake_nuke, tmp_path, range(1, 3), select=False)
    shuffle = fake_nuke.nodes.Shuffle(inputs=[read])
    with pytest.raises(SetupError, match=r"put 'remove' in its label.*'void_role'"):
        pick_inputs([read, shuffle])


def test_a_non_read_plate_in_an_unsaved_script_asks_for_an_output_folder(fake_nuke, tmp_path):
    nuke = fake_nuke
    nuke.fake_reset(gui=False)
    from void_nuke.action import default_out_dir, remove_object_batch
    from void_nuke.errors import SetupError

    read, roto = make_scene(nuke, tmp_path, range(1, 3), select=False)
    grade = nuke.nodes.Grade(inputs=[read])
    assert default_out_dir(grade) == ""  # not the system's temp folder
    with pytest.raises(SetupError, match="Choose an output folder.*--out"):
        remove_object_batch(grade.name(), roto.name(), "empty street", engine="tcp://127.0.0.1:9")


def test_the_progress_bar_closes_when_the_job_ends(fake_nuke, engine):
    # Nuke removes a ProgressTask's bar when the object is released: the job must not keep it.
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    address, root = engine
    make_scene(nuke, root / uuid.uuid4().hex[:8], range(1, 3))
    answer_panel(nukescripts, address)
    job = remove_object()
    pump_until_finished(nuke, job)

    assert job.outcome.state == "done", job.outcome
    assert nuke.fake_state.progress_tasks[-1].fake_closed
