"""`void-engine keys`: make a CURVE key pair (``NAME.key`` public, ``NAME.key_secret`` secret)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("keys"), help="folder to write the key files into (default ./keys)"
    )
    parser.add_argument("--name", default="engine", help="base name of the key files (default engine)")


def run(args: argparse.Namespace) -> int:
    from void_engine.service.security import make_keypair

    try:
        public, secret = make_keypair(args.out, args.name)
    except (FileExistsError, ValueError) as exc:
        print(f"void-engine keys: {exc}", file=sys.stderr)
        return 2
    print(f"public key: {public}  (give to the other side; engine: clients' keys go in [security] clients_dir)")
    print(f"secret key: {secret}  (keep private; mode 0600)")
    return 0
