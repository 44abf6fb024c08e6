import numpy as np
import pytest

from void_engine.finish import FinishSettings
from void_engine.levels import AFFECTED, KEEP, REMOVE
from void_engine.plates import (
    ColourConverter,
    ColourError,
    FrameSequence,
    OutputExistsError,
    PlateError,
    Shot,
    ShotSettings,
    composite_matte,
    read_plate,
)

from .exr_factory import make_shot, read_raw

FRAMES = range(1001, 1004)
SETTINGS = ShotSettings(model_size=(32, 56), context_min_px=8, dilate_px=2, feather_px=3)


def _bits(a):
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


def _quadmasks(n, h, w, box=None, level=REMOVE):
    qs = [np.full((h, w), KEEP, np.uint8) for _ in range(n)]
    if box:
        y0, y1, x0, x1 = box
        for q in qs:
            q[y0:y1, x0:x1] = level
    return qs


def _load(tmp_path, box=None, data_window=None, settings=SETTINGS):
    pattern = make_shot(tmp_path / "src", FRAMES, data_window=data_window)
    seq = FrameSequence.parse(pattern, "1001-1003")
    shot = Shot.load(seq, _quadmasks(3, 96, 160, box), settings)
    return seq, shot


def _grey(shot):
    return np.full_like(shot.model_video, 0.5)


def test_all_keep_mask_leaves_every_channel_bit_identical(tmp_path):
    seq, shot = _load(tmp_path)
    out = shot.write_result(_grey(shot), tmp_path / "out", "clean")
    for f in seq.frames:
        a, sa = read_raw(seq.path(f))
        b, sb = read_raw(out.path(f))
        assert tuple(sa.channelnames) == tuple(sb.channelnames)
        assert np.array_equal(_bits(a), _bits(b)), f"frame {f} changed"


def test_mask_region_changes_only_pixels_inside_the_feathered_matte(tmp_path):
    box = (40, 60, 70, 100)
    seq, shot = _load(tmp_path, box)
    out = shot.write_result(_grey(shot), tmp_path / "out", "clean")
    q = _quadmasks(1, 96, 160, box)[0]
    matte = composite_matte(q, SETTINGS.dilate_px, SETTINGS.feather_px)
    for f in seq.frames:
        a, _ = read_raw(seq.path(f))
        b, _ = read_raw(out.path(f))
        changed = (_bits(a) != _bits(b)).any(axis=2)
        assert changed.any(), "nothing was composited"
        assert not (changed & (matte == 0)).any(), "pixels outside the matte changed"
        # and the matte itself ends within dilate + feather of the region (no soft tails beyond)
        g = SETTINGS.dilate_px + SETTINGS.feather_px + 1
        ys, xs = np.nonzero(changed)
        assert ys.min() >= box[0] - g and ys.max() < box[1] + g and xs.min() >= box[2] - g and xs.max() < box[3] + g
        assert changed[box[0] : box[1], box[2] : box[3]].all(), "the removed region kept plate pixels"
        # only the beauty changes: alpha and the extra layers pass through bit-identical
        assert np.array_equal(_bits(a[..., 3:]), _bits(b[..., 3:]))


def test_extra_layers_pass_through_with_their_types(tmp_path):
    seq, shot = _load(tmp_path, (40, 60, 70, 100))
    out = shot.write_result(_grey(shot), tmp_path / "out", "clean")
    _, spec = read_raw(out.path(1001))
    formats = dict(zip(spec.channelnames, (str(f) for f in spec.channelformats)))
    assert formats["N.x"] == "half" and formats["depth.Z"] == "float" and formats["R"] == "half"


def test_data_window_inside_display_window_is_kept_and_composited_in_place(tmp_path):
    dw = (20, 10, 120, 70)  # x, y, w, h inside a 160x96 display
    box = (30, 50, 60, 90)
    seq, shot = _load(tmp_path, box, data_window=dw)
    out = shot.write_result(_grey(shot), tmp_path / "out", "clean")
    a, sa = read_raw(seq.path(1002))
    b, sb = read_raw(out.path(1002))
    assert (sb.x, sb.y, sb.width, sb.height) == (20, 10, 120, 70)
    assert (sb.full_width, sb.full_height) == (160, 96)
    changed = (_bits(a) != _bits(b)).any(axis=2)
    ys, xs = np.nonzero(changed)
    # data-window coordinates: the box (display rows 30-50, cols 60-90) sits at rows 20-40, cols 40-70
    assert ys.min() >= 20 - 5 and ys.max() < 40 + 5 and xs.min() >= 40 - 5 and xs.max() < 70 + 5
    assert changed[20:40, 40:70].all()


def test_model_input_is_model_size_in_unit_range_with_snapped_levels(tmp_path):
    seq, shot = _load(tmp_path, (40, 60, 70, 100))
    assert shot.model_video.shape == (3, 32, 56, 3) and shot.model_video.dtype == np.float32
    assert np.isfinite(shot.model_video).all()
    assert shot.model_video.min() >= 0.0 and shot.model_video.max() <= 1.0
    assert set(np.unique(shot.model_quadmask)) <= {0, 63, 127, 255}
    assert (shot.model_quadmask == 0).any() and (shot.model_quadmask == 255).any()
    # the ROI holds the mask with context and has the model's aspect
    r = shot.roi
    assert r.x <= 70 - 8 and r.x + r.width >= 100 + 8 and r.y <= 40 - 8 and r.y + r.height >= 60 + 8
    assert abs(r.width / r.height - 56 / 32) < 0.05


def test_outputs_are_versioned_and_never_overwrite(tmp_path):
    seq, shot = _load(tmp_path, (40, 60, 70, 100))
    first = shot.write_result(_grey(shot), tmp_path / "out", "clean")
    before = first.path(1001).read_bytes()
    second = shot.write_result(np.zeros_like(shot.model_video), tmp_path / "out", "clean")
    assert first.version_dir.name == "v001" and second.version_dir.name == "v002"
    assert first.pattern.endswith("v001/clean.####.exr")
    assert first.path(1001).read_bytes() == before
    with pytest.raises(OutputExistsError, match="clean.1001.exr"):
        shot.write_result(_grey(shot), tmp_path / "out", "clean", version_dir=first.version_dir)


def test_resume_keeps_frames_an_earlier_attempt_published(tmp_path):
    seq, shot = _load(tmp_path, (40, 60, 70, 100))
    vdir = tmp_path / "out" / "v001"
    vdir.mkdir(parents=True)
    first = shot.write_result(_grey(shot), tmp_path / "out", "clean", version_dir=vdir)
    first.path(1003).unlink()  # as if the job had crashed before the last frame
    kept = first.path(1001).stat().st_mtime_ns
    again = shot.write_result(_grey(shot), tmp_path / "out", "clean", version_dir=vdir, resume=True)
    assert again.path(1003).is_file() and again.path(1001).stat().st_mtime_ns == kept


def test_provenance_is_written_into_the_header(tmp_path):
    seq, shot = _load(tmp_path, (40, 60, 70, 100))
    out = shot.write_result(_grey(shot), tmp_path / "out", "clean", {"seed": "42", "prompt": "an empty street"})
    _, spec = read_raw(out.path(1001))
    assert spec.getattribute("void:seed") == "42"
    assert spec.getattribute("void:prompt") == "an empty street"
    assert spec.getattribute("void:plate_colourspace") == "ACEScg"
    assert spec.getattribute("void:frame_range") == "1001-1003"
    assert spec.getattribute("studio:shot") == "sh010"  # the plate's own attributes stay


def test_quadmask_count_and_size_mismatches_name_the_problem(tmp_path):
    pattern = make_shot(tmp_path / "src", FRAMES)
    seq = FrameSequence.parse(pattern, "1001-1003")
    with pytest.raises(PlateError, match="quadmask has 2 frames"):
        Shot.load(seq, _quadmasks(2, 96, 160), SETTINGS)
    bad = _quadmasks(3, 96, 160)
    bad[1] = np.full((50, 50), KEEP, np.uint8)
    with pytest.raises(PlateError, match="frame 1002"):
        Shot.load(seq, bad, SETTINGS)


def test_affected_region_is_composited_too(tmp_path):
    seq, shot = _load(tmp_path, (40, 60, 70, 100))
    q = _quadmasks(1, 96, 160, (10, 20, 10, 30), AFFECTED)[0]
    assert composite_matte(q, 0, 0)[15, 20] == 1.0


def test_colour_conversion_keeps_out_of_range_values_finite():
    conv = ColourConverter()
    extreme = np.array([[[65504.0, -10.0, np.nan], [np.inf, 0.18, 1e-8]]], np.float32)
    m = conv.to_model(extreme)
    assert np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
    back = conv.from_model(conv.to_model(np.array([[[0.18, 0.05, 0.4]]], np.float32)))
    assert np.allclose(back, [0.18, 0.05, 0.4], atol=1e-3)


def test_unknown_colour_space_is_a_clear_error():
    with pytest.raises(ColourError, match="'NotASpace'"):
        ColourConverter(plate_space="NotASpace")


def test_premultiplied_alpha_is_respected_and_kept(tmp_path):
    from .exr_factory import write_exr

    rgba = np.ones((40, 70, 4), np.float32) * 0.25
    rgba[..., 3] = 0.5  # premultiplied: straight colour 0.5
    write_exr(tmp_path / "a.0001.exr", rgba, ("R", "G", "B", "A"), ("float",) * 4)
    seq = FrameSequence.parse(tmp_path / "a.####.exr", "1")
    q = _quadmasks(1, 40, 70, (10, 30, 20, 50))
    shot = Shot.load(
        seq,
        q,
        ShotSettings(
            model_size=(16, 28),
            context_min_px=4,
            dilate_px=0,
            feather_px=0,
            plate_space="ACEScg",
            model_space="ACEScg",
            # A model value of 1.0 here means 1.0 straight: no highlight knee (tests/finish covers it).
            finish=FinishSettings(highlights=False),
        ),
    )
    assert np.allclose(shot.model_video, 0.5, atol=1e-5)  # the model sees straight colour
    out = shot.write_result(np.full_like(shot.model_video, 1.0), tmp_path / "o", "x")
    px = read_plate(out.path(1)).pixels
    assert np.allclose(px[15, 30, :3], 0.5, atol=1e-3)  # 1.0 straight, premultiplied by the plate's 0.5
    assert np.all(px[..., 3] == 0.5)


def test_publish_version_renames_a_whole_staging_folder_to_the_next_version(tmp_path):
    from void_engine.plates.output import publish_version

    out = tmp_path / "out"
    (out / "v001").mkdir(parents=True)
    (out / "v007").mkdir()
    staging = out / ".void-partial-job1"
    staging.mkdir()
    (staging / "clean.1001.exr").write_bytes(b"frame")
    published = publish_version(staging, out)
    assert published == out / "v008" and not staging.exists()
    assert (published / "clean.1001.exr").read_bytes() == b"frame"


def test_nan_and_inf_plate_pixels_inside_the_matte_are_replaced_not_propagated(tmp_path):
    from .exr_factory import write_exr

    rgba = np.full((40, 70, 4), 0.25, np.float32)
    rgba[..., 3] = 1.0
    rgba[20, 30] = (np.nan, np.inf, -np.inf, 1.0)  # a dead pixel on the object being removed
    write_exr(tmp_path / "a.0001.exr", rgba, ("R", "G", "B", "A"), ("half",) * 4)
    seq = FrameSequence.parse(tmp_path / "a.####.exr", "1")
    q = _quadmasks(1, 40, 70, (10, 30, 20, 50))
    shot = Shot.load(
        seq,
        q,
        ShotSettings(
            model_size=(16, 28), context_min_px=4, dilate_px=0, feather_px=0, plate_space="ACEScg", model_space="ACEScg"
        ),
    )
    out = shot.write_result(np.full_like(shot.model_video, 0.5), tmp_path / "o", "x")
    px = read_plate(out.path(1)).pixels
    assert np.isfinite(px[10:30, 20:50]).all()
    assert np.allclose(px[20, 30, :3], 0.5, atol=1e-3)


def test_loading_a_long_shot_does_not_stack_its_quadmasks_in_memory(tmp_path):
    import tracemalloc

    from .exr_factory import write_exr

    # 48 frames on a 1024x1024 canvas whose data window is a small patch: cheap to read, while a
    # (T, H, W) copy of the quadmasks would cost 48 MB.
    frames = 48
    for f in range(1, frames + 1):
        write_exr(
            tmp_path / f"p.{f:04d}.exr",
            np.full((8, 8, 3), 0.2, np.float32),
            ("R", "G", "B"),
            ("half",) * 3,
            (500, 500),
            (0, 0, 1024, 1024),
        )
    seq = FrameSequence.parse(tmp_path / "p.####.exr", f"1-{frames}")
    q = np.full((1024, 1024), KEEP, np.uint8)
    q[500:508, 500:508] = REMOVE
    tracemalloc.start()
    try:
        Shot.load(seq, [q] * frames, ShotSettings(model_size=(16, 28)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_anamorphic_plate_gets_a_roi_with_the_model_picture_aspect(tmp_path):
    from .exr_factory import write_exr

    write_exr(
        tmp_path / "a.0001.exr",
        np.full((300, 400, 3), 0.2, np.float32),
        ("R", "G", "B"),
        ("half",) * 3,
        attributes={"PixelAspectRatio": 2.0},
    )  # 2x anamorphic: each pixel is twice as wide as tall
    seq = FrameSequence.parse(tmp_path / "a.####.exr", "1")
    shot = Shot.load(seq, _quadmasks(1, 300, 400, (140, 160, 190, 210)), SETTINGS)
    r = shot.roi
    # De-squeezed, the crop has the model's 56:32 picture aspect, so the model sees round things round.
    assert abs(r.width * 2.0 / r.height - 56 / 32) < 0.05, (r.width, r.height)


def test_plate_without_rgb_channels_is_an_error_naming_the_file_and_frame(tmp_path):
    from .exr_factory import write_exr

    write_exr(tmp_path / "y.0007.exr", np.full((40, 70, 1), 0.2, np.float32), ("Y",), ("half",))
    seq = FrameSequence.parse(tmp_path / "y.####.exr", "7")
    with pytest.raises(PlateError, match=r"y\.0007\.exr \(frame 7\).*no R, G, B channels"):
        Shot.load(seq, _quadmasks(1, 40, 70, (10, 30, 20, 50)), SETTINGS)
