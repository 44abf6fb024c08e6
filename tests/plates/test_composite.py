"""The composite matte, computed on its box (void_engine.plates.composite)."""

import numpy as np
import pytest

from void_engine.levels import KEEP, REMOVE
from void_engine.plates import composite_matte
from void_engine.plates.composite import composite_matte_box


def _exact_distance(region: np.ndarray) -> np.ndarray:
    """Brute force: sqrt of the integer squared distance to the nearest region pixel, in float32."""
    ys, xs = np.nonzero(region)
    yy, xx = np.mgrid[0 : region.shape[0], 0 : region.shape[1]]
    d2 = np.full(region.shape, np.iinfo(np.int64).max, np.int64)
    for y, x in zip(ys, xs):
        np.minimum(d2, (yy - y) ** 2 + (xx - x) ** 2, out=d2)
    return np.sqrt(d2.astype(np.float32))


def _quadmask(rng: np.random.Generator, shape=(60, 90)) -> np.ndarray:
    q = np.full(shape, KEEP, np.uint8)
    for _ in range(3):
        y, x = rng.integers(-5, shape[0]), rng.integers(-5, shape[1])
        q[max(y, 0) : max(y + rng.integers(1, 12), 0), max(x, 0) : max(x + rng.integers(1, 12), 0)] = REMOVE
    q[rng.random(shape) < 0.002] = REMOVE
    return q


@pytest.mark.parametrize("seed", range(6))
def test_matte_is_the_smoothstep_of_the_exact_distance_within_the_feather(seed):
    rng = np.random.default_rng(seed)
    q = _quadmask(rng)
    feather = 6
    matte = composite_matte(q, 0, feather)
    t = np.clip(1.0 - _exact_distance(q != KEEP) / float(feather), 0.0, 1.0)
    expected = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    assert np.array_equal(matte.view(np.uint32), expected.view(np.uint32))


def test_matte_box_holds_every_nonzero_pixel_and_the_matte_is_zero_outside_it():
    q = np.full((80, 120), KEEP, np.uint8)
    q[30:40, 50:70] = REMOVE
    box_matte, box = composite_matte_box(q, 2, 5)
    assert box is not None and box_matte.shape == (box.height, box.width)
    whole = composite_matte(q, 2, 5)
    outside = whole.copy()
    outside[box.y : box.y_end, box.x : box.x_end] = 0
    assert not outside.any()
    assert np.array_equal(whole[box.y : box.y_end, box.x : box.x_end], box_matte)
    assert whole[35, 60] == 1.0 and whole[30 - 2 - 5, 60] == 0.0


def test_an_all_keep_quadmask_has_no_box():
    box_matte, box = composite_matte_box(np.full((10, 10), KEEP, np.uint8), 2, 5)
    assert box is None and box_matte.size == 0
