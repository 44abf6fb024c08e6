"""`void-engine run`: one job, in this process, no server; a progress bar, then the output pattern.

The same code path as a served job (path resolution, plate round-trip, backend, staged and
versioned output), so a farm task and an artist's submit give the same frames. Ctrl-C cancels
within one step and leaves no partial output.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import uuid
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bridge.cli import add_job_arguments

    add_job_arguments(parser)
    parser.add_argument(
        "--device",
        default="auto",
        help="torch device for the 'void' backend: auto (the GPU when there is one), cpu, cuda, cuda:1",
    )
    parser.add_argument("--config", type=Path, help="engine settings (TOML): backend, model, steps, plugins")


def run(args: argparse.Namespace) -> int:
    import importlib

    from bridge.cli import ProgressBar, spec_from_args
    from bridge.protocol import ProtocolError
    from void_engine.backends import BackendError, BackendSettings, make_backend
    from void_engine.config import ConfigError, load_config
    from void_engine.progress import Cancelled
    from void_engine.service.admission import check_capabilities, resolve_job
    from void_engine.service.mask_stage import MaskStage
    from void_engine.service.runner import run_job

    try:
        spec = spec_from_args(args)
        cfg = load_config(args.config, model=args.model, backend=args.backend, device=args.device)
        for mod in cfg.plugins:
            importlib.import_module(mod)
        backend_name = args.backend or cfg.backend
        settings = BackendSettings.from_config(cfg)
        mask_stage = MaskStage(cfg.mask_settings())
        # Before the model loads: pass 2 without its checkpoint, or a roto without SAM2, fails now.
        check_capabilities(spec, backend=backend_name, backend_settings=settings, mask_stage=mask_stage)
        # Outside the engine there are no roots to police: the user's own files, their own rights.
        job = resolve_job(spec, [Path("/")])
    except (ValueError, ConfigError) as exc:
        print(f"void-engine run: {exc}", file=sys.stderr)
        return 2
    except ProtocolError as err:
        print(f"void-engine run: {err.message}", file=sys.stderr)
        return 2

    bar = ProgressBar(sys.stderr)
    bar.update("load", 0, 1, backend_name)
    try:
        backend = make_backend(backend_name, settings)
    except BackendError as exc:
        bar.finish()
        print(f"void-engine run: {exc}", file=sys.stderr)
        return 2

    interrupted = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())

    def report(kind: str, **f) -> None:
        if kind == "step":
            bar.update("model", f["step"], f["total"], f"(window {f['window']})")
        elif kind == "log":
            bar.finish()
            print(f"void-engine run: {f.get('message', '')}", file=sys.stderr)
        else:
            bar.update(f["stage"], f.get("step", 0), f.get("total", 0))

    job_id = uuid.uuid4().hex[:16]
    try:
        output = run_job(
            job_id,
            job,
            backend,
            prompt=spec.prompt,
            seed=spec.seed,
            steps=spec.steps or cfg.steps,
            report=report,
            cancel=interrupted.is_set,
            backend_name=backend_name,
            settings=cfg.shot_settings(),
            mask_stage=mask_stage,
        )
    except Exception as exc:
        bar.finish()
        if isinstance(exc, Cancelled):
            print("void-engine run: cancelled; no output written", file=sys.stderr)
            return 130
        print(f"void-engine run: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.finish()
    sys.stderr.flush()
    print(f"void-engine run: {len(output.frames)} frames written to {output.pattern}", flush=True)
    return 0
