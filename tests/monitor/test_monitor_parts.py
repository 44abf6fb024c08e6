"""The monitor's parts without a server: settings, progress from journal events, thumbnails' colour."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.protocol import JobSpec
from void_engine.config import ConfigError, load_config
from void_engine.service.journal import Journal


def test_monitor_settings_are_read_from_their_section_and_default_to_off(tmp_path):
    assert load_config(None).monitor_settings().enabled is False
    path = tmp_path / "engine.toml"
    path.write_text("[monitor]\nmonitor_enabled = true\nmonitor_bind = '::1'\nmonitor_port = 9100\n")
    mon = load_config(path).monitor_settings()
    assert (mon.enabled, mon.bind, mon.port) == (True, "::1", 9100)


def test_an_unknown_or_mistyped_monitor_setting_names_the_key(tmp_path):
    path = tmp_path / "engine.toml"
    path.write_text("[monitor]\nenabled = true\n")
    with pytest.raises(ConfigError, match="unknown key 'enabled' in \\[monitor\\]"):
        load_config(path)
    path.write_text('[monitor]\nmonitor_port = "8555"\n')
    with pytest.raises(ConfigError, match="\\[monitor\\] monitor_port must be int"):
        load_config(path)


def journal_with_job(tmp_path) -> tuple[Journal, str]:
    journal = Journal(tmp_path / "journal.sqlite3")
    spec = JobSpec(plate="/shots/bigben/plate.####.exr", frames=(1001, 1002), prompt="river", remove="/m.####.exr")
    rec, _ = journal.submit("token:abc", spec)
    return journal, rec.id


def test_progress_follows_stages_and_steps_and_the_label_says_where_the_job_is(tmp_path):
    from void_engine.monitor.tracker import JobTracker

    journal, jid = journal_with_job(tmp_path)
    tracker = JobTracker(journal, limit=10)
    journal.claim_next()
    journal.add_event(jid, kind="stage", stage="read", step=1, total=2)
    tracker.poll()
    (row,) = tracker.rows()
    assert row.shot == "plate" and row.progress.stage_label() == "read 1/2"
    reading = row.progress.fraction
    journal.add_event(jid, kind="stage", stage="model", step=0, total=10)
    journal.add_event(jid, kind="step", window=0, step=5, total=10)
    tracker.poll()
    (row,) = tracker.rows()
    assert row.progress.stage_label() == "model · step 5/10"
    assert reading < row.progress.fraction < 0.9
    journal.finish(jid, "done", result={"version_dir": "/x", "pattern": "/x/p.####.exr", "frames": [1001, 1002]})
    tracker.poll()
    assert tracker.rows()[0].progress.fraction == 1.0 and tracker.rows()[0].progress.stage_label() == "done"


def test_only_events_stored_after_the_monitor_started_move_the_counters(tmp_path):
    from void_engine.monitor.metrics import EngineMetrics
    from void_engine.monitor.tracker import JobTracker

    journal, old = journal_with_job(tmp_path)
    journal.request_cancel(old)
    metrics = EngineMetrics(journal.count_by_state)
    tracker = JobTracker(journal, limit=10, observe=metrics.observe, since=journal.events(old)[-1].ts + 1e-6)
    tracker.poll()

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert value("void_engine_jobs_finished_total", state="cancelled") == 0  # the earlier run's cancel
    new, _ = journal.submit("token:abc", JobSpec(plate="/a.####.exr", frames=(1,), prompt="p", remove="/m.####.exr"))
    journal.request_cancel(new.id)
    tracker.poll()
    assert value("void_engine_jobs_finished_total", state="cancelled") == 1
    assert value("void_engine_jobs_submitted_total") == 1


def test_a_plate_thumbnail_is_the_frame_through_the_ocio_display_view(sample_shot, tmp_path):
    import OpenImageIO as oiio

    from void_engine.masks.frames import resize_plane
    from void_engine.monitor.thumbnails import render_picture, write_jpeg
    from void_engine.plates import read_plate
    from void_engine.plates.colour import DisplayView

    path = sample_shot.plate.replace("####", "1002")
    view = DisplayView()
    pixels = render_picture(path, 80, view)
    assert pixels.shape == (48, 80, 3) and pixels.dtype == np.uint8
    plate = read_plate(path)
    expected = view.apply(resize_plane(plate.display_canvas(plate.spec.rgb_indices), (48, 80))) * 255
    assert np.abs(pixels.astype(float) - expected).max() <= 1.0
    # The scene-linear values are not what is shown: the display transform was applied.
    linear = resize_plane(plate.display_canvas(plate.spec.rgb_indices), (48, 80)) * 255
    assert np.abs(pixels.astype(float) - np.clip(linear, 0, 255)).mean() > 10
    write_jpeg(pixels, tmp_path / "t.jpg")
    back = oiio.ImageBuf(str(tmp_path / "t.jpg")).get_pixels(oiio.UINT8)
    assert np.abs(back.astype(float) - pixels).mean() < 4  # JPEG at quality 85


def test_a_quadmask_thumbnail_shows_each_level_in_its_colour(tmp_path):
    from void_engine.levels import AFFECTED, KEEP, OVERLAP, REMOVE
    from void_engine.monitor.thumbnails import QUADMASK_COLOURS, render_quadmask
    from void_engine.plates.exr import Plate, PlateSpec, Window, write_plate

    levels = np.full((32, 64, 1), KEEP / 255, np.float32)
    levels[:, :16], levels[:, 16:32], levels[:, 32:48] = REMOVE / 255, OVERLAP / 255, AFFECTED / 255
    win = Window(0, 0, 64, 32)
    spec = PlateSpec(win, win, ("Y",), ("half",))
    write_plate(tmp_path / "q.1.exr", Plate(levels, spec))
    rgb = render_quadmask(tmp_path / "q.1.exr", 64)
    for x, level in ((8, REMOVE), (24, OVERLAP), (40, AFFECTED), (56, KEEP)):
        assert tuple(rgb[16, x]) == QUADMASK_COLOURS[level]


def test_strip_frames_spread_over_the_shot_and_keep_its_ends():
    from void_engine.monitor.thumbnails import strip_frames

    assert strip_frames(range(1001, 1097), 4) == (1001, 1033, 1064, 1096)
    assert strip_frames([5, 6], 8) == (5, 6)


def test_gpu_memory_in_use_and_peak_are_reported_once_the_engine_has_used_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (the engine's GPU memory gauges read torch.cuda)")
    from prometheus_client.parser import text_string_to_metric_families

    from void_engine.monitor.metrics import EngineMetrics

    held = torch.empty(64 * 2**20, dtype=torch.uint8, device="cuda:0")
    text = EngineMetrics(dict).render().decode()
    values = {s.name: s.value for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert values["void_engine_gpu_memory_used_bytes"] >= held.numel()
    assert values["void_engine_gpu_memory_peak_bytes"] >= values["void_engine_gpu_memory_used_bytes"]
    del held


class CountingJournal(Journal):
    """The real journal, counting the events it hands out."""

    read = 0

    def events(self, job, after=0, limit=500):
        evs = super().events(job, after, limit)
        self.read += len(evs)
        return evs


def test_a_job_that_ended_before_the_monitor_started_is_read_from_its_first_and_last_events(tmp_path):
    from void_engine.monitor.tracker import JobTracker

    journal = CountingJournal(tmp_path / "journal.sqlite3")
    spec = JobSpec(plate="/shots/a/plate.####.exr", frames=(1001,), prompt="river", remove="/m.####.exr")
    jid = journal.submit("token:abc", spec)[0].id
    journal.claim_next()
    for step in range(1, 1201):  # more events than one journal read returns
        journal.add_event(jid, kind="step", window=0, step=step, total=1200)
    journal.finish(jid, "failed", error="GPU out of memory")
    tracker = JobTracker(journal, limit=10, since=journal.events(jid, journal.last_seq(jid) - 1)[-1].ts + 1e-6)
    journal.read = 0
    tracker.poll()
    (row,) = tracker.rows()
    assert row.progress.state == "failed" and row.progress.seq == journal.last_seq(jid)
    assert row.progress.started_at is not None and row.to_json(0.0)["error"] == "GPU out of memory"
    assert journal.read <= 501  # its first 500 events and the last, not all 1,203
