"""The plate layer: EXR sequences in, model-ready arrays out, composited EXR sequences back.

Everything a compositor trusts us with lives here (docs/architecture.md): windows, channels, pixel types and
header attributes survive the round-trip; colour goes through OCIO; outside the matte the output is
bit-identical to the plate; outputs are versioned and written atomically, never over a source.
"""

from .colour import ColourConverter
from .composite import composite_matte, composite_rgb
from .errors import (
    ColourError,
    CorruptPlateError,
    FrameRangeError,
    MissingFramesError,
    OutputExistsError,
    PlateError,
)
from .exr import Attribute, Plate, PlateSpec, Window, read_image_channel, read_plate, read_spec, write_plate
from .output import reserve_version_dir
from .roi import fit_roi, mask_bbox, resize_from_model, resize_to_model
from .sequence import FrameSequence, compress_frames, format_frame, parse_frames
from .shot import OutputSequence, Shot, ShotSettings

__all__ = [
    "Attribute",
    "ColourConverter",
    "ColourError",
    "CorruptPlateError",
    "FrameRangeError",
    "FrameSequence",
    "MissingFramesError",
    "OutputExistsError",
    "OutputSequence",
    "Plate",
    "PlateError",
    "PlateSpec",
    "Shot",
    "ShotSettings",
    "Window",
    "composite_matte",
    "composite_rgb",
    "compress_frames",
    "fit_roi",
    "format_frame",
    "mask_bbox",
    "parse_frames",
    "read_image_channel",
    "read_plate",
    "read_spec",
    "reserve_version_dir",
    "resize_from_model",
    "resize_to_model",
    "write_plate",
]
