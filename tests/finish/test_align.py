import cv2
import numpy as np

from void_engine.finish.align import estimate_motion


def _texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    n = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 2.0)
    return np.clip(128 + 40 * n / n.std(), 0, 255).astype(np.uint8)


def test_alignment_recovers_a_known_homography_from_keep_pixels():
    h, w = 360, 640
    source = _texture(h, w)
    known = np.array([[1.01, 0.004, 6.5], [-0.003, 0.995, -3.25], [1e-6, -2e-6, 1.0]])
    # target(p) = source(known @ p): target is what the camera saw one frame away.
    target = cv2.warpPerspective(source, known, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    # Where the warp ran off the source the target holds no picture (black): not background either.
    seen = cv2.warpPerspective(np.ones((h, w), np.uint8), known, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    keep = cv2.erode(seen, np.ones((5, 5), np.uint8)) > 0
    keep[100:260, 200:420] = False  # the object: its pixels must not be used
    target[100:260, 200:420] = 30  # and they move differently: a flat dark box
    motion = estimate_motion(target, source, keep, np.ones((h, w), bool))
    assert motion is not None
    pts = np.array([[50, 50, 1], [600, 40, 1], [320, 180, 1], [40, 330, 1], [620, 340, 1]], float).T
    got = motion.homography @ pts
    want = known @ pts
    err = np.linalg.norm(got[:2] / got[2] - want[:2] / want[2], axis=0)
    assert err.max() < 0.25


def test_too_few_keep_pixels_give_no_motion_rather_than_a_guess():
    h, w = 120, 200
    image = _texture(h, w)
    keep = np.zeros((h, w), bool)
    keep[:4, :4] = True
    assert estimate_motion(image, image, keep, keep) is None
