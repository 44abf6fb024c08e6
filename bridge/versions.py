"""Versioned result folders ``v001``, ``v002``, ... ``v999``, ``v1000``: the one naming rule.

The engine publishes every result as the next free version under the job's output folder and the
host plugins fetch by-value results the same way, so both name and count versions here (standard
library only, Python 3.7 syntax: this module is installed into Nuke and Resolve).

A name is a version when it is ``v`` and three or more ASCII digits, as the engine writes them
(``v001`` ... ``v999``, then ``v1000``). ``v1``, ``v12``, ``V003`` or ``v001_old`` are not, so
something an artist named by hand never moves the numbering.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_VERSION = re.compile(r"v([0-9]{3,})")


def version_name(number: int) -> str:
    """The folder name of version ``number`` (>= 1): ``v001``, ..., ``v999``, ``v1000``."""
    if number < 1:
        raise ValueError(f"version numbers start at 1, got {number}")
    return f"v{number:03d}"


def version_number(name: str) -> int | None:
    """The version ``name`` stands for (``v007`` -> 7), or None when it is not a version name."""
    m = _VERSION.fullmatch(name)
    return int(m.group(1)) if m else None


def existing_versions(root: str | os.PathLike[str]) -> list[int]:
    """The versions taken directly under ``root``, ascending; [] when there is none or no ``root``.

    Any entry counts, not only folders: a file called ``v004`` takes that name all the same.
    """
    folder = Path(root)
    if not folder.is_dir():
        return []
    numbers = (version_number(entry.name) for entry in folder.iterdir())
    return sorted(n for n in numbers if n is not None)


def next_version(root: str | os.PathLike[str]) -> int:
    """One past the highest version under ``root``, 1 when there is none (gaps are never refilled)."""
    taken = existing_versions(root)
    return taken[-1] + 1 if taken else 1
