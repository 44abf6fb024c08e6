"""Frame-sequence patterns and frame lists, shared by the host plugins and the engine (standard library only).

One frame token per pattern; its padding is the number of marks or the explicit width:
``shot.####.exr`` (Nuke), ``shot.%04d.exr`` (printf), ``shot.$F4.exr`` (Houdini),
``shot.@@@@.exr`` (RV / OIIO). Frames are formatted printf-style (-5 at 4 -> ``-005``).

A frame list is comma-separated parts, each a frame (``1001``, ``-5``), a range (``1001-1096``,
both ends included) or a stepped range (``1001-1096x2``: every second frame from 1001); spaces
around the parts and their ``-`` / ``x`` are allowed, empty parts are skipped. Every frame may be
named once: a frame that two parts name is an error naming it, never silently dropped.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"(?P<hash>#+)|%(?P<printf>0?\d*)d|\$F(?P<houdini>\d*)|(?P<at>@+)")
_PART = re.compile(r"(?P<first>-?[0-9]+)(?:\s*-\s*(?P<last>-?[0-9]+)(?:\s*x\s*(?P<step>[0-9]+))?)?")
# A frame list names frames one by one; more than this is a typo (1001-1000000000), not a shot.
MAX_LISTED_FRAMES = 1_000_000


def split_pattern(pattern: str) -> tuple[str, int, str]:
    """(prefix, padding, suffix) around the pattern's single frame token; ValueError otherwise."""
    matches = list(_TOKEN.finditer(pattern))
    if len(matches) != 1:
        raise ValueError(
            f"sequence pattern {pattern!r} must hold exactly one frame token "
            f"(####, %04d, $F4 or @@@@); found {len(matches)}"
        )
    m = matches[0]
    token = m.group("hash") or m.group("at")
    if token:
        pad = len(token)
    elif m.group("printf") is not None:
        pad = int(m.group("printf") or 0)
    else:
        pad = int(m.group("houdini") or 0)
    return pattern[: m.start()], pad, pattern[m.end() :]


def has_frame_token(name: str) -> bool:
    """Whether ``name`` holds a frame token at all (a sequence rather than a single file)."""
    return _TOKEN.search(name) is not None


def format_frame(frame: int, padding: int) -> str:
    """``frame`` zero-padded to ``padding`` characters, printf-style, as Nuke does."""
    return f"{frame:0{padding}d}" if padding else str(frame)


def frame_path(pattern: str, frame: int) -> str:
    """The file name of ``frame`` in a sequence ``pattern``."""
    prefix, pad, suffix = split_pattern(pattern)
    return f"{prefix}{format_frame(frame, pad)}{suffix}"


def parse_frame_list(text: str) -> list[int]:
    """The frames ``text`` names (see the module docstring for the grammar), ascending.

    ValueError quoting the part at fault for a part that cannot be read, a range that runs
    backwards, a step below 1, a frame named twice (the frame is named), no frames at all, or more
    than ``MAX_LISTED_FRAMES`` frames.
    """
    frames: set[int] = set()
    for raw in str(text).split(","):
        part = raw.strip()
        if not part:
            continue
        m = _PART.fullmatch(part)
        if not m:
            raise ValueError(
                f"frames: cannot read {part!r} in {text!r} (expected e.g. 1001-1096, 1001-1096x2 or 1,3,5-9)"
            )
        first = int(m.group("first"))
        last = int(m.group("last")) if m.group("last") is not None else first
        step = int(m.group("step")) if m.group("step") is not None else 1
        if last < first:
            raise ValueError(f"frames: range {part!r} runs backwards ({first} > {last})")
        if step < 1:
            raise ValueError(f"frames: range {part!r} has step {step}; the step must be 1 or more")
        if len(frames) + (last - first) // step + 1 > MAX_LISTED_FRAMES:
            raise ValueError(f"frames: {text!r} names more than {MAX_LISTED_FRAMES} frames")
        named = range(first, last + 1, step)
        twice = frames.intersection(named)
        if twice:
            raise ValueError(f"frames: {text!r} names frame {min(twice)} twice")
        frames.update(named)
    if not frames:
        raise ValueError(f"frames: {text!r} names no frames (expected e.g. 1001-1096)")
    return sorted(frames)
