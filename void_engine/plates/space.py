"""Disk space for a job's output: checked before writing, and named when the disk fills anyway.

A job writes its quadmask and its result frames into a staging folder beside the versions. Before
it starts, :func:`check_free_space` refuses a job whose output cannot fit; when the disk fills
mid-job anyway (another writer took the space), :func:`full_disk_error` turns the library's write
error into one that names the folder and the space that was needed. Either way the runner removes
the staging folder, so nothing partial is published.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from .errors import PlateError
from .sequence import FrameSequence

# Result frames keep the plate's channels and compression, so each is about a plate frame; the
# quadmask (one channel) and the fill's different texture are covered by the margin.
OUTPUT_MARGIN = 1.5


class OutputSpaceError(PlateError, OSError):
    """Not enough free space where a job writes its output."""


def estimate_output_bytes(plate: FrameSequence) -> int:
    """About how many bytes the job's output (result frames + quadmask) takes on disk."""
    total = 0
    for frame in plate.frames:
        try:
            total += os.stat(plate.path(frame)).st_size
        except OSError:
            continue  # a missing frame is reported by the read, with its own message
    return int(total * OUTPUT_MARGIN)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def free_bytes(folder: Path) -> int:
    """Free bytes on the file system holding ``folder`` (its nearest existing parent)."""
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_free_space(folder: Path, needed: int) -> None:
    """Raise OutputSpaceError when ``folder``'s file system has less than ``needed`` bytes free."""
    free = free_bytes(folder)
    if free < needed:
        raise OutputSpaceError(
            errno.ENOSPC,
            f"not enough space in {folder}: this job writes about {_mb(needed)}, {_mb(free)} are free",
        )


def full_disk_error(exc: BaseException, folder: Path, needed: int) -> OutputSpaceError | None:
    """The error to report for ``exc`` if it came from ``folder``'s disk filling up, else None.

    OpenImageIO reports a full disk as a failed write without an errno, so the free space is asked
    directly: a failed write with less than a frame's worth left is a full disk.
    """
    if isinstance(exc, OutputSpaceError):
        return exc
    # SQLite says so in words: the job's journal events share the disk of a by-value job's output.
    is_enospc = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or (
        isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)
    )
    try:
        free = free_bytes(folder)
    except OSError:
        return None
    if not is_enospc and not (isinstance(exc, (PlateError, OSError)) and free < max(needed // 10, 1 << 20)):
        return None
    return OutputSpaceError(
        errno.ENOSPC,
        f"the disk holding {folder} filled up while the job wrote its output: it needs about {_mb(needed)}, "
        f"{_mb(free)} are free ({exc})",
    )
