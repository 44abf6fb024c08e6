"""Versioned output folders: ``<out_root>/v001/``, ``v002/``, … never reused, never overwritten."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import OutputExistsError

_VERSION = re.compile(r"^v(\d{3,})$")


def existing_versions(out_root: Path) -> list[int]:
    if not out_root.is_dir():
        return []
    return sorted(int(m.group(1)) for p in out_root.iterdir() if p.is_dir() and (m := _VERSION.match(p.name)))


def reserve_version_dir(out_root: str | Path) -> Path:
    """Create and return the next free ``v###`` folder under ``out_root``.

    ``mkdir`` is atomic, so two jobs writing to the same root at once get different versions.
    """
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    version = (existing_versions(out_root) or [0])[-1] + 1
    for _ in range(1000):
        candidate = out_root / f"v{version:03d}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            version += 1
    raise OutputExistsError(f"{out_root}: could not reserve a new version folder")


def publish_version(staging: str | Path, out_root: str | Path) -> Path:
    """Rename a complete ``staging`` folder to the next free ``v###`` under ``out_root``.

    The rename is atomic, so a version folder only ever appears whole: an engine that dies while
    writing leaves a staging folder, never a partial ``v###``. If another writer takes a version
    between the scan and the rename, the next number is tried.
    """
    staging, out_root = Path(staging), Path(out_root)
    version = (existing_versions(out_root) or [0])[-1] + 1
    for _ in range(1000):
        target = out_root / f"v{version:03d}"
        if not target.exists():
            try:
                staging.rename(target)
                return target
            except OSError:
                pass  # taken between our check and the rename
        version += 1
    raise OutputExistsError(f"{out_root}: could not publish {staging.name} as a new version")
