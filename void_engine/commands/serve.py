"""`void-engine serve`: run the persistent engine until an admin sends `shutdown` (or SIGTERM/SIGINT)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="engine settings (TOML; see config/engine.toml)")
    parser.add_argument("--bind", help="ZeroMQ address to listen on, e.g. tcp://127.0.0.1:5555 (port * = any free)")
    parser.add_argument("--model", type=Path, help="model folder for the 'void' backend")
    parser.add_argument("--backend", help="default backend: void or preview")
    parser.add_argument(
        "--root",
        type=Path,
        action="append",
        dest="roots",
        help="folder jobs may read and write by path (repeatable; replaces the config's roots)",
    )
    parser.add_argument("--state-dir", type=Path, help="journal, uploads and by-value results (default ~/.void-engine)")
    parser.add_argument("--steps", type=int, help="denoising steps for jobs that do not say")
    parser.add_argument(
        "--device", help="torch device for the 'void' backend: auto (the GPU when there is one), cpu, cuda, cuda:1"
    )
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the engines as Ray actors behind this gateway: auto, local, ray://head:10001 "
        "or head:6379 (sets [cluster] ray_address; needs the [cluster] extra)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    import zmq

    from void_engine.config import ConfigError, load_config
    from void_engine.service.server import Engine

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        cfg = load_config(
            args.config,
            bind=args.bind,
            model=args.model,
            backend=args.backend,
            roots=[p.resolve() for p in args.roots] if args.roots else None,
            state_dir=args.state_dir.resolve() if args.state_dir else None,
            steps=args.steps,
            device=args.device,
            ray_address=args.cluster,
        )
        engine: Engine
        if cfg.ray_address:
            from void_engine.cluster.gateway import ClusterGateway

            engine = ClusterGateway(cfg)
        else:
            engine = Engine(cfg)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"void-engine serve: {exc}", file=sys.stderr)
        return 2
    except zmq.ZMQError as exc:
        print(f"void-engine serve: cannot listen on {args.bind or 'the configured address'}: {exc}", file=sys.stderr)
        return 2

    def stop(signum, frame):  # the loop polls often; it finishes the current request and exits
        engine.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def ready(endpoint: str) -> None:
        (cfg.state_dir / "endpoint").write_text(endpoint + "\n")
        print(f"void-engine listening on {endpoint}", flush=True)

    engine.serve_forever(ready=ready)
    print("void-engine stopped", flush=True)
    return 0
