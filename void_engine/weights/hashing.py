"""The two hashes the Hugging Face hub publishes for a file: LFS sha256 and the git blob sha1."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 8 * 1024 * 1024


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file's bytes (the hub's ``lfs.sha256`` / ``X-Linked-Etag`` for LFS files)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """Hex git object id of the file (the hub's ``blobId`` / ``ETag`` for regular files)."""
    path = Path(path)
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # git's object id, not security
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
