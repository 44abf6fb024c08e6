import cv2
import numpy as np

from void_engine.finish.grain import highpass, measure_grain, robust_std, synthesize


def _grainy(h, w, seed, size=0.7):
    rng = np.random.default_rng(seed)
    base = np.broadcast_to(np.linspace(0.05, 0.8, w, dtype=np.float32)[None, :, None], (h, w, 3)).copy()
    base *= np.array([1.0, 0.8, 0.6], np.float32)
    n = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), size)
    n /= n.reshape(-1, 3).std(axis=0)
    k = np.array([0.03, 0.02, 0.04], np.float32)
    return base, base + n * k * np.sqrt(base)


def test_measured_grain_is_reproduced_by_synthesis():
    base, plate = _grainy(256, 512, 0)
    model = measure_grain(plate, np.ones(plate.shape[:2], bool))
    assert model is not None
    made = base + synthesize(model, base, np.random.default_rng(5))
    for c in range(3):
        for cols in (slice(40, 140), slice(380, 480)):  # dark and bright parts: grain follows intensity
            want = robust_std(highpass(plate)[20:-20, cols, c])
            got = robust_std(highpass(made)[20:-20, cols, c])
            assert abs(got / want - 1.0) < 0.1, (c, cols, got, want)


def test_grain_size_is_measured():
    _, fine = _grainy(256, 256, 1, size=0.3)
    _, coarse = _grainy(256, 256, 1, size=1.2)
    region = np.ones((256, 256), bool)
    a, b = measure_grain(fine, region), measure_grain(coarse, region)
    assert a is not None and b is not None
    assert b.size_px > a.size_px + 0.4
    assert abs(b.size_px - 1.2) < 0.3


def test_grain_is_new_per_seed():
    base, plate = _grainy(128, 128, 2)
    model = measure_grain(plate, np.ones((128, 128), bool))
    assert model is not None
    a = synthesize(model, base, np.random.default_rng([1, 1001]))
    b = synthesize(model, base, np.random.default_rng([1, 1002]))
    c = synthesize(model, base, np.random.default_rng([1, 1001]))
    assert not np.allclose(a, b) and np.array_equal(a, c)


def test_too_small_a_region_measures_nothing():
    _, plate = _grainy(64, 64, 3)
    region = np.zeros((64, 64), bool)
    region[:10, :10] = True
    assert measure_grain(plate, region) is None


def test_static_texture_is_not_counted_as_grain_when_an_aligned_frame_is_given():
    h, w = 256, 256
    texture = cv2.GaussianBlur(np.random.default_rng(7).standard_normal((h, w, 3)).astype(np.float32), (0, 0), 0.8)
    base, a = _grainy(h, w, 4)
    _, b = _grainy(h, w, 5)
    textured = base * (1.0 + 0.3 * texture)
    frame, other = a - base + textured, b - base + textured  # the same texture, new grain per frame
    region = np.ones((h, w), bool)
    spatial = measure_grain(frame, region)
    temporal = measure_grain(frame, region, other=other)
    truth = measure_grain(a, region)
    assert spatial is not None and temporal is not None and truth is not None
    ratio = np.median(temporal.sigma / truth.sigma)
    assert abs(ratio - 1.0) < 0.1, ratio
    assert np.median(spatial.sigma / truth.sigma) > 1.5  # the frame alone counts the texture
