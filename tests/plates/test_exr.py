import numpy as np
import pytest

from void_engine.plates import (
    CorruptPlateError,
    OutputExistsError,
    PlateError,
    read_image_channel,
    read_plate,
    write_plate,
)

from .exr_factory import read_raw, write_exr


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


@pytest.fixture
def layered_exr(tmp_path):
    rng = np.random.default_rng(1)
    px = rng.normal(0, 3, (20, 30, 6)).astype(np.float32)  # negatives and values above 1 too
    return write_exr(
        tmp_path / "src.exr",
        px,
        ("R", "G", "B", "A", "depth.Z", "N.x"),
        ("half", "half", "half", "half", "float", "half"),
        data_window=(5, -3),
        display=(0, 0, 48, 27),
        attributes={"studio:camera": "A001", "PixelAspectRatio": 2.0, "custom:frame": 1001},
        compression="piz",
    )


def test_data_window_and_display_window_round_trip_exactly(layered_exr, tmp_path):
    plate = read_plate(layered_exr)
    out = write_plate(tmp_path / "out.exr", plate)
    a, sa = read_raw(layered_exr)
    b, sb = read_raw(out)
    assert (sb.x, sb.y, sb.width, sb.height) == (5, -3, 30, 20)
    assert (sb.full_x, sb.full_y, sb.full_width, sb.full_height) == (0, 0, 48, 27)
    assert np.array_equal(_bits(a), _bits(b))


def test_half_and_float_channels_keep_their_types(layered_exr, tmp_path):
    out = write_plate(tmp_path / "out.exr", read_plate(layered_exr))
    _, spec = read_raw(out)
    formats = dict(zip(spec.channelnames, (str(f) for f in spec.channelformats)))
    assert formats == {"R": "half", "G": "half", "B": "half", "A": "half", "depth.Z": "float", "N.x": "half"}


@pytest.mark.parametrize("fmt", ["half", "float"])
def test_single_type_plates_keep_their_type(tmp_path, fmt):
    px = np.random.default_rng(2).uniform(0, 2, (8, 10, 4)).astype(np.float32)
    src = write_exr(tmp_path / "src.exr", px, ("R", "G", "B", "A"), (fmt,) * 4)
    out = write_plate(tmp_path / "out.exr", read_plate(src))
    _, spec = read_raw(out)
    assert str(spec.format) == fmt
    assert [str(f) for f in spec.channelformats] in ([], [fmt] * 4)
    assert np.array_equal(_bits(read_raw(src)[0]), _bits(read_raw(out)[0]))


def test_header_attributes_survive(layered_exr, tmp_path):
    out = write_plate(tmp_path / "out.exr", read_plate(layered_exr))
    _, spec = read_raw(out)
    assert spec.getattribute("compression") == "piz"
    assert spec.getattribute("studio:camera") == "A001"
    assert spec.getattribute("custom:frame") == 1001
    assert spec.getattribute("PixelAspectRatio") == 2.0


def test_write_never_replaces_an_existing_file(layered_exr, tmp_path):
    target = tmp_path / "out.exr"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="out.exr"):
        write_plate(target, read_plate(layered_exr))
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left behind


def test_corrupt_exr_error_names_the_file(layered_exr, tmp_path):
    broken = tmp_path / "broken.0001.exr"
    data = layered_exr.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptPlateError, match="broken.0001.exr"):
        read_plate(broken)
    garbage = tmp_path / "garbage.exr"
    garbage.write_bytes(b"not an exr at all" * 10)
    with pytest.raises(CorruptPlateError, match="garbage.exr"):
        read_plate(garbage)


def test_missing_file_error_names_the_file(tmp_path):
    with pytest.raises(PlateError, match="nothere.exr"):
        read_plate(tmp_path / "nothere.exr")


def test_read_image_channel_places_the_data_window_on_the_display_canvas(layered_exr):
    plate = read_plate(layered_exr)
    z = read_image_channel(layered_exr, "depth.Z")
    assert z.shape == (27, 48)
    zi = plate.spec.channel_index("depth.Z")
    # data window starts at (5, -3): display row 0 is data row 3; rows below data end are 0
    assert np.array_equal(z[0:17, 5:35], plate.pixels[3:20, :, zi])
    assert not z[17:, :].any() and not z[:, :5].any() and not z[:, 35:].any()
    with pytest.raises(PlateError, match="no channel 'Q'"):
        read_image_channel(layered_exr, "Q")
