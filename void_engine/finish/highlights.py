"""An invertible highlight encoding for the way into the model's [0, 1] space.

The model was trained on display-referred video in [0, 1], so the plate's conversion clamps there:
a highlight at 8.0 scene-linear would come back as 1.0 (about 0.8 scene-linear in ACEScg). A soft
knee keeps every value below ``knee`` (in the model's encoded space) exactly as it is and folds the
range from ``knee`` up to ``ceiling`` (the encoded value of a configurable scene-linear ceiling) into
[knee, 1] with a rational curve whose inverse is closed-form. Its slope is 1 at the knee, so the
picture the model sees has no kink there.

    y = x                                        x <= knee
    y = knee + (1 - knee) * (1 + a) u / (1 + a u)   u = (x - knee) / (ceiling - knee), 0 <= u <= 1
    a = (ceiling - 1) / (1 - knee)               (slope 1 at the knee)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SoftKnee:
    """Maps model-space values in [0, ``ceiling``] onto [0, 1] and back, exactly (per channel)."""

    knee: float = 0.75  # model-space value where compression starts (below it: identity)
    ceiling: float = 1.0  # model-space value that maps to 1.0 (1.0: no compression at all)

    def __post_init__(self) -> None:
        if not 0.0 < self.knee < 1.0:
            raise ValueError(f"highlight knee must be in (0, 1), got {self.knee}")
        if not self.ceiling >= 1.0:
            raise ValueError(f"highlight ceiling must be >= 1 in model space, got {self.ceiling}")

    @property
    def active(self) -> bool:
        return self.ceiling > 1.0

    @property
    def _a(self) -> float:
        return (self.ceiling - 1.0) / (1.0 - self.knee)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Model-space values (any range) -> [.., 1]: identity below the knee, values above
        ``ceiling`` clamp to 1. Returns float32."""
        x = np.asarray(x, np.float32)
        if not self.active:
            return x.copy()
        k, span, a = np.float32(self.knee), np.float32(self.ceiling - self.knee), np.float32(self._a)
        u = np.clip((x - k) / span, 0.0, 1.0)
        y = k + (1.0 - k) * ((1.0 + a) * u / (1.0 + a * u))
        return np.where(x <= k, x, y).astype(np.float32)

    def decode(self, y: np.ndarray) -> np.ndarray:
        """The exact inverse of :meth:`encode` on [.., 1]; values above 1 decode as 1 (the ceiling)."""
        y = np.asarray(y, np.float32)
        if not self.active:
            return y.copy()
        k, span, a = np.float32(self.knee), np.float32(self.ceiling - self.knee), np.float32(self._a)
        v = np.clip((y - k) / (1.0 - k), 0.0, 1.0)
        u = v / (1.0 + a - a * v)
        x = k + span * u
        return np.where(y <= k, y, x).astype(np.float32)
