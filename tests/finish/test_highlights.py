import numpy as np
import pytest

from void_engine.finish.highlights import SoftKnee
from void_engine.plates import ColourConverter


def test_encoding_is_exactly_invertible_up_to_the_ceiling():
    knee = SoftKnee(0.75, 3.29)
    x = np.linspace(0.0, 3.29, 200001, dtype=np.float32)
    back = knee.decode(knee.encode(x))
    np.testing.assert_allclose(back, x, rtol=2e-6, atol=1e-7)


def test_values_below_the_knee_pass_bit_identical():
    knee = SoftKnee(0.75, 3.0)
    x = np.random.default_rng(0).uniform(0, 0.75, 10000).astype(np.float32)
    assert np.array_equal(knee.encode(x), x) and np.array_equal(knee.decode(x), x)


def test_the_ceiling_maps_to_one_and_the_curve_is_smooth_at_the_knee():
    knee = SoftKnee(0.75, 3.0)
    assert knee.encode(np.float32(3.0)) == pytest.approx(1.0, abs=1e-6)
    eps = 1e-3
    slope = (knee.encode(np.float32(0.75 + eps)) - knee.encode(np.float32(0.75))) / eps
    assert slope == pytest.approx(1.0, abs=5e-3)
    assert knee.encode(np.float32(10.0)) == pytest.approx(1.0)  # beyond the ceiling: clamped


def test_a_highlight_survives_the_model_round_trip_of_the_plate_colour_path():
    plain = ColourConverter("ACEScg", "sRGB Encoded Rec.709 (sRGB)")
    kneed = ColourConverter("ACEScg", "sRGB Encoded Rec.709 (sRGB)", highlight=(0.75, 16.0))
    rgb = np.array([[[8.0, 8.0, 8.0], [0.18, 0.18, 0.18]]], np.float32)
    assert plain.from_model(plain.to_model(rgb))[0, 0, 0] < 1.1  # clamped today
    back = kneed.from_model(kneed.to_model(rgb))
    np.testing.assert_allclose(back, rgb, rtol=1e-3)
    assert kneed.to_model(rgb).max() <= 1.0
