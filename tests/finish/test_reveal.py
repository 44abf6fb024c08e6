import numpy as np

from void_engine.finish.reveal import choose_candidates, combine, exposure_gain, robust_background


def _textured(h, w, seed=0):
    rng = np.random.default_rng(seed)
    return (0.2 + 0.02 * rng.standard_normal((h, w, 3))).astype(np.float32).clip(0.01)


def test_a_transient_foreground_in_one_candidate_is_rejected_not_pasted():
    h, w = 64, 96
    background = _textured(h, w)
    candidates = np.stack([background.copy() for _ in range(5)])
    candidates[2, 10:40, 20:60] = (0.9, 0.6, 0.5)  # a hand passing in one frame only
    valid = np.ones((5, h, w), bool)
    est = robust_background(candidates, valid, vote_factor=4, tolerance_stops=0.25)
    np.testing.assert_allclose(est.rgb, background, atol=1e-5)
    assert est.weight[20, 30] == 4.0 and est.weight[0, 0] == 5.0


def test_candidates_count_only_where_valid():
    h, w = 32, 32
    bg = _textured(h, w)
    candidates = np.stack([bg, np.zeros_like(bg)])
    valid = np.stack([np.ones((h, w), bool), np.zeros((h, w), bool)])
    est = robust_background(candidates, valid, vote_factor=2, tolerance_stops=0.25)
    np.testing.assert_allclose(est.rgb, bg, atol=1e-6)


def test_disagreement_with_the_model_keeps_the_models_value():
    h, w = 96, 96
    model = np.full((h, w, 3), 0.2, np.float32)
    plate = _textured(h, w) * 3.0  # a different surface: ~1.6 stops brighter
    est = robust_background(plate[None], np.ones((1, h, w), bool), vote_factor=4, tolerance_stops=0.25)
    out = combine(model, est, model_scale=4.0, tolerance_stops=0.3, strong_stops=0.06)
    np.testing.assert_allclose(out.rgb, model, atol=1e-6)
    assert out.revealed.max() == 0.0


def test_agreement_with_the_model_brings_in_the_plates_own_pixels():
    h, w = 96, 96
    plate = _textured(h, w)
    model = np.full((h, w, 3), 0.2, np.float32)  # the plate's low frequencies, without its detail
    est = robust_background(plate[None], np.ones((1, h, w), bool), vote_factor=4, tolerance_stops=0.25)
    out = combine(model, est, model_scale=4.0, tolerance_stops=0.3, strong_stops=0.06)
    inner = (slice(12, -12), slice(12, -12))
    assert out.revealed[inner].min() > 0.99
    np.testing.assert_allclose(out.rgb[inner], plate[inner], atol=2e-3)


def test_the_frame_itself_is_used_alone_where_it_shows_the_background():
    h, w = 32, 48
    own = _textured(h, w, seed=1)
    other = _textured(h, w, seed=2)  # the same surface, other grain
    est = robust_background(
        np.stack([other, own]), np.ones((2, h, w), bool), vote_factor=2, tolerance_stops=1.0, prefer_last=True
    )
    np.testing.assert_allclose(est.rgb[4:-4, 4:-4], own[4:-4, 4:-4], atol=1e-6)
    assert est.grain_kept[4:-4, 4:-4].min() == 1.0


def test_candidates_are_chosen_for_what_they_add_so_both_sides_of_a_crossing_object_are_used():
    # The hole is 40 px wide. Frames after t show its left 30 px (the object moved right), frames
    # before t its right 30 px; the later frames show more of it, so scored alone they would all win.
    hole = np.zeros((20, 60), bool)
    hole[:, 10:50] = True
    after, before = np.zeros_like(hole), np.zeros_like(hole)
    after[:, 10:42] = True
    before[:, 20:50] = True
    seen = [after, after, after, before, before]
    picks = choose_candidates(hole, seen, [1, 2, 3, 1, 2], count=2)
    assert sorted(picks) == [0, 3]  # one of each side, the nearest of each
    covered = np.zeros_like(hole)
    for i in picks:
        covered |= seen[i]
    assert covered[hole].all()


def test_candidates_keep_coming_until_each_pixel_has_several_votes():
    hole = np.ones((10, 10), bool)
    seen = [hole.copy() for _ in range(5)]
    assert choose_candidates(hole, seen, [1, 2, 3, 4, 5], count=4, votes=3) == [0, 1, 2]


def test_a_candidates_exposure_drift_is_measured_despite_a_transient_and_grain():
    h, w = 80, 120
    rng = np.random.default_rng(3)
    reference = _textured(h, w, seed=5)
    candidate = reference * np.array([1.08, 1.05, 0.97], np.float32)  # brighter, a little warmer
    candidate += 0.004 * rng.standard_normal(candidate.shape).astype(np.float32)  # its own grain
    candidate[5:35, 10:50] = (0.9, 0.6, 0.5)  # a hand passing in the candidate only
    valid = np.ones((h, w), bool)
    gain = exposure_gain(candidate, valid, reference, valid)
    np.testing.assert_allclose(gain, [1 / 1.08, 1 / 1.05, 1 / 0.97], rtol=2e-3)


def test_no_exposure_gain_is_measured_from_too_few_shared_pixels():
    reference = _textured(40, 40)
    valid = np.zeros((40, 40), bool)
    valid[:5, :5] = True
    np.testing.assert_array_equal(exposure_gain(reference * 1.5, valid, reference, valid), np.ones(3, np.float32))
