"""Frame-sequence patterns, shared by the host plugins and the engine (standard library only).

One frame token per pattern; its padding is the number of marks or the explicit width:
``shot.####.exr`` (Nuke), ``shot.%04d.exr`` (printf), ``shot.$F4.exr`` (Houdini),
``shot.@@@@.exr`` (RV / OIIO). Frames are formatted printf-style (-5 at 4 -> ``-005``).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"(?P<hash>#+)|%(?P<printf>0?\d*)d|\$F(?P<houdini>\d*)|(?P<at>@+)")


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
