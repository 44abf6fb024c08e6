"""Image-sequence names as Resolve and Fusion write them, and as the engine reads them.

The engine reads padded patterns (``plate.####.exr``) with an explicit frame list. Resolve
shows a sequence as ``plate.[1001-1096].exr`` (the media pool's "File Path"), imports one from
``plate.%04d.exr`` with ``StartIndex``/``EndIndex``, and Fusion's Saver writes the frame number
where its file name ends in digits (``plate.0000.exr`` -> ``plate.1001.exr``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from bridge.sequences import frame_path

_BRACKETS = re.compile(r"\[(?P<first>-?\d+)-(?P<last>-?\d+)\]")
_PRINTF = re.compile(r"%0?(?P<pad>\d*)d")
_HASHES = re.compile(r"#+")
_TRAILING_DIGITS = re.compile(r"(?P<digits>\d+)$")


class SequenceError(ValueError):
    """A sequence that is not there or not whole; the message names the file and frame."""


@dataclass(frozen=True)
class FrameRange:
    """An inclusive range of frame numbers (``first`` <= ``last``)."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"frame range {self.first}-{self.last} runs backwards")

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(range(self.first, self.last + 1))

    def __len__(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True)
class MediaSequence:
    """A sequence on disk: ``pattern`` with one ``#`` token, and its frame range."""

    pattern: str
    range: FrameRange

    def path(self, frame: int) -> str:
        return frame_path(self.pattern, frame)


def parse_resolve_path(text: str) -> MediaSequence | None:
    """A media pool "File Path" of an image sequence (``/a/plate.[1001-1096].exr``).

    Returns None for a single file (a movie or a still): those go through the render queue.
    """
    m = _BRACKETS.search(text)
    if not m:
        return None
    first, last = m.group("first"), m.group("last")
    pad = len(first) if first.startswith("0") or len(first) == len(last) else 0
    token = "#" * pad if pad else "#"
    pattern = text[: m.start()] + token + text[m.end() :]
    return MediaSequence(pattern, FrameRange(int(first), int(last)))


def printf_pattern(pattern: str) -> str:
    """``plate.####.exr`` -> ``plate.%04d.exr`` (the form ``MediaPool.ImportMedia`` takes)."""
    m = _HASHES.search(pattern)
    if not m:
        if _PRINTF.search(pattern):
            return pattern
        raise SequenceError(f"sequence pattern {pattern!r} has no frame token")
    return pattern[: m.start()] + f"%0{len(m.group(0))}d" + pattern[m.end() :]


def hash_pattern(pattern: str) -> str:
    """``plate.%04d.exr`` -> ``plate.####.exr``; a ``#`` pattern is returned unchanged."""
    m = _PRINTF.search(pattern)
    if not m:
        return pattern
    pad = int(m.group("pad") or 1)
    return pattern[: m.start()] + "#" * pad + pattern[m.end() :]


def saver_clip(folder: Path, name: str, pad: int = 4) -> tuple[str, str]:
    """(the Saver's ``Clip`` file name, the pattern of the frames it writes).

    A Saver given ``name.0000.exr`` writes ``name.1001.exr``...: the trailing digits set the
    padding and are replaced by the frame number.
    """
    clip = str(folder / f"{name}.{'0' * pad}.exr")
    return clip, str(folder / f"{name}.{'#' * pad}.exr")


def saver_output_path(clip: str, frame: int) -> str:
    """The file a Saver with ``clip`` writes for ``frame`` (Fusion's naming rule)."""
    stem, ext = os.path.splitext(clip)
    m = _TRAILING_DIGITS.search(stem)
    if m:
        pad = len(m.group("digits"))
        return f"{stem[: m.start()]}{frame:0{pad}d}{ext}"
    return f"{stem}{frame:04d}{ext}"


def missing_frames(pattern: str, frames: Sequence[int]) -> list[int]:
    """Frames of ``pattern`` that are not a file on disk."""
    return [f for f in frames if not Path(frame_path(pattern, f)).is_file()]


def require_frames(pattern: str, frames: Sequence[int], what: str) -> None:
    """Raise SequenceError naming the first missing file when ``pattern`` is not whole."""
    missing = missing_frames(pattern, frames)
    if missing:
        first = frame_path(pattern, missing[0])
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise SequenceError(f"{what}: frame {missing[0]} was not written ({first}){more}")


def find_rendered(folder: Path, prefix: str, ext: str = ".exr") -> MediaSequence:
    """The numbered files ``<prefix><sep?><digits><ext>`` a render wrote into ``folder``.

    The render queue names frames itself (separator and padding vary by version), so the
    sequence is found by looking rather than assumed. Raises SequenceError when there is
    none or when it has a gap.
    """
    rx = re.compile(re.escape(prefix) + r"(?P<sep>[._]?)(?P<digits>\d+)" + re.escape(ext) + r"$")
    found: dict[int, tuple[str, int]] = {}
    for entry in sorted(os.listdir(folder)) if folder.is_dir() else []:
        m = rx.match(entry)
        if m:
            found[int(m.group("digits"))] = (m.group("sep"), len(m.group("digits")))
    if not found:
        raise SequenceError(f"the render wrote no {prefix}*{ext} frames into {folder}")
    frames = sorted(found)
    seps = {found[f] for f in frames}
    if len(seps) != 1:
        raise SequenceError(f"{folder}: rendered frames of {prefix} are named inconsistently")
    sep, pad = seps.pop()
    if frames != list(range(frames[0], frames[-1] + 1)):
        gap = next(f for f in range(frames[0], frames[-1] + 1) if f not in found)
        raise SequenceError(f"{folder}: the render skipped frame {gap} of {prefix}")
    pattern = str(folder / f"{prefix}{sep}{'#' * pad}{ext}")
    return MediaSequence(pattern, FrameRange(frames[0], frames[-1]))


def renumber(seq: MediaSequence, new_pattern: str, first: int) -> MediaSequence:
    """Rename the files of ``seq`` to ``new_pattern`` starting at ``first`` (same folder only).

    Used to give frames rendered at timeline positions the source's frame numbers, so the
    plate and its clip mattes line up frame for frame.
    """
    shift = first - seq.range.first
    for f in seq.range.frames:
        os.replace(seq.path(f), frame_path(new_pattern, f + shift))
    return MediaSequence(new_pattern, FrameRange(seq.range.first + shift, seq.range.last + shift))
