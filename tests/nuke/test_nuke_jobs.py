"""How a job behaves around the edges: cancel, no engine, bad input, threads, batch mode."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from bridge.client import EngineClient
from tests.engine.engine_harness import free_port

from .nuke_helpers import answer_panel, make_scene, pump_until_finished, read_exr

TOKEN = "nuke-tests-token"  # set by the fake_nuke fixture, so the test can ask about the plugin's jobs


def test_cancel_in_the_progress_task_cancels_the_engine_job(fake_nuke, engine):
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    address, root = engine
    shot = root / uuid.uuid4().hex[:8]
    make_scene(nuke, shot, range(1, 41))  # long enough that the cancel lands mid-job
    answer_panel(nukescripts, address)
    job = remove_object()
    nuke.fake_process_events(until=lambda: job.job_id is not None or job.finished.is_set(), timeout=30)
    assert job.job_id is not None, job.outcome
    nuke.fake_state.progress_tasks[-1].fake_cancel()
    pump_until_finished(nuke, job)

    assert job.outcome.state == "cancelled", job.outcome
    with EngineClient(address, timeout=5, token=TOKEN) as client:
        assert client.status(job.job_id).state == "cancelled"
    out = shot / "plates" / "void"
    assert not list(out.glob("v*")), "a cancelled job left output"
    assert not nuke.allNodes("Read")[1:], "a cancelled job made a Read node"
    assert not nuke.fake_state.messages  # the artist cancelled: no error dialog


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_unreachable_engine_gives_a_message_and_does_not_hang(fake_nuke, tmp_path, monkeypatch):
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    monkeypatch.setenv("VOID_ENGINE_TIMEOUT", "0.3")
    nobody = f"tcp://127.0.0.1:{free_port()}"
    make_scene(nuke, tmp_path, range(1, 3))
    answer_panel(nukescripts, nobody)
    t0 = time.monotonic()
    job = remove_object()
    assert time.monotonic() - t0 < 1.0
    pump_until_finished(nuke, job, timeout=15)

    assert time.monotonic() - t0 < 8.0
    assert job.outcome.state == "failed"
    assert len(nuke.fake_state.messages) == 1
    text = nuke.fake_state.messages[0]
    assert nobody in text and "running" in text
    assert len(nuke.allNodes("Read")) == 1 and not nuke.allNodes("Write")


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_engine_calls_run_off_the_main_thread_and_the_action_returns_at_once(fake_nuke, engine, monkeypatch):
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    threads: list[threading.Thread] = []
    real_request = EngineClient.request

    def recording_request(self, *args, **kwargs):
        threads.append(threading.current_thread())
        return real_request(self, *args, **kwargs)

    monkeypatch.setattr(EngineClient, "request", recording_request)
    address, root = engine
    make_scene(nuke, root / uuid.uuid4().hex[:8], range(1, 3))
    answer_panel(nukescripts, address)
    t0 = time.monotonic()
    job = remove_object()
    returned_after = time.monotonic() - t0
    assert not job.finished.is_set()  # the work waits for the event loop: it is not done in the call
    assert returned_after < 0.5
    pump_until_finished(nuke, job)

    assert job.outcome.state == "done", job.outcome
    assert threads and all(t is not threading.main_thread() for t in threads)
    # Every render and node change was made on the main thread: the fake raises otherwise.
    assert nuke.fake_state.executed


def test_missing_plate_frame_is_reported_in_the_artists_words(fake_nuke, engine):
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    address, root = engine
    shot = root / uuid.uuid4().hex[:8]
    make_scene(nuke, shot, range(1, 5))
    (shot / "plates" / "plate.0003.exr").unlink()
    answer_panel(nukescripts, address)
    job = remove_object()
    pump_until_finished(nuke, job)

    assert job.outcome.state == "failed"
    text = nuke.fake_state.messages[-1]
    assert text.startswith("Frame 3 of the plate is missing") and "plate.0003.exr" in text


def test_batch_mode_renders_a_non_read_plate_and_fetches_by_value(fake_nuke, engine, tmp_path):
    nuke = fake_nuke
    nuke.fake_reset(gui=False)  # nuke -t
    from void_nuke.action import remove_object_batch

    address, _ = engine
    read, roto = make_scene(nuke, tmp_path / "shot", range(1, 4), select=False)
    grade = nuke.nodes.Grade(inputs=[read])  # any node can be the plate: it is rendered first
    out = tmp_path / "local_results"  # outside the engine's roots: frames travel by value
    outcome = remove_object_batch(
        grade.name(), roto.name(), "empty street", engine=address, out_dir=str(out), transfer="value"
    )

    assert outcome.state == "done", outcome
    result = nuke.toNode(outcome.read_node)
    assert Path(str(result["file"].value())).parent == out / "v001"
    assert (result["first"].value(), result["last"].value()) == (1, 3)
    for f in (1, 2, 3):
        px, _ = read_exr(Path(nuke.fake_frame_path(str(result["file"].value()), f)))
        assert px.shape[:2] == (96, 192) and px.dtype.kind == "f"
    assert not nuke.allNodes("Write")
    assert [e[1:] for e in nuke.fake_state.executed] == [(1, 1), (2, 2), (3, 3)] * 2  # plate + matte


def test_batch_script_for_nuke_t_takes_explicit_arguments(fake_nuke, engine, capsys):
    nuke = fake_nuke
    nuke.fake_reset(gui=False)
    from void_nuke import batch

    address, root = engine
    read, roto = make_scene(nuke, root / uuid.uuid4().hex[:8], range(1001, 1006), select=False)
    rc = batch.main(
        [
            "--plate",
            read.name(),
            "--remove",
            roto.name(),
            "--prompt",
            "empty street",
            "--frames",
            "1002-1004",
            "--engine",
            address,
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0, out
    pattern = out[-1].split()[-1]
    assert [f for f in (1001, 1002, 1004, 1005) if Path(nuke.fake_frame_path(pattern, f)).is_file()] == [1002, 1004]
    assert batch.main(["--plate", "Nope", "--remove", roto.name(), "--prompt", "x", "--engine", address]) == 2
    assert "No node called 'Nope'" in capsys.readouterr().err


def test_cancel_while_rendering_inputs_submits_nothing_and_cleans_up(fake_nuke, engine, tmp_path):
    nuke = fake_nuke
    import nukescripts

    from void_nuke.action import remove_object

    make_scene(nuke, tmp_path, range(1, 6))
    answer_panel(nukescripts, engine[0])  # said hello to before rendering; never given a job
    job = remove_object()
    nuke.fake_process_events(until=lambda: bool(nuke.allNodes("Write")), timeout=10)
    nuke.fake_state.progress_tasks[-1].fake_cancel()
    pump_until_finished(nuke, job, timeout=10)

    assert job.outcome.state == "cancelled" and job.job_id is None
    assert len(nuke.fake_state.executed) < 5
    assert not nuke.allNodes("Write") and not nuke.fake_state.messages
    assert not any((tmp_path / "plates" / "void" / ".void-inputs").glob("*"))


def test_affected_matte_in_a_key_frame_mode_is_refused_before_anything_renders(fake_nuke, tmp_path):
    nuke = fake_nuke
    from void_nuke.runner import JobInputs, RemoveJob
    from void_nuke.settings import RemoveSettings

    nuke.fake_reset(gui=False)
    plate = nuke.nodes.Constant()  # not a Read: it would be rendered first
    remove, shadow = nuke.nodes.Roto(), nuke.nodes.Roto(label="affected: shadow")
    settings = RemoveSettings(
        prompt="empty street",
        first=1,
        last=20,
        out_dir=str(tmp_path / "void"),
        mask_mode="propagate",
        keyframes=(1,),
        engine="tcp://127.0.0.1:9",
    )
    outcome = RemoveJob(settings, JobInputs(plate.name(), remove.name(), shadow.name(), None, "")).run()
    assert outcome.state == "failed" and "affected" in (outcome.message or "")
    assert nuke.fake_state.executed == []  # no wasted render of the plate
    assert nuke.allNodes("Write") == []
