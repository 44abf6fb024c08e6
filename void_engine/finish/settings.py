"""The finish stage's settings (stdlib only: the engine's config loader and socket loop import it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FinishSettings:
    """How the model's result is finished at plate resolution (config/engine.toml ``[finish]``)."""

    enabled: bool = True  # off: the model's result is only scaled back (Lanczos), as before
    reveal: bool = True  # bring in the plate's own pixels where other frames show the background
    grain: bool = True  # add grain measured on the plate where the fill has none
    highlights: bool = True  # soft-knee encode values above the knee on the way into the model
    highlight_knee: float = 0.75  # model-space value where the highlight compression starts
    highlight_ceiling: float = 16.0  # scene-linear value (grey) that maps to the model's 1.0
    search_radius: int = 12  # frames either side searched for revealed background
    candidates: int = 4  # frames that vote per output frame (chosen for what they add)
    align_long_side: int = 960  # px: alignment and voting work at this size
    refine_flow: bool = False  # dense DIS refinement of the homography (parallax; costs time)
    vote_tolerance_stops: float = 0.25  # a candidate this far from the median vote is rejected
    agree_tolerance_stops: float = 0.3  # plate vs model at the model's resolution: beyond, keep the model
    # Below: the plate's own value wins outright (fading to the frequency split at twice it). Wide
    # enough that the comparison's own noise (grain, texture aliasing at the model's size) and a
    # model's slight tone drift do not keep the model's low frequencies where the plate is right.
    strong_agreement_stops: float = 0.12
    match_exposure: bool = True  # each candidate frame's exposure matched to the frame's own (camera drift)
    model_votes: bool = True  # the model's result votes with the candidates (VOID is the authority)
    # Candidates weighted by rank (1, 1/f, 1/f², …): the best surviving frame dominates, so the fill
    # keeps one frame's texture and grain rather than an average of copies; 1 = a plain mean.
    rank_falloff: float = 16.0
    grain_ring_px: int = 64  # width of the ring of keep pixels around the matte where grain is measured
    warn_upscale: float = 2.0  # an upscale beyond this is reported as a warning

    def __post_init__(self) -> None:
        if self.search_radius < 1 or self.candidates < 1:
            raise ValueError("finish search_radius and candidates must be >= 1")
        if self.align_long_side < 64:
            raise ValueError(f"finish align_long_side must be >= 64, got {self.align_long_side}")
        if not 0.0 < self.highlight_knee < 1.0:
            raise ValueError(f"finish highlight_knee must be in (0, 1), got {self.highlight_knee}")
        if self.highlight_ceiling <= 0:
            raise ValueError(f"finish highlight_ceiling must be > 0, got {self.highlight_ceiling}")
        if not 0 <= self.strong_agreement_stops < self.agree_tolerance_stops:
            raise ValueError("finish strong_agreement_stops must be in [0, agree_tolerance_stops)")
        if self.rank_falloff < 1.0:
            raise ValueError(f"finish rank_falloff must be >= 1, got {self.rank_falloff}")
        if self.vote_tolerance_stops <= 0 or self.grain_ring_px < 8:
            raise ValueError("finish vote_tolerance_stops must be > 0 and grain_ring_px >= 8")

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "[finish]") -> "FinishSettings":
        """Build from a config mapping; unknown keys and wrong types raise ValueError naming them."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        defaults = cls()
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key not in fields:
                raise ValueError(f"{where}: unknown key '{key}' (known: {', '.join(fields)})")
            want = type(getattr(defaults, key))
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise ValueError(f"{where} {key} must be {want.__name__}, got {value!r}")
            clean[key] = value
        try:
            return cls(**clean)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
