"""The finish stage inside the plate layer: what it reports, and what it never touches."""

import numpy as np

from tests.plates.exr_factory import make_shot, read_raw
from void_engine.finish import FinishSettings
from void_engine.levels import KEEP, REMOVE
from void_engine.plates import FrameSequence, Shot, ShotSettings

FRAMES = range(1001, 1005)


def _shot(tmp_path, finish=None):
    pattern = make_shot(tmp_path / "src", FRAMES, size=(180, 320))
    seq = FrameSequence.parse(pattern, "1001-1004")
    qs = []
    for i in range(len(FRAMES)):
        q = np.full((180, 320), KEEP, np.uint8)
        q[60:120, 100 + 10 * i : 160 + 10 * i] = REMOVE
        qs.append(q)
    settings = ShotSettings(model_size=(48, 80), context_min_px=8, finish=finish or FinishSettings())
    return seq, Shot.load(seq, qs, settings)


def test_the_finish_reports_upscale_revealed_share_and_grain_in_provenance_and_notes(tmp_path):
    _, shot = _shot(tmp_path)
    out = shot.write_result(shot.model_video, tmp_path / "out", "clean", seed=3)
    _, spec = read_raw(out.path(1002))
    upscale = float(spec.getattribute("void:finish_upscale"))
    assert upscale == np.float32(max(shot.roi.height / 48, shot.roi.width / 80)).round(3)
    assert 0.0 <= float(spec.getattribute("void:finish_revealed")) <= 1.0
    assert "sigma rgb" in spec.getattribute("void:finish_grain")
    assert out.finish is not None and out.notes[0].startswith("finish: upscale")
    assert any("warning" in note and "upscaled" in note for note in out.notes)  # 4x > 2x


def test_outside_the_matte_the_finished_output_is_bit_identical_to_the_plate(tmp_path):
    seq, shot = _shot(tmp_path)
    out = shot.write_result(np.zeros_like(shot.model_video), tmp_path / "out", "clean", seed=1)
    for t, frame in enumerate(FRAMES):
        src, _ = read_raw(seq.path(frame))
        got, _ = read_raw(out.path(frame))
        far = np.ones((180, 320), bool)
        far[60 - 30 : 120 + 30, 100 + 10 * t - 30 : 160 + 10 * t + 30] = False  # beyond dilate + feather
        assert np.array_equal(got[far].view(np.uint16), src[far].view(np.uint16))


def test_the_finish_off_writes_no_finish_attributes(tmp_path):
    _, shot = _shot(tmp_path, FinishSettings(enabled=False))
    out = shot.write_result(shot.model_video, tmp_path / "out", "clean")
    _, spec = read_raw(out.path(1001))
    assert spec.getattribute("void:finish_upscale") is None
    assert out.notes == () and out.finish is None


def test_frames_written_in_parallel_are_finished_as_one_after_another(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from void_engine.plates.shot import executor_frame_map

    _, shot = _shot(tmp_path)
    serial = shot.write_result(shot.model_video, tmp_path / "serial", "clean", seed=5)
    with ThreadPoolExecutor(3) as pool:
        parallel = shot.write_result(
            shot.model_video, tmp_path / "parallel", "clean", seed=5, frame_map=executor_frame_map(pool)
        )
    assert parallel.finish is not None and serial.finish is not None
    assert parallel.finish.revealed == serial.finish.revealed  # the same frames, in the same order
    for frame in FRAMES:
        a, _ = read_raw(serial.path(frame))
        b, _ = read_raw(parallel.path(frame))
        assert np.array_equal(a.view(np.uint16), b.view(np.uint16))
