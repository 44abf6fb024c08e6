"""Masks for VOID: quadmasks from mattes, SAM2 propagation of roto, Gemini interaction reasoning.

The engine's one call, whatever the job carries::

    spec = MaskSpec.from_mapping(job["masks"])      # (a) quadmask | (b) remove[+affected]
                                                    # (c) roto/clicks | (d) (b)/(c) + instruction
    built = build_quadmask_sequence(spec, plate_seq, out_pattern,
                                    sam2=Sam2Config.from_mapping(cfg.get("sam2", {})),
                                    reasoner=ReasonerConfig.from_mapping(cfg.get("gemini", {})),
                                    progress=..., cancel=...)
    built.masks        # list of uint8 (H, W) raw levels at the plate's display-window size
    built.notes        # e.g. "interaction reasoning skipped: no Gemini API key ..."

Importing this package is cheap: SAM2 (torch, hydra) and google-genai load only when the
propagation or reasoning stages run.
"""

from ..levels import AFFECTED, KEEP, LEVELS, OVERLAP, REMOVE
from ..progress import Cancelled
from .build import ClickPoints, MaskSpec, QuadmaskBuild, build_quadmask_sequence
from .propagate import PropagationError, Sam2Config
from .quadmask import (
    QuadmaskError,
    quadmask_from_mattes,
    read_matte,
    read_quadmask,
    read_quadmask_sequence,
    validate_quadmask,
    validate_quadmask_sequence,
    write_quadmask,
    write_quadmask_sequence,
)
from .reasoner import ReasonerConfig, ReasonerError, ReasonerSkipped

__all__ = [
    "ClickPoints",
    "MaskSpec",
    "QuadmaskBuild",
    "build_quadmask_sequence",
    "Cancelled",
    "PropagationError",
    "Sam2Config",
    "ReasonerConfig",
    "ReasonerError",
    "ReasonerSkipped",
    "AFFECTED",
    "KEEP",
    "LEVELS",
    "OVERLAP",
    "REMOVE",
    "QuadmaskError",
    "quadmask_from_mattes",
    "read_matte",
    "read_quadmask",
    "read_quadmask_sequence",
    "validate_quadmask",
    "validate_quadmask_sequence",
    "write_quadmask",
    "write_quadmask_sequence",
]
