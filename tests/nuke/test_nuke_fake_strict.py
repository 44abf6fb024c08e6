"""The fake ``nuke`` is as strict as real Nuke where the plugin's behaviour depends on it."""

from __future__ import annotations

import threading

import numpy as np
import pytest


def _in_thread(fn):
    box = {}
    t = threading.Thread(target=lambda: box.update(value=fn()))
    t.start()
    return t, box


def test_execute_in_main_thread_with_result_prints_an_error_and_returns_none(fake_nuke, capsys):
    nuke = fake_nuke

    def fails():
        raise RuntimeError("Write2: Can't create directory /x: Read-only file system")

    t, box = _in_thread(lambda: nuke.executeInMainThreadWithResult(fails))
    nuke.fake_process_events(until=lambda: not t.is_alive(), timeout=5)
    assert box["value"] is None
    assert "Read-only file system" in capsys.readouterr().out


def test_execute_in_main_thread_with_result_refuses_the_main_thread(fake_nuke):
    with pytest.raises(RuntimeError, match="deadlock"):
        fake_nuke.executeInMainThreadWithResult(lambda: 1)


def test_execute_in_main_thread_queues_even_from_the_main_thread(fake_nuke):
    ran = []
    fake_nuke.executeInMainThread(ran.append, (1,))
    assert ran == []
    fake_nuke.fake_process_events(until=lambda: bool(ran), timeout=2)
    assert ran == [1]


def test_a_write_has_datatype_only_once_its_file_type_is_exr(fake_nuke):
    write = fake_nuke.nodes.Write()
    assert write.knob("datatype") is None
    write["file_type"].setValue("exr")
    assert write["datatype"].value() == "16 bit half"
    write["file_type"].setValue("png")
    assert write.knob("datatype") is None


@pytest.mark.parametrize(
    "cls, knob, value",
    [("Write", "channels", "alpha_only"), ("Write", "colorspace", "ACES - ACEScg"), ("Read", "on_error", "skip")],
)
def test_enumeration_knobs_refuse_values_outside_nukes_list(fake_nuke, cls, knob, value):
    node = getattr(fake_nuke.nodes, cls)()
    with pytest.raises(ValueError):
        node[knob].setValue(value)


def test_filename_evaluates_the_frame_token(fake_nuke):
    read = fake_nuke.nodes.Read(file="/shots/plate.####.exr")
    assert fake_nuke.filename(read) == "/shots/plate.%04d.exr"
    fake_nuke.frame(12)
    assert fake_nuke.filename(read, fake_nuke.REPLACE) == "/shots/plate.0012.exr"


def test_a_connected_roto_takes_its_inputs_format(fake_nuke):
    fake_nuke.root().fake_set_format(64, 32)
    plate = fake_nuke.nodes.Constant()
    plate["format"].setValue(fake_nuke.Format(128, 96))
    roto = fake_nuke.nodes.Roto(inputs=[plate])
    assert (roto.format().width(), roto.format().height()) == (128, 96)


def test_a_roto_composites_its_shapes_over_an_opaque_input_unless_replace(fake_nuke):
    fake_nuke.root().fake_set_format(16, 8)
    plate = fake_nuke.nodes.Constant(color=[0.5, 0.5, 0.5, 1.0])
    roto = fake_nuke.nodes.Roto(inputs=[plate])
    roto.fake_shape = (2, 2, 4, 4)
    assert (roto.fake_render(1)["rgba.alpha"] == 1.0).all()
    roto["replace"].setValue(True)
    assert int(np.count_nonzero(roto.fake_render(1)["rgba.alpha"])) == 4


def test_script_open_of_a_missing_file_raises(fake_nuke, tmp_path):
    with pytest.raises(RuntimeError, match="No such file"):
        fake_nuke.scriptOpen(str(tmp_path / "missing.nk"))


def test_a_saved_script_opens_with_its_nodes_and_inputs(fake_nuke, tmp_path):
    nuke = fake_nuke
    read = nuke.nodes.Read(file="/shots/plate.####.exr", first=3, last=9, label="plate: take 2")
    nuke.nodes.Roto(inputs=[read])
    nuke.scriptSaveAs(str(tmp_path / "comp.nk"))
    nuke.fake_reset()
    nuke.scriptOpen(str(tmp_path / "comp.nk"))
    loaded = nuke.toNode("Roto1")
    assert loaded.input(0) is nuke.toNode("Read1")
    assert nuke.toNode("Read1")["label"].value() == "plate: take 2" and nuke.toNode("Read1")["last"].value() == 9


def test_a_progress_task_closes_when_released(fake_nuke):
    task = fake_nuke.ProgressTask("VOID")
    record = fake_nuke.fake_state.progress_tasks[-1]
    assert not record.fake_closed
    del task
    assert record.fake_closed
