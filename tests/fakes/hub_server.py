"""A local fake of the Hugging Face hub, on 127.0.0.1, speaking the HTTP API huggingface_hub really uses.

Point ``HF_ENDPOINT`` (or ``endpoint=``) at ``fake.url``. What it answers (read from huggingface_hub 2.4's
hf_api.py / file_download.py / utils/_http.py):

- ``GET /api/models/{repo}[/revision/{rev}]`` (``HfApi.model_info``; ``?blobs=true`` adds sizes, blob ids
  and LFS sha256) -> ``{"id", "sha", "siblings": [...]}``
- ``POST /api/models/{repo}/paths-info/{rev}`` (``HfApi.get_paths_info``; form ``paths``, ``expand``)
- ``HEAD|GET /{repo}/resolve/{rev}/{path}``: a regular file answers 200 with ``ETag`` (git blob sha1),
  ``X-Repo-Commit`` and the body; an LFS file answers 302 with ``X-Repo-Commit``, ``X-Linked-Etag``
  (sha256), ``X-Linked-Size`` and a ``Location`` on a *second* origin, like the real CDN -- so the client's
  "do not send the token off the hub" rule is exercised.
- ``GET {cdn}/blobs/{sha256}`` with ``Range: bytes=N-`` or ``bytes=N-M`` (206 + ``Content-Range``, only the
  bytes asked for, the end clipped to the file as real servers do) -- a header peek reads ``bytes=0-100000``.
- Errors as the hub sends them: ``X-Error-Code: RepoNotFound`` (401), ``RevisionNotFound`` (404),
  ``EntryNotFound`` (404).

Faults for tests: ``drop_after(path, n)`` closes the connection after n body bytes of the next download
GET of that file; ``corrupt_once(path)`` flips a byte in the next download GET of it; ``fail_once(path,
status)`` makes the next CDN download GET of it answer `status`. A download GET is one for the whole file
or its rest (no Range, or ``bytes=N-``); a bounded peek (``bytes=N-M``, e.g. a safetensors header read)
neither triggers nor consumes a fault. Every request is recorded; ``gets_of`` lists the download GETs of a
file, ``peeks_of`` its bounded reads.

    hub = FakeHub(); hub.add_repo("netflix/void-model", {"void_pass1.safetensors": data})
    with hub: ...  # HF_ENDPOINT=hub.url
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".pt", ".bin", ".model")


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's object id


@dataclass
class RecordedRequest:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeRepo:
    """A model repo: commits (sha -> {path: bytes}) and refs (branch/tag -> sha)."""

    repo_id: str
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    def commit(self, files: dict[str, bytes], ref: str = "main") -> str:
        """Add a commit holding `files`, move `ref` to it, return its 40-hex id."""
        h = hashlib.sha1(self.repo_id.encode())  # a fake commit id
        for name in sorted(files):
            h.update(name.encode() + hashlib.sha256(files[name]).digest())
        h.update(str(len(self.commits)).encode())
        sha = h.hexdigest()
        self.commits[sha] = dict(files)
        self.refs[ref] = sha
        return sha

    def resolve(self, rev: str) -> str | None:
        if rev in self.refs:
            return self.refs[rev]
        if re.fullmatch(r"[0-9a-f]{40}", rev) and rev in self.commits:
            return rev
        return None


def is_peek(range_header: str | None) -> bool:
    """A bounded ``Range: bytes=N-M`` read, not a download of the file or its rest."""
    m = _RANGE.match((range_header or "").strip())
    return bool(m and m.group(2))


def is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


def sibling(path: str, data: bytes) -> dict:
    """One ``siblings`` entry as model_info(files_metadata=True) returns it."""
    entry: dict = {"rfilename": path, "size": len(data), "blobId": git_sha1(data)}
    if is_lfs(path):
        entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
    return entry


class FakeHub:
    """Two HTTP servers on 127.0.0.1: the hub API (``url``) and a CDN for LFS blobs (``cdn_url``)."""

    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[RecordedRequest] = []
        self._drop: dict[str, int] = {}
        self._corrupt: set[str] = set()
        self._fail: dict[str, int] = {}
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self.url = self.cdn_url = ""

    # -- content -------------------------------------------------------------------------------
    def add_repo(self, repo_id: str, files: dict[str, bytes]) -> FakeRepo:
        repo = self.repos.setdefault(repo_id, FakeRepo(repo_id))
        repo.commit(files)
        for path, data in files.items():
            if is_lfs(path):
                self._blobs[hashlib.sha256(data).hexdigest()] = data
        return repo

    def add_folder(
        self, repo_id: str, folder: Path, prefix: str = "", extra: dict[str, bytes] | None = None
    ) -> FakeRepo:
        """A repo whose files are everything under `folder` (placed under `prefix/` in the repo)."""
        files = {}
        for p in sorted(Path(folder).rglob("*")):
            if p.is_file():
                rel = p.relative_to(folder).as_posix()
                files[f"{prefix}/{rel}" if prefix else rel] = p.read_bytes()
        files.update(extra or {})
        return self.add_repo(repo_id, files)

    # -- faults ---------------------------------------------------------------------------------
    def drop_after(self, path: str, n_bytes: int) -> None:
        """The next GET of `path` (repo path) sends n_bytes of the body, then the connection dies."""
        self._drop[path] = n_bytes

    def corrupt_once(self, path: str) -> None:
        """The next GET of `path` sends the right length but one wrong byte."""
        self._corrupt.add(path)

    def fail_once(self, path: str, status: int) -> None:
        """The next CDN GET of `path` answers `status` (403: an expired signed URL)."""
        self._fail[path] = status

    def _served(self, path: str) -> list[RecordedRequest]:
        out = []
        for r in self.requests:
            if r.method != "GET":
                continue
            if r.server == "hub" and r.path.split("?")[0].endswith("/" + path) and "/resolve/" in r.path:
                out.append(r)
            elif r.server == "cdn" and r.headers.get("x-fake-path") == path:
                out.append(r)
        return out

    def gets_of(self, path: str) -> list[RecordedRequest]:
        """Download requests (GET of the whole file or its rest) that served `path`, from the hub or the CDN.

        An LFS file's GET on the hub is only the redirect; its bytes come from the CDN."""
        return [r for r in self._served(path) if not is_peek(r.headers.get("range"))]

    def peeks_of(self, path: str) -> list[RecordedRequest]:
        """Bounded range reads (``bytes=N-M``) of `path`: header peeks."""
        return [r for r in self._served(path) if is_peek(r.headers.get("range"))]

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeHub:
        hub_srv = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, "hub"))
        cdn_srv = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, "cdn"))
        self._servers = [hub_srv, cdn_srv]
        self.url = f"http://127.0.0.1:{hub_srv.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{cdn_srv.server_address[1]}"
        for srv in self._servers:
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self._servers = []

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- used by the handler --------------------------------------------------------------------
    def _record(self, server: str, method: str, path: str, headers, served: str | None = None) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        if served:
            h["x-fake-path"] = served
        with self._lock:
            self.requests.append(RecordedRequest(server, method, path, h))

    def _take_faults(self, path: str) -> tuple[int | None, bool]:
        with self._lock:
            drop = self._drop.pop(path, None)
            corrupt = path in self._corrupt
            self._corrupt.discard(path)
        return drop, corrupt


_MODEL_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?/?$")
_PATHS_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/paths-info/(?P<rev>[^/]+)$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_BLOB = re.compile(r"^/blobs/(?P<sha>[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _make_handler(hub: FakeHub, server: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            pass

        # -- helpers ----------------------------------------------------------------------
        def _send(
            self,
            status: int,
            body: bytes = b"",
            headers: dict[str, str] | None = None,
            content_type: str = "application/json",
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str, message: str, extra: dict[str, str] | None = None) -> None:
            body = json.dumps({"error": message}).encode()
            self._send(status, body, {"X-Error-Code": code, "X-Error-Message": message, **(extra or {})})

        def _repo_rev(self, repo_id: str, rev: str | None) -> tuple[FakeRepo, str] | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(401, "RepoNotFound", "Repository not found")
                return None
            commit = repo.resolve(unquote(rev or "main"))
            if commit is None:
                self._error(404, "RevisionNotFound", f"Invalid rev id: {unquote(rev or '')}")
                return None
            return repo, commit

        def _body(self, data: bytes, path: str, extra: dict[str, str]) -> None:
            """Serve `data` honouring Range and the injected faults."""
            start, end = 0, len(data)  # end exclusive
            rng = self.headers.get("Range")
            if rng:
                m = _RANGE.match(rng.strip())
                if not m or int(m.group(1)) >= len(data) or (m.group(2) and int(m.group(2)) < int(m.group(1))):
                    self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                    return
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)) + 1, len(data))
            payload = data[start:end]
            download = self.command == "GET" and not is_peek(rng)
            drop, corrupt = hub._take_faults(path) if download else (None, False)
            if corrupt and payload:
                payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
            self.send_response(206 if rng else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            if rng:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if drop is not None:
                self.wfile.write(payload[:drop])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the peer sees a body shorter than Content-Length
                return
            self.wfile.write(payload)

        # -- verbs ------------------------------------------------------------------------
        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            url = urlparse(self.path)
            if server == "cdn":
                m = _BLOB.match(url.path)
                served = parse_qs(url.query).get("path", [None])[0]
                hub._record(server, self.command, self.path, self.headers, served)
                with hub._lock:
                    download = not is_peek(self.headers.get("Range"))
                    failure = hub._fail.pop(served, None) if served and download else None
                if failure:
                    self._send(failure, b"<Error><Code>AccessDenied</Code></Error>", content_type="application/xml")
                    return
                if not m or m.group("sha") not in hub._blobs:
                    self._send(404, b"NoSuchKey", content_type="text/plain")
                    return
                self._body(hub._blobs[m.group("sha")], served or m.group("sha"), {})
                return
            hub._record(server, self.command, self.path, self.headers)
            m = _MODEL_API.match(url.path)
            if m and self.command == "GET":
                found = self._repo_rev(m.group("repo"), m.group("rev"))
                if found is None:
                    return
                repo, commit = found
                blobs = parse_qs(url.query).get("blobs", ["false"])[0] == "true"
                files = repo.commits[commit]
                siblings = [sibling(p, d) if blobs else {"rfilename": p} for p, d in sorted(files.items())]
                doc = {
                    "_id": repo.repo_id,
                    "id": repo.repo_id,
                    "modelId": repo.repo_id,
                    "sha": commit,
                    "private": False,
                    "disabled": False,
                    "gated": False,
                    "tags": [],
                    "siblings": siblings,
                    "lastModified": "2026-01-01T00:00:00.000Z",
                    "createdAt": "2026-01-01T00:00:00.000Z",
                }
                self._send(200, json.dumps(doc).encode())
                return
            m = _RESOLVE.match(url.path)
            if m:
                found = self._repo_rev(m.group("repo"), m.group("rev"))
                if found is None:
                    return
                repo, commit = found
                path = unquote(m.group("path"))
                data = repo.commits[commit].get(path)
                if data is None:
                    self._error(
                        404, "EntryNotFound", f"{path} does not exist on {m.group('rev')}", {"X-Repo-Commit": commit}
                    )
                    return
                if is_lfs(path):
                    sha = hashlib.sha256(data).hexdigest()
                    location = f"{hub.cdn_url}/blobs/{sha}?path={path}&sig=fake"
                    self._send(
                        302,
                        b"",
                        {
                            "Location": location,
                            "X-Repo-Commit": commit,
                            "X-Linked-Etag": f'"{sha}"',
                            "X-Linked-Size": str(len(data)),
                            "ETag": f'"{git_sha1(data)}"',
                        },
                        content_type="text/plain",
                    )
                    return
                self._body(data, path, {"ETag": f'"{git_sha1(data)}"', "X-Repo-Commit": commit})
                return
            self._send(404, b"{}")

        def do_POST(self):
            url = urlparse(self.path)
            hub._record(server, "POST", self.path, self.headers)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            m = _PATHS_INFO.match(url.path) if server == "hub" else None
            if not m:
                self._send(404, b"{}")
                return
            found = self._repo_rev(m.group("repo"), m.group("rev"))
            if found is None:
                return
            repo, commit = found
            files = repo.commits[commit]
            out = []
            for p in form.get("paths", []):
                if p in files:
                    entry = {"type": "file", "path": p, "size": len(files[p]), "oid": git_sha1(files[p])}
                    if is_lfs(p):
                        entry["lfs"] = {
                            "oid": hashlib.sha256(files[p]).hexdigest(),
                            "size": len(files[p]),
                            "pointerSize": 134,
                        }
                    out.append(entry)
                elif any(f.startswith(p.rstrip("/") + "/") for f in files):
                    out.append({"type": "directory", "path": p, "oid": "0" * 40, "size": 0})
            self._send(200, json.dumps(out).encode())

    return Handler
