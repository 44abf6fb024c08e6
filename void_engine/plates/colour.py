"""Colour: scene-linear plate space <-> the model's display-referred space, with OpenColorIO.

The config is the studio's ``$OCIO`` when set, else OCIO's built-in ACES studio config.
Plain colour-space conversions do not clip: the model path clamps to [0, 1] (the model was trained
on [0, 1] video), the return path does not (the composite keeps the plate's own values outside the
matte, so nothing of the plate's range is lost there). With ``highlight`` set, an invertible soft
knee (void_engine.finish.highlights) folds model-space values up to the encoded value of a
scene-linear ceiling into [0, 1] before that clamp, and unfolds them on the way back, so values
above 1 in the fill survive instead of clamping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import PyOpenColorIO as ocio

from ..finish.highlights import SoftKnee
from .errors import ColourError

BUILTIN_CONFIG = "ocio://studio-config-latest"
DEFAULT_PLATE_SPACE = "ACEScg"
DEFAULT_MODEL_SPACE = "sRGB Encoded Rec.709 (sRGB)"


def resolve_config_name(config: str | None = None) -> str:
    """The config a job uses: explicit, else ``$OCIO``, else the built-in studio config."""
    return config or os.environ.get("OCIO") or BUILTIN_CONFIG


def _load_config(name: str) -> "ocio.Config":
    try:
        return ocio.Config.CreateFromFile(name)
    except Exception as exc:  # OCIO raises its own Exception type
        raise ColourError(f"OCIO config {name!r} cannot be loaded: {exc}") from None


def finite(rgb: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """``rgb`` with NaN made 0 and ±inf the largest half values (what a plate may hold after a bad
    render), the array itself when it is all finite already: checking costs a 2K frame a fraction
    of what nan_to_num's own passes do. ``in_place`` replaces the values in ``rgb`` itself."""
    if np.isfinite(rgb).all():
        return rgb
    return np.nan_to_num(rgb, copy=not in_place, nan=0.0, posinf=65504.0, neginf=-65504.0)


@dataclass
class ColourConverter:
    """Converts RGB float32 arrays between the plate's and the model's colour spaces."""

    plate_space: str = DEFAULT_PLATE_SPACE
    model_space: str = DEFAULT_MODEL_SPACE
    config: str | None = None
    # (knee in model space, scene-linear ceiling): the soft-knee highlight encoding; None = off.
    highlight: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self.config_name = resolve_config_name(self.config)
        cfg = _load_config(self.config_name)
        for role, name in (("plate", self.plate_space), ("model", self.model_space)):
            if cfg.getColorSpace(name) is None:
                raise ColourError(f"{role} colour space {name!r} is not in OCIO config {self.config_name!r}")
        self._to_model = cfg.getProcessor(self.plate_space, self.model_space).getDefaultCPUProcessor()
        self._from_model = cfg.getProcessor(self.model_space, self.plate_space).getDefaultCPUProcessor()
        self.knee: SoftKnee | None = None
        if self.highlight is not None:
            knee, ceiling = self.highlight
            grey = self._apply(self._to_model, np.full((1, 3), ceiling, np.float32))
            # The ceiling in model space; a ceiling at or below what the model space already holds
            # needs no knee.
            top = float(np.max(grey))
            if top > 1.0:
                self.knee = SoftKnee(knee, top)

    @staticmethod
    def _apply(processor: "ocio.CPUProcessor", rgb: np.ndarray) -> np.ndarray:
        out = np.ascontiguousarray(rgb, dtype=np.float32).copy()
        if out.shape[-1] != 3:
            raise ColourError(f"colour conversion wants RGB (…, 3) arrays, got shape {out.shape}")
        processor.applyRGB(out.reshape(-1, 3))
        return out

    def to_model(self, rgb: np.ndarray) -> np.ndarray:
        """Plate space -> model space, clamped to [0, 1]; NaN/inf become finite first."""
        encoded = self._apply(self._to_model, finite(rgb))
        if self.knee is not None:
            encoded = self.knee.encode(encoded)
        return np.clip(encoded, 0.0, 1.0, out=encoded)  # in place: encoded is this call's own array

    def from_model(self, rgb: np.ndarray) -> np.ndarray:
        """Model space [0, 1] -> plate space (no clipping of the result; the highlight knee, when
        set, is undone first)."""
        encoded = np.clip(rgb, 0.0, 1.0)
        if self.knee is not None:
            encoded = self.knee.decode(encoded)
        return self._apply(self._from_model, encoded)


@dataclass
class DisplayView:
    """Plate RGB -> what a monitor shows: the OCIO config's display/view transform (for thumbnails).

    ``display``/``view`` None or empty = the config's default display and that display's default
    view (for the built-in studio config: sRGB, ACES SDR video). Raises ColourError naming a
    display, view or colour space the config lacks.
    """

    plate_space: str = DEFAULT_PLATE_SPACE
    display: str | None = None
    view: str | None = None
    config: str | None = None

    def __post_init__(self) -> None:
        self.config_name = resolve_config_name(self.config)
        cfg = _load_config(self.config_name)
        if cfg.getColorSpace(self.plate_space) is None:
            raise ColourError(f"plate colour space {self.plate_space!r} is not in OCIO config {self.config_name!r}")
        self.display = self.display or cfg.getDefaultDisplay()
        if self.display not in cfg.getDisplays():
            raise ColourError(f"display {self.display!r} is not in OCIO config {self.config_name!r}")
        self.view = self.view or cfg.getDefaultView(self.display)
        if self.view not in cfg.getViews(self.display):
            raise ColourError(f"view {self.view!r} is not a view of display {self.display!r} in {self.config_name!r}")
        transform = ocio.DisplayViewTransform(src=self.plate_space, display=self.display, view=self.view)
        self._processor = cfg.getProcessor(transform).getDefaultCPUProcessor()

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Plate-space RGB (…, 3) -> display-referred RGB in [0, 1] (NaN/inf made finite first)."""
        return np.clip(ColourConverter._apply(self._processor, finite(rgb)), 0.0, 1.0)
