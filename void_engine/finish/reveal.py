"""Revealed background: the plate's own pixels from other frames, where they agree with the model.

Two steps, both per output frame:

1. :func:`robust_background` — candidate frames, already warped onto the target frame, vote per
   pixel. Votes are compared at reduced resolution in a log encoding (so grain and sub-pixel
   misalignment do not count as disagreement); a candidate that differs from the median of the
   valid votes is dropped there. A transient foreground — a hand that passes in one or two
   candidates — is outvoted instead of pasted. The estimate is the mean of the surviving
   candidates at full resolution.
2. :func:`combine` — the estimate is accepted only where its low frequencies (at the model's
   resolution) agree with the model's upscaled result: VOID says what is there, the plate supplies
   the detail. Where they agree closely the plate's value is used outright (its highlights too);
   where they agree loosely, the model's low frequencies carry the plate's high ones; where they do
   not agree at all, the model's value stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

LOG_OFFSET = 0.02  # log2(x + offset): near-black differences are not magnified into disagreement


def log_encode(rgb: np.ndarray) -> np.ndarray:
    return np.log2(np.maximum(rgb, 0.0) + LOG_OFFSET).astype(np.float32)


def video_encode(rgb: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve (extended above 1): the encoding the model's video was averaged in
    when it was scaled to the model's size, so low frequencies compared or exchanged in it carry no
    bias from averaging textured areas in another encoding."""
    x = np.maximum(np.asarray(rgb, np.float32), np.float32(0.0))
    # OpenCV's pow is several times numpy's speed, to a few parts in 10^7.
    out = np.asarray(cv2.pow(x, 1 / 2.4), np.float32)
    out *= np.float32(1.055)
    out -= np.float32(0.055)
    np.copyto(out, x * np.float32(12.92), where=x <= 0.0031308)
    return out


def video_decode(encoded: np.ndarray) -> np.ndarray:
    """The inverse of :func:`video_encode` (on values >= 0), to a few parts in 10^6."""
    y = np.maximum(np.asarray(encoded, np.float32), np.float32(0.0))
    out = np.asarray(cv2.pow((y + np.float32(0.055)) * np.float32(1 / 1.055), 2.4), np.float32)
    np.copyto(out, y * np.float32(1 / 12.92), where=y <= 0.04045)
    return out


def _reduce(image: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return np.ascontiguousarray(image, np.float32)
    h, w = image.shape[:2]
    size = (max(1, w // factor), max(1, h // factor))
    return cv2.resize(np.ascontiguousarray(image, np.float32), size, interpolation=cv2.INTER_AREA)


def _expand(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if image.shape[:2] == (h, w):
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)


def choose_candidates(
    hole: np.ndarray, seen: Sequence[np.ndarray], distance: Sequence[int], count: int, votes: int = 3
) -> list[int]:
    """Indices into ``seen`` (each an (h, w) bool: where that candidate frame shows the background
    of ``hole``) of up to ``count`` candidates, best first.

    Chosen greedily for what they add: a hole pixel wants ``votes`` candidates (so a transient in
    one of them is outvoted), and each round takes the candidate that adds the most wanted votes,
    a pixel's first vote counting most. Scoring each candidate's coverage alone instead would pick
    frames that all show the same part of the hole (those on one side of a crossing object) and
    leave a strip that only the frames on the other side show unfilled. Ties go to the nearer frame
    (smaller ``distance``).
    """
    total = max(int(hole.sum()), 1)
    worth = np.array([1.0 / (2**k) for k in range(votes)] + [0.0], np.float64)  # by votes already cast
    covered = np.zeros(hole.shape, np.int16)
    shows = [np.asarray(m, bool) & hole for m in seen]
    chosen: list[int] = []
    for _ in range(min(count, len(shows))):
        best, best_score = -1, 0.0
        for i, m in enumerate(shows):
            if i in chosen:
                continue
            cast = np.minimum(covered[m], votes)
            gain = float(np.bincount(cast, minlength=votes + 1) @ worth) / total
            score = gain - 0.002 * distance[i]
            if gain > 0 and (best < 0 or score > best_score):
                best, best_score = i, score
        if best < 0:
            break
        chosen.append(best)
        covered += shows[best]
    return chosen


MIN_EXPOSURE_SAMPLES = 256  # shared pixels (per channel) below which no exposure gain is measured
MAX_EXPOSURE_SAMPLES = 20_000  # pixels a gain is measured on, at most (a regular subsample beyond)
EXPOSURE_DARK = 0.01  # pixels darker than this (either image) are noise in a ratio
MAX_EXPOSURE_STOPS = 1.0  # a gain beyond this either way is not an exposure change: none is applied


def exposure_gain(
    candidate: np.ndarray, candidate_valid: np.ndarray, reference: np.ndarray, reference_valid: np.ndarray
) -> np.ndarray:
    """(3,) float32 per-channel gain that brings ``candidate`` (h, w, 3, aligned onto
    ``reference``) to the exposure and white balance of ``reference``, from the pixels valid in both.

    Real cameras drift: auto exposure follows a dark object through the shot, lights flicker, so a
    frame a dozen frames away is a few percent brighter, and its pixels pasted into the hole would
    show as a lighter patch the shape of where the object was. The gain comes from the per-pixel
    ratios (in log2), robustly, so what else differs between the frames (grain, a transient
    foreground) does not pull it: the ratios far from their median are dropped before their mean
    is taken. 1 per channel where too few pixels are shared to tell.
    """
    ones = np.ones(3, np.float32)
    # A regular subsample (every k-th pixel each way) of a large image: a median needs no more.
    h, w = candidate_valid.shape
    k = max(1, int(np.sqrt(h * w / (4 * MAX_EXPOSURE_SAMPLES))))
    both = candidate_valid[::k, ::k] & reference_valid[::k, ::k]
    count = int(both.sum())
    if count < MIN_EXPOSURE_SAMPLES:
        return ones
    a, b = candidate[::k, ::k][both], reference[::k, ::k][both]  # (N, 3)
    if count > MAX_EXPOSURE_SAMPLES:
        step = count // MAX_EXPOSURE_SAMPLES + 1
        a, b = a[::step], b[::step]
    gain = ones.copy()
    for c in range(3):
        lit = (a[:, c] > EXPOSURE_DARK) & (b[:, c] > EXPOSURE_DARK)
        if int(lit.sum()) < MIN_EXPOSURE_SAMPLES:
            continue
        ratio = np.log2(b[lit, c] / a[lit, c])
        # The median, then the mean of the ratios near it: a transient covering part of the pixels
        # would shift a plain median by a fraction of the ratios' spread; dropped, it shifts nothing.
        centre = float(np.median(ratio))
        spread = max(float(np.median(np.abs(ratio - centre))) * 1.4826, 1e-4)
        stops = float(ratio[np.abs(ratio - centre) < 3.0 * spread].mean())
        if abs(stops) <= MAX_EXPOSURE_STOPS:
            gain[c] = np.float32(2.0**stops)
    return gain


@dataclass(frozen=True)
class Background:
    """The robust plate estimate for one frame's fill box."""

    rgb: np.ndarray  # (h, w, 3) float32 mean of the surviving candidates (0 where none)
    weight: np.ndarray  # (h, w) float32 sum of the candidates' weights (0: nothing seen)
    grain_kept: np.ndarray  # (h, w) float32 fraction of one frame's grain deviation the mean keeps


def robust_background(
    candidates: Sequence[np.ndarray],
    valid: Sequence[np.ndarray],
    *,
    vote_factor: int,
    tolerance_stops: float,
    reference: np.ndarray | None = None,
    prefer_last: bool = False,
    rank_falloff: float = 1.0,
) -> Background:
    """Per-pixel robust estimate over ``candidates`` (N of (h, w, 3), a list or a stacked array)
    where ``valid`` (N of (h, w) bool) holds.

    Votes are compared after area reduction by ``vote_factor``; a candidate further than
    ``tolerance_stops`` (log2 units, any channel) from the median vote is rejected there. The
    optional ``reference`` (h, w, 3), e.g. the model's result, votes too but is not averaged in.
    With ``prefer_last`` the last candidate (the frame itself) is used alone wherever it survives
    the vote: its pixels are the background at its own position, with its own grain. With
    ``rank_falloff`` > 1 the candidates are weighted by rank (the first, the best, by 1, the next by
    1 / rank_falloff, …) so the best surviving candidate dominates the mean: one frame's texture and
    grain, not an average of slightly misaligned copies that softens both.
    """
    n = len(valid)
    h, w = valid[0].shape
    votes = [log_encode(_reduce(c, vote_factor)) for c in candidates]
    # A reduced pixel is a valid vote only if all of its full-resolution pixels were valid.
    vote_ok = [_reduce(v.astype(np.float32), vote_factor) > 0.999 for v in valid]
    stack = np.stack([np.where(ok[..., None], v, np.nan) for v, ok in zip(votes, vote_ok)])
    if reference is not None:
        stack = np.concatenate([stack, log_encode(_reduce(reference, vote_factor))[None]])
    counts = np.isfinite(stack[..., 0]).sum(axis=0)
    filled = np.where(np.isfinite(stack), stack, 0.0)
    # nanmedian is slow; a median over the sorted finite votes (NaN sorts last) is the same thing.
    ordered = np.sort(np.where(np.isfinite(stack), stack, np.inf), axis=0)
    lo = np.clip((counts - 1) // 2, 0, len(stack) - 1)
    hi = np.clip(counts // 2, 0, len(stack) - 1)
    med = 0.5 * (
        np.take_along_axis(ordered, lo[None, ..., None].repeat(3, -1), 0)[0]
        + np.take_along_axis(ordered, hi[None, ..., None].repeat(3, -1), 0)[0]
    )
    # Full resolution from here: every operation in place (a 4K matte's box holds millions of pixels).
    rgb = np.zeros((h, w, 3), np.float32)
    scratch = np.empty((h, w, 3), np.float32)
    weight = np.zeros((h, w), np.float32)
    weight_sq = np.zeros((h, w), np.float32)
    last = np.zeros((h, w), np.float32)  # the frame itself's weight, with prefer_last
    for i in range(n):
        # Soft inlier weight: 1 within half the tolerance, 0 beyond it.
        dist = np.abs(filled[i] - med).max(axis=-1)
        soft = np.clip(2.0 - 2.0 * dist / tolerance_stops, 0.0, 1.0) * vote_ok[i]
        soft = np.where(counts > 0, soft, 0.0).astype(np.float32)
        # A rejected vote also rejects its neighbours: the upsampled weight must not leak a
        # transient's edge into the pixels around it.
        soft = cv2.erode(soft, np.ones((3, 3), np.uint8))
        wi = _expand(soft, (h, w))
        wi *= valid[i]
        if not wi.any():
            continue
        if prefer_last and i == n - 1:
            last = wi
            break
        if rank_falloff > 1.0:
            wi *= np.float32(rank_falloff ** (-i))
        np.multiply(candidates[i], wi[..., None], out=scratch)
        rgb += scratch
        weight += wi
        weight_sq += np.square(wi)
    safe = np.maximum(weight, 1e-6)
    rgb /= safe[..., None]
    grain_kept = np.where(weight > 0, np.sqrt(weight_sq) / safe, 0.0).astype(np.float32)
    if prefer_last and n > 0:
        np.subtract(candidates[-1], rgb, out=scratch)  # rgb + last * (own - rgb)
        scratch *= last[..., None]
        rgb += scratch
        grain_kept = last + (1.0 - last) * grain_kept
        weight = np.maximum(weight, last)
    return Background(rgb.astype(np.float32), weight, grain_kept.astype(np.float32))


@dataclass(frozen=True)
class Combined:
    rgb: np.ndarray  # (h, w, 3) the finished fill before synthetic grain
    revealed: np.ndarray  # (h, w) float32 in [0, 1]: how much of each pixel comes from the plate


def combine(
    model: np.ndarray,
    background: Background,
    *,
    model_scale: float,
    tolerance_stops: float,
    strong_stops: float,
) -> Combined:
    """Model low frequencies + plate high frequencies, the plate's value, or the model's value.

    ``model`` (h, w, 3) is the model's result upscaled to the plate. ``model_scale`` is plate pixels
    per model pixel: the plate is compared with the model at the model's own resolution. Where the
    two differ by more than ``tolerance_stops`` the model's value is kept; below ``strong_stops``
    the plate's value is used as it is.
    """
    h, w = model.shape[:2]
    seen = background.weight > 0
    if not seen.any():
        return Combined(model.copy(), np.zeros((h, w), np.float32))
    factor = max(1, int(round(model_scale)))
    # Compare only where the estimate exists: outside it, fill the plate from the model so the
    # reduction does not mix in zeros.
    plate = np.where(seen[..., None], background.rgb, model)
    seen_small = _reduce(seen.astype(np.float32), factor) > 0.999
    plate_v, model_v = video_encode(plate), video_encode(model)
    small_plate, small_model = video_decode(_reduce(plate_v, factor)), video_decode(_reduce(model_v, factor))
    diff = np.abs(log_encode(small_plate) - log_encode(small_model)).max(axis=-1)
    diff = cv2.GaussianBlur(diff, (0, 0), 1.0)
    # Full acceptance up to half the tolerance, none beyond it.
    accept = np.clip(2.0 - 2.0 * diff / tolerance_stops, 0.0, 1.0)
    strong = np.clip((2.0 * strong_stops - diff) / max(strong_stops, 1e-6), 0.0, 1.0)
    accept = _expand((accept * seen_small).astype(np.float32), (h, w)) * seen
    strong = _expand(strong.astype(np.float32), (h, w))
    # The frequency split sits just below the model's resolution, in the encoding the model's
    # frames were scaled in (a linear split would darken textured areas: see video_encode).
    sigma = 0.6 * model_scale
    low_model = cv2.GaussianBlur(model_v, (0, 0), sigma)
    low_plate = cv2.GaussianBlur(plate_v, (0, 0), sigma)
    split = video_decode(low_model + (plate_v - low_plate))
    revealed_rgb = strong[..., None] * plate + (1.0 - strong[..., None]) * split
    out = accept[..., None] * revealed_rgb + (1.0 - accept[..., None]) * model
    return Combined(out.astype(np.float32), accept.astype(np.float32))
