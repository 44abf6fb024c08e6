"""Frames by value: EXR file bytes in chunks, with credit-based flow control (zguide ch.7).

Upload (host -> engine): the client announces every file and its size; the engine checks its caps
before anything is written and answers with a chunk size and a credit (chunks the client may have
in flight). Every acknowledged chunk returns one credit, so a slow engine slows the sender instead
of filling memory. Download (engine -> host): the client asks for chunks by file and offset,
keeping at most ``credit`` requests outstanding, and renames each file into place when whole.

Standard library only; the socket work is done through the two callables a client passes in.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .protocol import BAD_REQUEST, ProtocolError, raise_for_error
from .sequences import frame_path


def default_output_name(plate_pattern: str) -> str:
    """``shot.####.exr`` -> ``shot_void``: the plate's name without frame token or extension."""
    base = Path(plate_pattern).name
    base = re.split(r"[.#%@$]", base, maxsplit=1)[0].rstrip("_") or "result"
    return f"{base}_void"


@dataclass(frozen=True)
class LocalFile:
    """A file to send: its name on the wire and where it is here."""

    name: str
    path: Path
    size: int


def sequence_files(role: str, pattern: str, frames: Sequence[int]) -> tuple[str, list[LocalFile]]:
    """Wire names for a local sequence: (``role.####.ext`` pattern, files). Missing frames raise."""
    suffix = Path(pattern).suffix or ".exr"
    files = []
    missing = []
    for f in frames:
        p = Path(frame_path(pattern, f))
        if not p.is_file():
            missing.append((f, p))
            continue
        files.append(LocalFile(f"{role}.{f:04d}{suffix}", p, p.stat().st_size))
    if missing:
        f, p = missing[0]
        raise FileNotFoundError(f"{role}: {len(missing)} frame(s) missing, first frame {f} ({p})")
    return f"{role}.####{suffix}", files


# send(type, blobs, fields) -> request id ; recv(timeout) -> Message (error replies raised)
SendFn = Callable[..., Any]
RecvFn = Callable[[], Any]


def upload(
    send: SendFn, recv: RecvFn, files: Sequence[LocalFile], progress: Callable[[int, int], None] | None = None
) -> str:
    """Send ``files`` by value; returns the engine's upload id once every chunk is acknowledged."""
    rid = send("upload", (), files=[{"name": f.name, "size": f.size} for f in files])
    begin = _await(recv, {rid})
    uid = begin.header["upload"]
    chunk = int(begin.header["chunk_bytes"])
    credit = max(1, int(begin.header["credit"]))
    total = sum(f.size for f in files)
    done = 0
    outstanding: set[Any] = set()
    for index, lf in enumerate(files):
        with open(lf.path, "rb") as fh:
            offset = 0
            while offset < lf.size:
                while len(outstanding) >= credit:
                    ack = _await(recv, outstanding)
                    outstanding.discard(ack.id)
                data = fh.read(min(chunk, lf.size - offset))
                if not data:
                    raise OSError(f"{lf.path}: shorter than its announced {lf.size} bytes (changed while sending?)")
                outstanding.add(send("chunk", (data,), upload=uid, file=index, offset=offset))
                offset += len(data)
                done += len(data)
                if progress:
                    progress(done, total)
    while outstanding:
        ack = _await(recv, outstanding)
        outstanding.discard(ack.id)
    return uid


def download(
    send: SendFn,
    recv: RecvFn,
    job: str,
    manifest: dict[str, Any],
    dest: Path,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Fetch every file of a done job's ``manifest`` into ``dest``; returns the paths written.

    Each file is written to a hidden temporary name and renamed when whole, so ``dest`` never
    holds a partial frame; an existing file is never replaced.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    chunk = int(manifest.get("chunk_bytes") or 2 * 1024 * 1024)
    credit = max(1, int(manifest.get("credit") or 4))
    files = manifest["files"]
    total = sum(int(f["size"]) for f in files)
    for f in files:
        if (dest / f["name"]).exists():
            raise FileExistsError(f"{dest / f['name']}: exists; fetch never replaces a file")
    done = 0
    written: list[Path] = []
    for f in files:
        name, size = f["name"], int(f["size"])
        final = dest / name
        if Path(name).name != name or name.startswith("."):
            raise ProtocolError(BAD_REQUEST, f"engine sent an unsafe file name {name!r}", "files")
        tmp = dest / f".{name}.{uuid.uuid4().hex[:8]}.part"
        try:
            with open(tmp, "wb") as out:
                requests: dict[Any, int] = {}
                offsets: Iterator[int] = iter(range(0, size, chunk))
                exhausted = False
                while True:
                    while not exhausted and len(requests) < credit:
                        off = next(offsets, None)
                        if off is None:
                            exhausted = True
                            break
                        requests[send("fetch", (), job=job, file=name, offset=off, length=chunk)] = off
                    if not requests:
                        break
                    msg = _await(recv, set(requests))
                    off = requests.pop(msg.id)
                    data = msg.blobs[0] if msg.blobs else b""
                    expected = min(chunk, size - off)
                    if len(data) != expected:
                        raise OSError(f"{name}: chunk at {off} has {len(data)} bytes, expected {expected}")
                    out.seek(off)
                    out.write(data)
                    done += len(data)
                    if progress:
                        progress(done, total)
                out.flush()
                os.fsync(out.fileno())
            os.link(tmp, final)  # fails if the name appeared meanwhile: never replace
        finally:
            try:  # not unlink(missing_ok=True): hosts run this on Python 3.7 (Nuke 13)
                tmp.unlink()
            except FileNotFoundError:
                pass
        written.append(final)
    return written


def _await(recv: RecvFn, wanted: set[Any]):
    """The next reply whose id is in ``wanted`` (stale replies of earlier requests are skipped)."""
    while True:
        msg = recv()
        if msg.id in wanted:
            return raise_for_error(msg)
