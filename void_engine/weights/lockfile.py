"""<DIR>/.void-weights.json: what `void-engine download` put in a model directory, per file.

Written once every file is verified and in place. It records the repo, the requested revision, the
commit the file really came from, its size and its hash (sha256 for LFS files, the git blob sha1 for
small files -- exactly what the hub publishes), plus the file's mtime so a later check can tell which
files changed on disk and re-hash only those.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

LOCK_NAME = ".void-weights.json"
LOCK_VERSION = 1


@dataclass(frozen=True)
class LockEntry:
    repo: str
    repo_file: str
    revision: str
    commit: str
    size: int
    sha256: str | None  # LFS files
    git_sha1: str | None  # regular (non-LFS) files
    mtime_ns: int


def read_lock(model_dir: Path) -> dict[str, LockEntry]:
    """Entries by relative POSIX path; {} when there is no (readable) lock file."""
    path = Path(model_dir) / LOCK_NAME
    try:
        doc = json.loads(path.read_text())
        return {rel: LockEntry(**entry) for rel, entry in doc.get("files", {}).items()}
    except (OSError, ValueError, TypeError):
        return {}


def write_lock(model_dir: Path, entries: dict[str, LockEntry]) -> Path:
    """Atomically (temp file + rename) write the lock file, merged over what is there."""
    model_dir = Path(model_dir)
    merged = read_lock(model_dir)
    merged.update(entries)
    doc = {"version": LOCK_VERSION, "files": {rel: asdict(e) for rel, e in sorted(merged.items())}}
    fd, tmp = tempfile.mkstemp(prefix=".void-weights.", suffix=".tmp", dir=model_dir)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    target = model_dir / LOCK_NAME
    os.replace(tmp, target)
    return target
