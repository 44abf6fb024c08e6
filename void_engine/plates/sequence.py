"""Frame sequences: padded patterns plus explicit frame lists.

Patterns understood (the padding is the number of marks, or the explicit width):
``shot.####.exr`` (Nuke), ``shot.%04d.exr`` (printf), ``shot.$F4.exr`` (Houdini),
``shot.@@@@.exr`` (RV / OIIO). Frames often start at 1001; negative frames keep their sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bridge.sequences import format_frame, parse_frame_list, split_pattern

from .errors import FrameRangeError, MissingFramesError


def _split_pattern(pattern: str) -> tuple[str, int, str]:
    """Return (prefix, padding, suffix) for the single frame token in ``pattern``."""
    try:
        return split_pattern(pattern)
    except ValueError as exc:
        raise FrameRangeError(str(exc)) from None


def parse_frames(text: str) -> list[int]:
    """Parse ``"1001-1096"``, ``"1001"``, ``"1,3,5-9"`` or ``"1001-1096x2"`` into frame numbers, ascending.

    The grammar is :func:`bridge.sequences.parse_frame_list`, the one the host plugins use. A
    malformed, empty or reversed range, or a frame named twice, raises FrameRangeError quoting it.
    """
    try:
        return parse_frame_list(text)
    except ValueError as exc:
        raise FrameRangeError(str(exc)) from None


def compress_frames(frames: list[int] | tuple[int, ...]) -> str:
    """Inverse of parse_frames for messages: [1,2,3,7] -> '1-3,7'."""
    out: list[str] = []
    ordered = sorted(set(frames))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


@dataclass(frozen=True)
class FrameSequence:
    """A padded path pattern plus the frames of the shot that belong to this job."""

    pattern: str
    frames: tuple[int, ...]

    def __post_init__(self) -> None:
        _split_pattern(self.pattern)  # validates the pattern early, with a clear message
        if not self.frames:
            raise FrameRangeError(f"sequence {self.pattern!r} has no frames")

    @classmethod
    def parse(cls, pattern: str | Path, frames: str | list[int] | tuple[int, ...]) -> "FrameSequence":
        """Build from a pattern and a frame-range text (``"1001-1096"``) or a list of frames."""
        frame_list = parse_frames(frames) if isinstance(frames, str) else list(frames)
        return cls(str(pattern), tuple(int(f) for f in frame_list))

    @property
    def padding(self) -> int:
        return _split_pattern(self.pattern)[1]

    def path(self, frame: int) -> Path:
        prefix, pad, suffix = _split_pattern(self.pattern)
        return Path(f"{prefix}{format_frame(frame, pad)}{suffix}")

    def paths(self) -> list[Path]:
        return [self.path(f) for f in self.frames]

    def missing(self) -> list[int]:
        return [f for f in self.frames if not self.path(f).is_file()]

    def require_complete(self) -> None:
        """Raise MissingFramesError naming every missing frame (as ranges) and the pattern."""
        missing = self.missing()
        if missing:
            raise MissingFramesError(
                f"missing {len(missing)} of {len(self.frames)} frames of {self.pattern}: "
                f"frames {compress_frames(missing)} (first missing file: {self.path(missing[0])})",
                missing,
            )

    def with_pattern(self, pattern: str | Path) -> "FrameSequence":
        """The same frames under another pattern (e.g. the matching matte or output sequence)."""
        return FrameSequence(str(pattern), self.frames)
