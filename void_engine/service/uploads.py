"""By-value inputs on the engine side: a spool of uploads written chunk by chunk.

The client announces every file and its size first (``upload``); the engine checks the per-file
and per-job caps and the room left in the whole spool (``[limits] max_spool_bytes``, measured by
:class:`~.spool.SpoolKeeper`) *before* writing anything, then grants credit. Chunks must arrive in order per
file and never run past the announced size. An upload idle for longer than the timeout is
deleted, so a client that vanishes mid-upload leaves nothing behind. A complete upload is moved
into the job's folder by ``submit``.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bridge.protocol import (
    BAD_REQUEST,
    BUSY,
    MAX_FILES_PER_FRAME,
    MAX_FRAMES,
    NOT_FOUND,
    TOO_LARGE,
    UNAUTHORISED,
    ProtocolError,
    check_safe_name,
)

from .spool import SpoolKeeper

MAX_OPEN_UPLOADS = 64
# One client may not hold every upload slot: the rest of the studio keeps being able to send.
MAX_OPEN_UPLOADS_PER_OWNER = 4
MAX_FILES_PER_UPLOAD = MAX_FRAMES * MAX_FILES_PER_FRAME


@dataclass
class Upload:
    id: str
    owner: str
    folder: Path
    names: list[str]
    sizes: list[int]
    received: list[int]
    last_seen: float = field(default_factory=time.monotonic)

    @property
    def complete(self) -> bool:
        return self.received == self.sizes

    @property
    def total_received(self) -> int:
        return sum(self.received)


class UploadStore:
    """Uploads in progress, each a folder under ``spool``."""

    def __init__(
        self,
        spool: Path,
        *,
        chunk_bytes: int,
        max_file_bytes: int,
        max_job_bytes: int,
        timeout_s: float,
        keeper: SpoolKeeper | None = None,
        max_spool_bytes: int | None = None,
    ):
        self.spool = Path(spool)
        self.keeper = keeper  # how full the whole spool is (uploads, by-value inputs and results)
        self.max_spool_bytes = max_spool_bytes
        self.chunk_bytes = chunk_bytes
        self.max_file_bytes = max_file_bytes
        self.max_job_bytes = max_job_bytes
        self.timeout_s = timeout_s
        self._uploads: dict[str, Upload] = {}
        # Anything here at start-up belongs to a previous engine's unfinished uploads.
        shutil.rmtree(self.spool, ignore_errors=True)
        self.spool.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self._uploads)

    def begin(self, owner: str, files: list[tuple[str, int]]) -> Upload:
        """Check the announced files against the caps and open an upload (no bytes allocated)."""
        if len(self._uploads) >= MAX_OPEN_UPLOADS:
            raise ProtocolError(BUSY, f"{MAX_OPEN_UPLOADS} uploads are already open; try again shortly", "files")
        if sum(1 for u in self._uploads.values() if u.owner == owner) >= MAX_OPEN_UPLOADS_PER_OWNER:
            raise ProtocolError(
                BUSY,
                f"this client already has {MAX_OPEN_UPLOADS_PER_OWNER} uploads open; finish one, or wait for an "
                f"unfinished one to expire ([server] upload_timeout_s = {self.timeout_s:g} s)",
                "files",
            )
        if not files:
            raise ProtocolError(BAD_REQUEST, "field 'files' names no files", "files")
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise ProtocolError(
                TOO_LARGE, f"field 'files' names {len(files)} files; at most {MAX_FILES_PER_UPLOAD}", "files"
            )
        seen: set[str] = set()
        total = 0
        for i, (name, size) in enumerate(files):
            check_safe_name(name, f"files[{i}].name")
            if name in seen:
                raise ProtocolError(
                    BAD_REQUEST, f"field 'files[{i}].name': {name!r} is listed twice", f"files[{i}].name"
                )
            seen.add(name)
            if size > self.max_file_bytes:
                raise ProtocolError(
                    TOO_LARGE,
                    f"field 'files[{i}].size': {name} is {size} bytes; the per-file limit is {self.max_file_bytes}",
                    f"files[{i}].size",
                )
            total += size
        if total > self.max_job_bytes:
            raise ProtocolError(
                TOO_LARGE, f"field 'files': {total} bytes in all; the per-job limit is {self.max_job_bytes}", "files"
            )
        if self.keeper is not None and self.max_spool_bytes is not None:
            used = self.keeper.used_bytes()
            if used + total > self.max_spool_bytes:
                raise ProtocolError(
                    BUSY,
                    f"the engine's spool is full: it holds {used} bytes and this upload needs {total} more, "
                    f"past [limits] max_spool_bytes = {self.max_spool_bytes}; try again once jobs have finished "
                    "and their results have been fetched or have expired",
                    "files",
                )
            self.keeper.added(total)
        up = Upload(
            uuid.uuid4().hex,
            owner,
            self.spool / uuid.uuid4().hex,
            [n for n, _ in files],
            [s for _, s in files],
            [0] * len(files),
        )
        up.folder.mkdir()
        for name, size in files:
            if size == 0:
                (up.folder / name).touch()
        self._uploads[up.id] = up
        return up

    def get(self, owner: str, upload_id: str) -> Upload:
        up = self._uploads.get(upload_id)
        if up is None:
            raise ProtocolError(NOT_FOUND, f"upload {upload_id!r:.40} is unknown (expired or never begun)", "upload")
        if up.owner != owner:
            raise ProtocolError(UNAUTHORISED, f"upload {upload_id!r:.40} belongs to another client", "upload")
        return up

    def chunk(self, owner: str, upload_id: str, index: int, offset: int, data: bytes) -> Upload:
        """Append one chunk; it must continue file ``index`` exactly where it stands."""
        up = self.get(owner, upload_id)
        if not 0 <= index < len(up.names):
            raise ProtocolError(
                BAD_REQUEST, f"field 'file': index {index} is not one of the {len(up.names)} announced files", "file"
            )
        if len(data) > self.chunk_bytes:
            raise ProtocolError(
                TOO_LARGE, f"frame 1 (chunk) is {len(data)} bytes; the limit is {self.chunk_bytes}", "blob"
            )
        if offset != up.received[index]:
            raise ProtocolError(
                BAD_REQUEST,
                f"field 'offset': {up.names[index]} expects offset {up.received[index]}, got {offset}",
                "offset",
            )
        if offset + len(data) > up.sizes[index]:
            raise ProtocolError(
                TOO_LARGE,
                f"frame 1 (chunk) runs past the announced size of {up.names[index]} ({up.sizes[index]} bytes)",
                "blob",
            )
        try:
            with open(up.folder / up.names[index], "ab") as f:
                f.write(data)
        except OSError as exc:
            # A full spool: the upload cannot finish, so its files go now and the client is told why.
            self.drop(upload_id)
            free = shutil.disk_usage(self.spool).free
            raise ProtocolError(
                BUSY,
                f"the engine's spool {self.spool} cannot take {up.names[index]}: {exc.strerror or exc} "
                f"({sum(up.sizes) - sum(up.received)} bytes of this upload still to come, {free} bytes free)",
                "blob",
            ) from None
        up.received[index] += len(data)
        up.last_seen = time.monotonic()
        return up

    def require_complete(self, owner: str, upload_id: str) -> Upload:
        """The upload, if every announced byte has arrived; bad_request naming a gap otherwise."""
        up = self.get(owner, upload_id)
        if not up.complete:
            missing = [n for n, r, s in zip(up.names, up.received, up.sizes) if r != s]
            raise ProtocolError(
                BAD_REQUEST,
                f"field 'job.upload': upload is incomplete ({len(missing)} file(s) unfinished, e.g. {missing[0]})",
                "job.upload",
            )
        return up

    def take(self, owner: str, upload_id: str, dest: Path) -> None:
        """Move a complete upload's files to ``dest`` (the job's inputs folder)."""
        up = self.require_complete(owner, upload_id)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(up.folder), str(dest))
        del self._uploads[upload_id]

    def drop(self, upload_id: str) -> None:
        up = self._uploads.pop(upload_id, None)
        if up is not None:
            shutil.rmtree(up.folder, ignore_errors=True)

    def drop_owned(self, owner: str, upload_id: str) -> None:
        """:meth:`drop` an upload if it exists and belongs to ``owner`` (otherwise nothing)."""
        up = self._uploads.get(upload_id)
        if up is not None and up.owner == owner:
            self.drop(upload_id)

    def expire(self, now: float | None = None) -> list[str]:
        """Delete uploads idle for longer than the timeout; returns their ids."""
        now = time.monotonic() if now is None else now
        gone = [u.id for u in self._uploads.values() if now - u.last_seen > self.timeout_s]
        for uid in gone:
            self.drop(uid)
        return gone
