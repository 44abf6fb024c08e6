"""The plate's grain: measured around the matte, synthesized where the fill has none.

Measurement works on the high-pass residual ``r = I - G_1(I)`` (``G_1`` a Gaussian of σ = 1 px)
of keep pixels in a ring around the matte. Per channel and per intensity bin, the grain's standard
deviation is the residual's median absolute deviation (× 1.4826): a robust estimate that sparse
edges and fine detail do not inflate. Its spatial spectrum is summarised as a grain size — the σ of
the Gaussian that, blurring white noise, gives the residual's measured neighbour correlation — and
its colour as the channels' correlation.

Synthesis draws white noise (new per frame, from the job seed), correlates the channels, blurs it
to the grain size and scales it so that its own high-pass residual has the measured deviation at
the intensity of each pixel of the fill: the same yardstick both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from .align import RESAMPLE

HIGHPASS_SIGMA = 1.0
MAD_TO_STD = 1.4826
BINS = 8
MIN_BIN_SAMPLES = 400
MIN_SAMPLES = 2000
MAX_SAMPLES = 400_000
_SIZES = np.linspace(0.0, 2.5, 26)  # grain sizes (σ, px) the lag-1 correlation is matched against


@dataclass(frozen=True)
class GrainModel:
    """Measured grain: deviation per channel as a function of intensity, size and colour."""

    levels: np.ndarray  # (B,) log2 intensity bin centres
    sigma: np.ndarray  # (B, 3) high-pass deviation per channel at each level
    size_px: float  # σ of the Gaussian that shapes white noise into this grain (0: white)
    mixing: np.ndarray  # (3, 3) lower-triangular: correlated channels = white @ mixing.T
    samples: int  # pixels the measurement rests on

    def deviation(self, rgb: np.ndarray) -> np.ndarray:
        """(…, 3) high-pass grain deviation at the (low-passed) intensities ``rgb``."""
        lv = np.log2(np.maximum(rgb, 1e-4))
        out = np.empty(rgb.shape, np.float32)
        for c in range(3):
            out[..., c] = np.interp(lv[..., c], self.levels, self.sigma[:, c])
        return out

    @cached_property
    def unit_deviation(self) -> np.ndarray:
        """(3,) the high-pass deviation of this grain shaped from unit white noise, measured once
        on a reference field large enough (512 x 512) to fix it to a fraction of a percent: each
        frame's field is scaled by it rather than measured again."""
        white = np.random.default_rng(0).standard_normal((512, 512, 3), dtype=np.float32)
        resid = highpass(_shaped_noise(self, white))[8:-8, 8:-8]
        return np.maximum(resid.reshape(-1, 3).std(axis=0), 1e-6).astype(np.float32)

    def median_deviation(self) -> tuple[float, float, float]:
        s = np.median(self.sigma, axis=0)
        return float(s[0]), float(s[1]), float(s[2])

    def describe(self) -> str:
        r, g, b = self.median_deviation()
        return f"sigma rgb {r:.4g}/{g:.4g}/{b:.4g}, size {self.size_px:.2f} px"


def highpass(image: np.ndarray) -> np.ndarray:
    """The grain yardstick's residual: ``image - G_1(image)`` (float32, any channel count)."""
    image = np.ascontiguousarray(image, np.float32)
    return image - cv2.GaussianBlur(image, (0, 0), HIGHPASS_SIGMA)


def robust_std(values: np.ndarray) -> float:
    """Deviation estimated from the median absolute deviation (robust to sparse outliers)."""
    if values.size == 0:
        return 0.0
    return float(np.median(np.abs(values - np.median(values))) * MAD_TO_STD)


def measure_grain(
    rgb: np.ndarray, region: np.ndarray, *, other: np.ndarray | None = None, other_gain: float = 1.0
) -> GrainModel | None:
    """Grain of ``rgb`` (H, W, 3 linear) measured over the True pixels of ``region`` (H, W).

    With ``other`` — another frame of the same shot aligned onto ``rgb`` — the residual is taken
    of the difference ``rgb - other``: static texture cancels, grain (new per frame) does not.
    ``other_gain`` is the variance the alignment's resampling leaves of the other frame's grain
    residual (1: none lost), so the difference's variance is ``(1 + other_gain)`` times one frame's.
    Returns None when the region holds too few pixels for a measurement.
    """
    # The residual is only trusted away from the region's edge (its blur reaches 3 px).
    inner = cv2.erode(region.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    if int(inner.sum()) < MIN_SAMPLES:
        return None
    rgb = np.ascontiguousarray(rgb, np.float32)
    if other is None:
        resid = highpass(rgb)
    else:
        resid = highpass(rgb - np.ascontiguousarray(other, np.float32)) / np.float32(np.sqrt(1.0 + other_gain))
    level = np.log2(np.maximum(cv2.GaussianBlur(rgb, (0, 0), 2.0), 1e-4))
    r = resid[inner]  # (N, 3)
    lv = level[inner]
    if len(r) > MAX_SAMPLES:  # a regular subsample: the statistics need no more, and it is cheap
        step = len(r) // MAX_SAMPLES + 1
        r, lv = r[::step], lv[::step]
    lo, hi = np.percentile(lv, 1), np.percentile(lv, 99)
    edges = np.linspace(lo.min(), hi.max() + 1e-3, BINS + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    sigma = np.full((BINS, 3), np.nan, np.float32)
    for c in range(3):
        idx = np.clip(np.digitize(lv[:, c], edges) - 1, 0, BINS - 1)
        for b in range(BINS):
            sel = r[idx == b, c]
            if sel.size >= MIN_BIN_SAMPLES:
                sigma[b, c] = robust_std(sel)
    for c in range(3):  # bins without enough samples take their neighbours' values
        known = np.flatnonzero(np.isfinite(sigma[:, c]))
        if known.size == 0:
            sigma[:, c] = robust_std(r[:, c])
        else:
            sigma[:, c] = np.interp(centres, centres[known], sigma[known, c])
    overall = np.array([robust_std(r[:, c]) for c in range(3)])
    typical = np.abs(r) < 3.5 * np.maximum(overall, 1e-12)  # edges are not grain
    return GrainModel(
        levels=centres.astype(np.float32),
        sigma=sigma,
        size_px=_grain_size(resid, inner, overall),
        mixing=_channel_mixing(r[typical.all(axis=1)]),
        samples=int(inner.sum()),
    )


def _lag1_correlation(resid: np.ndarray, inner: np.ndarray, overall: np.ndarray) -> float:
    """Mean horizontal/vertical neighbour correlation of the residual over ``inner``, edges excluded."""
    values = []
    for a, b, m in (
        (resid[:, :-1], resid[:, 1:], inner[:, :-1] & inner[:, 1:]),
        (resid[:-1], resid[1:], inner[:-1] & inner[1:]),
    ):
        for c in range(3):
            x, y = a[..., c][m], b[..., c][m]
            ok = (np.abs(x) < 3.5 * overall[c]) & (np.abs(y) < 3.5 * overall[c])
            if ok.sum() > 100:
                values.append(float(np.corrcoef(x[ok], y[ok])[0, 1]))
    return float(np.mean(values)) if values else 0.0


def _grain_size(resid: np.ndarray, inner: np.ndarray, overall: np.ndarray) -> float:
    measured = _lag1_correlation(resid, inner, overall)
    table = _lag1_table()
    return float(np.interp(measured, table, _SIZES))  # the table rises with the size


def _lag1_table() -> np.ndarray:
    """Lag-1 correlation of the residual of white noise blurred by each of ``_SIZES``."""
    noise = np.random.default_rng(0).standard_normal((256, 256, 3)).astype(np.float32)
    out = []
    for size in _SIZES:
        field = cv2.GaussianBlur(noise, (0, 0), float(size)) if size > 0 else noise
        resid = highpass(field)
        inner = np.ones(resid.shape[:2], bool)
        inner[:8], inner[-8:], inner[:, :8], inner[:, -8:] = False, False, False, False
        out.append(_lag1_correlation(resid, inner, np.full(3, np.inf)))
    return np.maximum.accumulate(np.array(out))


def _channel_mixing(r: np.ndarray) -> np.ndarray:
    if r.shape[0] < 100:
        return np.eye(3, dtype=np.float32)
    corr = np.corrcoef(r.T)
    corr = np.nan_to_num(corr, nan=0.0) + np.eye(3) * 1e-4
    np.fill_diagonal(corr, 1.0 + 1e-4)
    try:
        return np.linalg.cholesky(corr).astype(np.float32)
    except np.linalg.LinAlgError:
        return np.eye(3, dtype=np.float32)


def resampling_gain(size_px: float, shift: tuple[float, float]) -> float:
    """Variance of the grain residual that survives the finish's resampling (align.RESAMPLE) at the sub-pixel ``shift``
    (x, y), relative to the unresampled grain of that size (white noise blurred by ``size_px``)."""
    noise = np.random.default_rng(1).standard_normal((192, 192)).astype(np.float32)
    field = cv2.GaussianBlur(noise, (0, 0), size_px) if size_px > 0.05 else noise
    m = np.array([[1.0, 0.0, shift[0] % 1.0], [0.0, 1.0, shift[1] % 1.0]], np.float32)
    moved = cv2.warpAffine(field, m, (192, 192), flags=RESAMPLE | cv2.WARP_INVERSE_MAP)
    a, b = highpass(field)[16:-16, 16:-16], highpass(moved)[16:-16, 16:-16]
    return float(b.var() / max(float(a.var()), 1e-12))


def unit_grain(model: GrainModel, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A (h, w, 3) grain field of this model's size and colour whose high-pass residual has
    deviation 1 per channel."""
    field = _shaped_noise(model, rng.standard_normal((*shape, 3), dtype=np.float32))
    return field / model.unit_deviation


def _shaped_noise(model: GrainModel, white: np.ndarray) -> np.ndarray:
    """White noise (h, w, 3) with the model's channel correlation and size."""
    field = cv2.transform(white, model.mixing)  # each pixel: mixing @ rgb
    return cv2.GaussianBlur(field, (0, 0), model.size_px) if model.size_px > 0.05 else field


def synthesize(model: GrainModel, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grain to add to ``base`` (h, w, 3 linear): deviation follows the base's intensity."""
    level = cv2.GaussianBlur(np.ascontiguousarray(base, np.float32), (0, 0), 2.0)
    return unit_grain(model, base.shape[:2], rng) * model.deviation(level)
