"""Versioned output folders: ``<out_root>/v001/``, ``v002/``, … never reused, never overwritten.

The naming rule (what counts as a version, which is next) is :mod:`bridge.versions`, shared with
the host plugins.
"""

from __future__ import annotations

from pathlib import Path

from bridge.versions import next_version, version_name

from .errors import OutputExistsError


def reserve_version_dir(out_root: str | Path) -> Path:
    """Create and return the next free ``v###`` folder under ``out_root``.

    ``mkdir`` is atomic, so two jobs writing to the same root at once get different versions.
    """
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    version = next_version(out_root)
    for _ in range(1000):
        candidate = out_root / version_name(version)
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
    version = next_version(out_root)
    for _ in range(1000):
        target = out_root / version_name(version)
        if not target.exists():
            try:
                staging.rename(target)
                return target
            except OSError:
                pass  # taken between our check and the rename
        version += 1
    raise OutputExistsError(f"{out_root}: could not publish {staging.name} as a new version")
