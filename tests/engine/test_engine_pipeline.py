"""The pipelined worker's parts on their own: the memory budget, and frames in flight on the pool."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest


def test_the_memory_budget_waits_until_the_bytes_fit():
    from void_engine.service.worker import MemoryBudget

    budget = MemoryBudget(cap=100)
    assert budget.acquire(60, lambda: False)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(budget.acquire(60, lambda: False, poll_s=0.01)))
    waiter.start()
    time.sleep(0.1)
    assert got == [] and budget.held == 60  # 60 + 60 > 100: it waits
    budget.release(60)
    waiter.join(2)
    assert got == [True] and budget.held == 60 and budget.peak == 60


def test_the_memory_budget_lets_a_job_larger_than_the_cap_run_alone():
    from void_engine.service.worker import MemoryBudget

    budget = MemoryBudget(cap=100)
    assert budget.acquire(500, lambda: False)  # nothing else held: it runs, alone
    assert not budget.acquire(1, lambda: True, poll_s=0.01)  # anything more waits (here: gives up)
    assert budget.held == 500


def test_a_write_that_fails_leaves_no_frame_still_being_written(tmp_path, sample_shot):
    """The runner removes the staging folder right after write_result raises: by then no frame may
    still be on its way into it."""
    from void_engine.plates import FrameSequence, PlateError, Shot, ShotSettings
    from void_engine.plates.exr import read_image_channel
    from void_engine.plates.shot import executor_frame_map

    seq = FrameSequence(sample_shot.plate, tuple(sample_shot.frames))
    masks = [
        (read_image_channel(FrameSequence(sample_shot.remove_matte, seq.frames).path(f)) <= 0.5).astype("uint8") * 255
        for f in seq.frames
    ]
    shot = Shot.load(seq, masks, ShotSettings(model_size=(32, 64)))
    real = shot.write_frame

    def write_frame(t, model_frame, target, attrs, **kw):
        if t == 0:
            raise PlateError("frame 0 cannot be written")
        time.sleep(0.3)  # the others are still writing when frame 0 fails
        real(t, model_frame, target, attrs, **kw)

    shot.write_frame = write_frame
    out = tmp_path / "staging"
    with ThreadPoolExecutor(3) as pool, pytest.raises(PlateError):
        shot.write_result(shot.model_video, tmp_path, "x", version_dir=out, frame_map=executor_frame_map(pool))
    written = sorted(p.name for p in out.iterdir())
    time.sleep(0.5)
    assert sorted(p.name for p in out.iterdir()) == written  # nothing arrived after the error
