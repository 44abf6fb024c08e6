"""Errors of the plate layer. Every message names the file or frame at fault."""

from __future__ import annotations


class PlateError(Exception):
    """Base class: something is wrong with a plate, a matte or an output path."""


class FrameRangeError(PlateError, ValueError):
    """A frame range or sequence pattern could not be understood."""


class MissingFramesError(PlateError, FileNotFoundError):
    """Frames of a sequence are not on disk."""

    def __init__(self, message: str, missing: list[int]):
        super().__init__(message)
        self.missing = missing


class CorruptPlateError(PlateError):
    """A file exists but cannot be read as an image."""


class OutputExistsError(PlateError, FileExistsError):
    """Refused to replace an existing file (sources and earlier versions are never overwritten)."""


class ColourError(PlateError, ValueError):
    """An OCIO config or colour-space name could not be used."""
