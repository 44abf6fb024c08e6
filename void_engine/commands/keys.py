"""`void-engine keys`: make a CURVE key pair (``NAME.key`` public, ``NAME.key_secret`` secret),
or with ``--admin-token FILE`` an admin token file (32 random bytes, mode 0600 from its first byte).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("keys"), help="folder to write the key files into (default ./keys)"
    )
    parser.add_argument("--name", default="engine", help="base name of the key files (default engine)")
    parser.add_argument(
        "--admin-token",
        type=Path,
        metavar="FILE",
        help="write a new admin token into FILE instead of a key pair (for [security] admin_token_file)",
    )


def write_admin_token(path: Path) -> str:
    """Write a new token (32 random bytes, URL-safe base64) into ``path``, mode 0600; never overwrite."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: an existing file (or a planted symlink) is refused; 0o600 applies from creation on.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def run(args: argparse.Namespace) -> int:
    if args.admin_token is not None:
        try:
            write_admin_token(args.admin_token)
        except FileExistsError:
            print(f"void-engine keys: {args.admin_token} exists; not overwriting a token", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"void-engine keys: {args.admin_token}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"admin token: {args.admin_token}  (mode 0600)")
        print(f'engine: [security] admin_token_file = "{args.admin_token}"')
        print('clients: void-bridge --admin-token "$(cat FILE)" ...  (or EngineClient(admin_token=...))')
        return 0

    from void_engine.service.security import make_keypair

    try:
        public, secret = make_keypair(args.out, args.name)
    except (FileExistsError, ValueError) as exc:
        print(f"void-engine keys: {exc}", file=sys.stderr)
        return 2
    print(f"public key: {public}  (give to the other side; engine: clients' keys go in [security] clients_dir)")
    print(f"secret key: {secret}  (keep private; mode 0600)")
    return 0
