"""The sample shot generator: deterministic, with a ground truth that is consistent with the plate."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest

from void_engine.demo.samples import SampleScene, make_sample_shot

W, H, T = 160, 90, 6


def _read(path):
    buf = oiio.ImageBuf(str(path))
    spec = buf.spec()
    return spec, np.asarray(buf.get_pixels(oiio.FLOAT)).reshape(spec.height, spec.width, spec.nchannels)


def test_same_seed_gives_identical_frames():
    a, b = SampleScene(seed=3, width=W, height=H, frames=T), SampleScene(seed=3, width=W, height=H, frames=T)
    for i in (0, T // 2, T - 1):
        fa, fb = a.render(i), b.render(i)
        for name in ("plate", "clean", "remove", "affected"):
            assert np.array_equal(getattr(fa, name), getattr(fb, name)), (i, name)


def test_different_seed_gives_a_different_shot():
    a, b = SampleScene(seed=3, width=W, height=H, frames=T), SampleScene(seed=4, width=W, height=H, frames=T)
    assert not np.array_equal(a.render(2).clean, b.render(2).clean)
    assert not np.array_equal(a.render(2).plate, b.render(2).plate)


def test_ball_moves_across_and_casts_a_shadow():
    scene = SampleScene(seed=5, width=W, height=H, frames=T)
    xs = []
    for i in range(T):
        f = scene.render(i)
        assert f.remove.any() and f.affected.any(), f"frame index {i} lacks the ball or its shadow"
        xs.append(np.nonzero(f.remove)[1].mean())
        shadow = (f.affected > 0) & (f.remove == 0)
        # The shadow darkens the clean background, it never brightens it.
        assert np.all(f.plate[shadow, :3] <= f.clean[shadow, :3])
        assert (f.plate[shadow, :3] < f.clean[shadow, :3]).any()
    assert all(b > a for a, b in zip(xs, xs[1:])), f"ball centre x per frame {xs} is not increasing"


def test_written_shot_has_ground_truth_equal_to_plate_outside_the_mattes(tmp_path):
    shot = make_sample_shot(tmp_path / "shot", seed=11, width=W, height=H, frames=T, first_frame=1001)
    assert shot.frames == tuple(range(1001, 1001 + T))
    assert shot.frame_range == f"1001-{1000 + T}"
    for frame in shot.frames:
        spec, plate = _read(shot.path(shot.plate, frame))
        assert (spec.full_width, spec.full_height) == (W, H)
        assert list(spec.channelnames) == ["R", "G", "B", "A"]
        assert spec.format == oiio.TypeDesc("half")
        _, clean = _read(shot.path(shot.clean_plate, frame))
        _, remove = _read(shot.path(shot.remove_matte, frame))
        _, affected = _read(shot.path(shot.affected_matte, frame))
        outside = (remove[..., 0] == 0) & (affected[..., 0] == 0)
        assert np.array_equal(plate[outside], clean[outside]), f"frame {frame}: plate != clean outside mattes"
        inside = ~outside
        assert inside.any()
        assert not np.array_equal(plate[inside], clean[inside])
        assert set(np.unique(remove)) <= {0.0, 1.0} and set(np.unique(affected)) <= {0.0, 1.0}


def test_written_shot_matches_the_rendered_scene_and_is_reused(tmp_path):
    shot = make_sample_shot(tmp_path / "shot", seed=2, width=W, height=H, frames=3)
    scene = SampleScene(seed=2, width=W, height=H, frames=3)
    _, plate = _read(shot.path(shot.plate, shot.frames[1]))
    assert np.array_equal(plate, scene.render(1).plate)
    first = shot.path(shot.plate, shot.frames[0])
    stamp = first.stat().st_mtime_ns
    again = make_sample_shot(tmp_path / "shot", seed=2, width=W, height=H, frames=3)
    assert again == shot and first.stat().st_mtime_ns == stamp  # cached, not rewritten
    other = make_sample_shot(tmp_path / "shot", seed=9, width=W, height=H, frames=3)
    _, replot = _read(other.path(other.plate, other.frames[1]))
    assert not np.array_equal(replot, plate)  # different parameters regenerate


def test_too_small_a_shot_is_refused():
    with pytest.raises(ValueError, match="too small"):
        SampleScene(width=32, height=18)
