"""Who may talk to the engine (CURVE allow-list) and which files a job may touch (path roots)."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Sequence

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from bridge.protocol import BAD_REQUEST, UNAUTHORISED, ProtocolError
from bridge.sequences import frame_path

# ---------------------------------------------------------------------------------------------
# Path roots


def check_path(raw: str, roots: Sequence[Path], field: str, *, relative_to: Path | None = None) -> Path:
    """The absolute, symlink-resolved path for ``raw`` if it lies inside one of ``roots``.

    Paths must be absolute, unless ``relative_to`` is given (by-value jobs name files of their
    upload). Refused (``unauthorised``, naming the field): any '..' component, an absolute path
    outside the roots, a path whose symlinks lead outside them, and any path at all when no roots
    are configured.
    """
    if not roots:
        raise ProtocolError(
            UNAUTHORISED,
            f"field '{field}': this engine has no path roots configured, so it accepts frames by value only",
            field,
        )
    if "\x00" in raw:
        raise ProtocolError(BAD_REQUEST, f"field '{field}' contains a NUL byte", field)
    parts = PurePath(raw).parts
    if ".." in parts:
        raise ProtocolError(UNAUTHORISED, f"field '{field}': '..' is not allowed in paths ({raw!r})", field)
    p = Path(raw)  # '~' is not expanded: the engine's home is not the client's
    if not p.is_absolute():
        if relative_to is None:
            raise ProtocolError(BAD_REQUEST, f"field '{field}': {raw!r} must be an absolute path", field)
        p = relative_to / p
    # realpath follows every symlink on the way, including ones not yet created at the leaf.
    real = Path(os.path.realpath(p))
    for root in roots:
        root_real = Path(os.path.realpath(root))
        if real == root_real or root_real in real.parents:
            return real
    raise ProtocolError(
        UNAUTHORISED,
        f"field '{field}': {raw!r} is outside the engine's path roots ({', '.join(str(r) for r in roots)})",
        field,
    )


def check_pattern(
    pattern: str, frames: Sequence[int], roots: Sequence[Path], field: str, *, relative_to: Path | None = None
) -> str:
    """Check a sequence pattern's folder and every frame file it names; return the resolved pattern.

    The folder is resolved through symlinks; each frame path is checked too, so a frame file
    that is a symlink to somewhere outside the roots is refused as well.
    """
    try:
        frame_path(pattern, 0)
    except ValueError as exc:
        raise ProtocolError(BAD_REQUEST, f"field '{field}': {exc}", field) from None
    folder = check_path(str(PurePath(pattern).parent), roots, field, relative_to=relative_to)
    name = PurePath(pattern).name
    if not name or name in (".", ".."):
        raise ProtocolError(BAD_REQUEST, f"field '{field}': {pattern!r} does not name files", field)
    resolved = str(folder / name)
    for frame in frames:
        check_path(expand_frame(resolved, frame), roots, field)
    return resolved


def expand_frame(pattern: str, frame: int) -> str:
    """Frame ``frame``'s file name in ``pattern`` (####, %04d, $F4, @@@@), as the plate layer reads it."""
    try:
        return frame_path(pattern, frame)
    except ValueError as exc:
        raise ProtocolError(BAD_REQUEST, str(exc)) from None


# ---------------------------------------------------------------------------------------------
# CURVE


def is_loopback(address: str) -> bool:
    """True for tcp://127.x / [::1] / localhost, ipc:// and inproc:// addresses."""
    if address.startswith(("ipc://", "inproc://")):
        return True
    m = re.match(r"^tcp://(\[?[^\]]+\]?):(\d+|\*)$", address)
    if not m:
        return False
    host = m.group(1).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class CurveSetup:
    """A running authenticator plus the public keys that carry admin rights."""

    authenticator: ThreadAuthenticator
    admin_keys: frozenset[str]

    def stop(self) -> None:
        self.authenticator.stop()


def start_curve(
    ctx: zmq.Context,
    socket: zmq.Socket,
    secret_key_file: Path,
    clients_dir: Path | None,
    admin_key_files: Sequence[Path] = (),
) -> CurveSetup:
    """Make ``socket`` a CURVE server that admits only the public keys in ``clients_dir``.

    Keys not in the folder fail the handshake: the client never gets a message through.
    """
    check_secret_key_file(secret_key_file)
    public, secret = zmq.auth.load_certificate(str(secret_key_file))
    if secret is None:
        raise ValueError(f"{secret_key_file}: not a secret key file (make one with `void-engine keys`)")
    if clients_dir is None or not Path(clients_dir).is_dir():
        raise ValueError(
            f"CURVE needs [security] clients_dir, a folder of allowed client *.key files (got {clients_dir})"
        )
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(clients_dir))
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True
    admins = frozenset(zmq.auth.load_certificate(str(f))[0].decode() for f in admin_key_files)
    return CurveSetup(auth, admins)


def make_keypair(folder: Path, name: str) -> tuple[Path, Path]:
    """Write ``<name>.key`` (public) and ``<name>.key_secret`` into ``folder``; refuse to overwrite.

    The secret is never readable by others, not even for a moment: pyzmq writes both files with
    the process umask, so they are made inside a fresh 0700 folder, the secret is set to 0600
    there, and both are hard-linked into ``folder`` (a link never replaces an existing file).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise ValueError(f"key name {name!r} must be letters, digits, '._-'")
    targets = (folder / f"{name}.key", folder / f"{name}.key_secret")
    for target in targets:
        if target.exists():
            raise FileExistsError(f"{target} exists; not overwriting a key")
    private = Path(tempfile.mkdtemp(prefix=".void-keys-", dir=folder))  # mode 0700
    try:
        public, secret = (Path(p) for p in zmq.auth.create_certificates(str(private), name))
        os.chmod(secret, 0o600)
        linked: list[Path] = []
        try:
            for made, target in zip((public, secret), targets):
                os.link(made, target)
                linked.append(target)
        except FileExistsError:
            for target in linked:
                target.unlink()
            raise FileExistsError(f"{targets[0].parent}: a key named {name!r} appeared meanwhile; not overwriting it")
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return targets


def check_secret_key_file(path: Path) -> None:
    """Refuse a secret key file that group or others may read, saying how to fix it (as ssh does)."""
    try:
        mode = stat.S_IMODE(Path(path).stat().st_mode)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the secret key file: {exc.strerror or exc}") from None
    if mode & 0o077:
        raise ValueError(f"{path}: the secret key may be read by others (mode {mode:04o}); run: chmod 600 {path}")
