import cv2
import numpy as np

from void_engine.finish import FinishSettings
from void_engine.finish.stage import Finisher


def test_a_model_value_brighter_than_anything_the_plate_shows_is_capped_there():
    h, w = 96, 128
    rng = np.random.default_rng(0)
    plate = (0.2 + 0.02 * rng.standard_normal((h, w, 3))).astype(np.float32)
    keep = np.ones((h, w), bool)
    keep[30:70, 40:90] = False

    def read(index: int) -> tuple[np.ndarray, np.ndarray]:
        return plate, keep

    finisher = Finisher(FinishSettings(reveal=False, grain=False), read, 1, (h, w), (24, 32))
    model = np.full((h, w, 3), 0.2, np.float32)
    model[45:55, 60:70] = 16.0  # a preview smudge near 1.0 decoded to the knee's ceiling
    matte = (~keep).astype(np.float32)
    out = finisher.frame(0, model, matte).rgb
    assert out[45:55, 60:70].max() == 1.0  # no brighter than a plain [0, 1] result
    np.testing.assert_array_equal(out[~(matte > 0)], model[~(matte > 0)])


def test_two_parts_of_the_matte_far_apart_are_finished_in_two_boxes():
    from void_engine.finish.stage import _fill_boxes

    matte = np.zeros((200, 400), np.float32)
    matte[20:60, 30:80] = 1.0
    matte[120:180, 300:360] = 0.5
    assert sorted(_fill_boxes(matte, 4)) == [(26, 16, 58, 48), (296, 116, 68, 68)]


def test_a_candidate_frames_exposure_is_matched_to_the_frame_it_fills():
    # A static camera whose exposure rises 3% between the two frames: frame 1's hole is seen in
    # frame 0, whose pixels, pasted as they are, would make a patch 3% brighter than around it.
    h, w = 160, 200
    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    background = 0.1 + 0.4 * (texture - texture.min()) / (texture.max() - texture.min())
    frames = [background * 1.03, background.copy()]
    keeps = [np.ones((h, w), bool), np.ones((h, w), bool)]
    keeps[1][50:110, 60:140] = False
    frames[1][~keeps[1]] = 0.9  # the object

    def read(index: int) -> tuple[np.ndarray, np.ndarray]:
        return frames[index], keeps[index]

    model = cv2.GaussianBlur(background, (0, 0), 2.0)  # the model's softer fill, at frame 1's exposure
    # The composite matte reaches past the hole (its dilation and feather), over keep pixels.
    matte = cv2.dilate((~keeps[1]).astype(np.float32), np.ones((33, 33), np.uint8))
    inside = ~keeps[1]
    errors = {}
    for match in (True, False):
        settings = FinishSettings(grain=False, highlights=False, match_exposure=match, search_radius=1)
        out = Finisher(settings, read, 2, (h, w), (h // 4, w // 4), read_ahead=False).frame(1, model, matte).rgb
        errors[match] = float(np.mean(out[inside] / background[inside]) - 1.0)
    assert abs(errors[True]) < 0.003 and errors[False] > 0.012  # unmatched: 3% brighter where pasted outright
