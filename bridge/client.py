"""``EngineClient``: what a host plugin (or the `void-bridge` CLI) uses to talk to an engine.

One DEALER socket, one request at a time (plus pipelined chunks for transfers). A request that
gets no reply within ``timeout`` is retried once on a fresh socket, then raises
:class:`EngineUnavailable`; ``events()`` keeps reconnecting and resumes from the last event it
saw, so a progress bar survives an engine restart. Errors from the engine arrive as
:class:`bridge.protocol.ProtocolError` with their stable code.

Use one client per thread (ZeroMQ sockets are not thread-safe). Imports no torch/numpy.
"""

from __future__ import annotations

import itertools
import os
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import transfer
from .protocol import UNAUTHORISED, Event, JobSpec, JobStatus, Message, ProtocolError, decode, encode, raise_for_error

DEFAULT_ADDRESS = "tcp://127.0.0.1:5555"
_AUTH_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


class EngineUnavailable(ConnectionError):
    """No reply from the engine in time (not running, unreachable, or overloaded)."""


@dataclass(frozen=True)
class FetchResult:
    """A done job's output: its sequence pattern/frames and, when fetched by value, the local files."""

    job: str
    pattern: str
    frames: tuple[int, ...]
    files: tuple[Path, ...] = ()

    @property
    def local_pattern(self) -> str | None:
        """The pattern of the fetched copy (same file names, in the fetch folder)."""
        if not self.files:
            return None
        return str(self.files[0].parent / Path(self.pattern).name)


def default_token() -> str:
    """This user's client token (made once, kept in ``$VOID_BRIDGE_HOME`` or ``~/.void-bridge``).

    Without CURVE, jobs belong to the token that submitted them; sharing it between the CLI and
    the host plugins lets the artist follow and fetch their jobs from either.
    """
    env = os.environ.get("VOID_BRIDGE_TOKEN")
    if env:
        return env
    home = Path(os.environ.get("VOID_BRIDGE_HOME") or Path.home() / ".void-bridge")
    path = home / "client_token"
    token = _read_token(path)
    if token is not None:
        return token
    # Written whole under a temporary name, then linked into place: a host and the CLI starting
    # at once agree on one token, and a crash never leaves an empty token file behind.
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / f".client_token.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(16))
    try:
        if path.exists():
            os.replace(str(tmp), str(path))  # an unusable token file (empty, cut short): replaced
        else:
            try:
                os.link(str(tmp), str(path))  # fails if another process made one meanwhile
            except FileExistsError:
                pass
            except OSError:  # a file system without hard links
                os.replace(str(tmp), str(path))
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
    token = _read_token(path)
    if token is None:
        raise OSError(f"{path}: could not make a client token")
    return token


def _read_token(path: Path) -> str | None:
    """The token stored in ``path``; None when missing or too short to be one (8+ characters)."""
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        # Whoever can read the token owns this user's jobs (without CURVE): keep it private.
        try:
            os.chmod(str(path), 0o600)
        except PermissionError:  # not ours to change; the engine still works with it
            pass
    return token if len(token) >= 8 else None


class EngineClient:
    """A connection to one engine. Context manager; call :meth:`close` when done."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        timeout: float = 10.0,
        token: str | None = None,
        admin_token: str | None = None,
        server_public_key: bytes | None = None,
        client_public_key: bytes | None = None,
        client_secret_key: bytes | None = None,
        heartbeat_s: float = 2.0,
        context: zmq.Context | None = None,
    ):
        self.address = address
        self.timeout = timeout
        self.token = token if token is not None else secrets.token_hex(16)
        self.admin_token = admin_token
        self.server_public_key = server_public_key
        self.client_keys = (client_public_key, client_secret_key)
        if server_public_key is not None and (client_public_key is None or client_secret_key is None):
            raise ValueError("CURVE needs the client's public and secret key as well as the server's public key")
        self.heartbeat_s = heartbeat_s
        self._own_ctx = context is None
        self.ctx = context or zmq.Context()
        self._ids = itertools.count(1)
        self._sock: zmq.Socket | None = None
        self._monitor: zmq.Socket | None = None

    # -- connection --------------------------------------------------------------------------

    @classmethod
    def from_key_files(cls, address: str, server_key: Path, client_secret: Path, **kw: Any) -> "EngineClient":
        """A CURVE client from ``void-engine keys`` files: the engine's ``.key`` and our ``.key_secret``."""
        import zmq.auth

        server_public, _ = zmq.auth.load_certificate(str(server_key))
        public, secret = zmq.auth.load_certificate(str(client_secret))
        if secret is None:
            raise ValueError(f"{client_secret}: not a secret key file")
        return cls(address, server_public_key=server_public, client_public_key=public, client_secret_key=secret, **kw)

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            s = self.ctx.socket(zmq.DEALER)
            s.linger = 0
            hb = max(100, int(self.heartbeat_s * 1000))
            s.setsockopt(zmq.HEARTBEAT_IVL, hb)
            s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * hb)
            s.setsockopt(zmq.RECONNECT_IVL, 100)
            s.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
            if self.server_public_key is not None:
                s.curve_serverkey = self.server_public_key
                s.curve_publickey, s.curve_secretkey = self.client_keys
                self._monitor = s.get_monitor_socket(_AUTH_FAILED)
            s.connect(self.address)
            self._sock = s
        return self._sock

    def reconnect(self) -> None:
        """Drop the socket (and any replies in flight); the next request opens a fresh one."""
        if self._monitor is not None and self._sock is not None:
            try:
                self._sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self._monitor.close(0)
            self._monitor = None
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def close(self) -> None:
        self.reconnect()
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self) -> "EngineClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- raw requests -------------------------------------------------------------------------

    def _send(self, rtype: str, blobs: tuple[bytes, ...] = (), **fields: Any) -> int:
        rid = next(self._ids)
        header = {"type": rtype, "id": rid, "token": self.token, **fields}
        if self.admin_token:
            header["admin_token"] = self.admin_token
        self._socket().send_multipart(encode(header, blobs))
        return rid

    def _recv(self, timeout: float | None = None) -> Message:
        """The next reply, error replies included; EngineUnavailable on timeout."""
        sock = self._socket()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        if self._monitor is not None:
            poller.register(self._monitor, zmq.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise EngineUnavailable(
                    f"no reply from the engine at {self.address} within "
                    f"{self.timeout if timeout is None else timeout:.1f} s"
                )
            ready = dict(poller.poll(int(left * 1000) + 1))
            if self._monitor is not None and self._monitor in ready:
                event = recv_monitor_message(self._monitor)
                if event["event"] & _AUTH_FAILED:
                    raise ProtocolError(UNAUTHORISED, f"the engine at {self.address} refused this client's CURVE key")
            if sock in ready:
                frames = sock.recv_multipart()
                try:
                    return decode(frames)
                except ProtocolError:
                    continue  # not something we can read; keep waiting for our reply

    def request(
        self,
        rtype: str,
        blobs: tuple[bytes, ...] = (),
        *,
        timeout: float | None = None,
        retries: int = 1,
        **fields: Any,
    ) -> Message:
        """Send one request and return its reply (error replies raise ProtocolError).

        On no reply it reconnects and resends (``retries`` times): only use it for requests
        that are safe to repeat (all of ours are; submit carries a job_key).
        """
        for attempt in range(retries + 1):
            rid = self._send(rtype, blobs, **fields)
            try:
                while True:
                    msg = self._recv(timeout)
                    if msg.id == rid:  # replies to earlier, abandoned requests are skipped
                        return raise_for_error(msg)
            except EngineUnavailable:
                if attempt == retries:
                    raise
                self.reconnect()
        raise AssertionError("unreachable")

    # -- the API a plugin uses ---------------------------------------------------------------

    def ping(self) -> float:
        """Round-trip time in seconds."""
        t0 = time.perf_counter()
        self.request("ping")
        return time.perf_counter() - t0

    def hello(self) -> dict[str, Any]:
        """The engine's capabilities: protocol/engine versions, backends, limits, presets..."""
        return dict(self.request("hello", client="bridge").header)

    def submit(
        self, spec: JobSpec, *, by_value: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> str:
        """Queue a job and return its id. Paths in ``spec`` are local when ``by_value``.

        By value, every plate/mask frame is uploaded first (credit-based), then the job names the
        upload. A ``job_key`` is added when missing so that a retried submit cannot queue twice.
        """
        if spec.job_key is None:
            spec = replace(spec, job_key=uuid.uuid4().hex)
        if by_value:
            spec = self._upload_inputs(spec, progress)
        reply = self.request("submit", job=spec.to_wire())
        return str(reply.header["job"])

    def _upload_inputs(self, spec: JobSpec, progress: Callable[[int, int], None] | None) -> JobSpec:
        files: list[transfer.LocalFile] = []
        patterns: dict[str, str] = {}
        for role in ("plate", "quadmask", "remove", "affected"):
            pattern = getattr(spec, role)
            if pattern is None:
                continue
            wire_pattern, role_files = transfer.sequence_files(role, pattern, spec.frames)
            patterns[role] = wire_pattern
            files.extend(role_files)
        masks = spec.masks
        if masks is not None:
            # The mask's own sequences travel too (a roto only on its key frames), under wire
            # names of their own so they cannot collide with the plate's.
            mask_patterns: dict[str, str] = {}
            for role, (pattern, frames) in masks.sequences(spec.frames).items():
                wire_pattern, role_files = transfer.sequence_files(f"mask_{role}", pattern, frames)
                mask_patterns[role] = wire_pattern
                files.extend(role_files)
            masks = replace(masks, **mask_patterns)  # type: ignore[arg-type]
        uid = transfer.upload(self._send, self._recv, files, progress)
        # Results keep the local plate's name, not the wire name ("plate.####.exr").
        name = spec.name or transfer.default_output_name(spec.plate)
        return replace(spec, upload=uid, out=None, name=name, masks=masks, **patterns)  # type: ignore[arg-type]

    def status(self, job: str) -> JobStatus:
        return JobStatus.from_wire(self.request("status", job=job).header["status"])

    def list(self, everyone: bool = False, limit: int = 100) -> list[JobStatus]:
        """This client's jobs, newest first (every client's for an admin with ``everyone``)."""
        return [JobStatus.from_wire(j) for j in self.request("list", all=everyone, limit=limit).header["jobs"]]

    def cancel(self, job: str) -> str:
        """Ask the engine to cancel; returns the job's state right after (cancelled or running)."""
        return str(self.request("cancel", job=job).header["state"])

    def events(
        self,
        job: str,
        after: int = 0,
        *,
        wait: float = 5.0,
        give_up_after: float | None = 120.0,
        on_poll: Callable[[], None] | None = None,
    ) -> Iterator[Event]:
        """Every event of ``job`` after ``after``, live, until it reaches a final state.

        When the engine stops answering, the iterator reconnects and resumes from the last event
        it yielded; it gives up (EngineUnavailable) after ``give_up_after`` seconds of silence.
        ``on_poll`` runs before every request (at least every ``wait`` seconds, events or not):
        a host's loop checks its cancel button there without a second connection.
        """
        last = after
        silent_since: float | None = None
        while True:
            if on_poll is not None:
                on_poll()
            try:
                msg = self.request("events", job=job, after=last, wait=wait, timeout=wait + self.timeout, retries=0)
            except EngineUnavailable:
                now = time.monotonic()
                silent_since = silent_since or now
                if give_up_after is not None and now - silent_since > give_up_after:
                    raise
                self.reconnect()
                time.sleep(0.2)
                continue
            silent_since = None
            for raw in msg.header.get("events", []):
                ev = Event.from_wire(raw)
                if ev.seq <= last:
                    continue
                last = ev.seq
                yield ev
                if ev.terminal:
                    return

    def wait(self, job: str, on_event: Callable[[Event], None] | None = None, **kw: Any) -> JobStatus:
        """Follow ``job`` to its final state, calling ``on_event`` for each event; returns its status."""
        for ev in self.events(job, **kw):
            if on_event:
                on_event(ev)
        return self.status(job)

    def fetch(
        self, job: str, dest: Path | None = None, progress: Callable[[int, int], None] | None = None
    ) -> FetchResult:
        """A done job's result. With ``dest``, the frames are copied here by value (chunked)."""
        manifest = dict(self.request("fetch", job=job).header)
        files: list[Path] = []
        if dest is not None:
            files = transfer.download(self._send, self._recv, job, manifest, Path(dest), progress)
        return FetchResult(job, manifest["pattern"], tuple(manifest["frames"]), tuple(files))

    def shutdown(self) -> None:
        """Stop the engine (admins only)."""
        self.request("shutdown", retries=0)
