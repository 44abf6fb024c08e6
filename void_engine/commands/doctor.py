"""`void-engine doctor`: is this machine ready to serve? GPU, VRAM, weights, OCIO config, ports (and SAM3,
when the engine is set up for text masks).

Prints one line per check (ok / warn / FAIL) and exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="engine settings (TOML)")
    parser.add_argument("--model", type=Path, help="model folder to check")
    parser.add_argument("--bind", help="address the engine would listen on")


def _line(status: str, what: str, detail: str) -> None:
    print(f"{status:<4}  {what:<8} {detail}", flush=True)


def check_gpu() -> tuple[str, str]:
    from void_engine.weights import gpu_report

    return gpu_report().doctor_line()


def check_weights(model: Path | None) -> tuple[str, str, list[str]]:
    """(status, summary, one line per file) for the model directory (headers only, no weights loaded)."""
    if model is None:
        return "warn", "no model folder set (--model or [worker] model); only the preview backend can run", []
    if not model.is_dir():
        return "FAIL", f"{model}: not a folder (get the weights with `void-engine download --dir {model}`)", []
    from void_engine.weights import doctor_weights

    return doctor_weights(model)


def check_ocio() -> tuple[str, str]:
    env = os.environ.get("OCIO")
    try:
        import PyOpenColorIO as ocio
    except Exception as exc:
        return "FAIL", f"OpenColorIO not importable: {exc}"
    if env:
        try:
            ocio.Config.CreateFromFile(env)
        except Exception as exc:
            return "FAIL", f"$OCIO={env}: {exc}"
        return "ok", f"$OCIO={env}"
    try:
        from void_engine.plates.colour import resolve_config_name

        return "ok", f"built-in config {resolve_config_name(None)} ($OCIO not set)"
    except Exception as exc:
        return "warn", f"$OCIO not set and the built-in config could not be resolved: {exc}"


def check_port(bind: str) -> tuple[str, str]:
    import zmq

    s: zmq.Socket = zmq.Context.instance().socket(zmq.ROUTER)
    s.linger = 0
    try:
        s.bind(bind)
    except zmq.ZMQError as exc:
        return "warn", f"{bind}: cannot bind ({exc}); is an engine already running there?"
    finally:
        s.close(0)
    return "ok", f"{bind} is free"


def sam3_configured(cfg: Any) -> bool:
    """Whether this engine is set up for text masks (a SAM3 checkpoint named, or one downloaded
    into the model folder): only then does doctor report SAM3."""
    if cfg.sam3_checkpoint or cfg.sam3_random_weights or os.environ.get("VOID_SAM3_CHECKPOINT"):
        return True
    return cfg.model is not None and (Path(cfg.model) / "sam3" / "sam3.pt").exists()


def check_sam3(cfg: Any) -> tuple[str, str]:
    """Whether text masks can run: sam3 and its run-time needs importable, checkpoint, SAM2 to track."""
    from void_engine.service.mask_stage import MaskStage

    settings = cfg.mask_settings()
    if settings.sam3_checkpoint is None and cfg.model is not None:
        downloaded = Path(cfg.model) / "sam3" / "sam3.pt"
        if downloaded.exists() and not os.environ.get("VOID_SAM3_CHECKPOINT"):
            return "warn", f"{downloaded} is downloaded but not used: set [masks] sam3_checkpoint to it"
    problem = MaskStage(settings).sam3_problem()
    if problem is not None:
        return "warn", f"text masks (--remove-text) cannot run: {problem}"
    checkpoint = settings.sam3_checkpoint or os.environ.get("VOID_SAM3_CHECKPOINT") or "random weights (tests)"
    return "ok", f"text masks available: SAM3 {checkpoint}"


def run(args: argparse.Namespace) -> int:
    from void_engine.config import ConfigError, load_config

    try:
        cfg = load_config(args.config, model=args.model, bind=args.bind)
    except ConfigError as exc:
        print(f"void-engine doctor: {exc}", file=sys.stderr)
        return 2
    failed = False
    for what, check in (
        ("gpu", check_gpu),
        ("weights", lambda: check_weights(cfg.model)),
        ("ocio", check_ocio),
        ("port", lambda: check_port(cfg.bind)),
    ) + ((("sam3", lambda: check_sam3(cfg)),) if sam3_configured(cfg) else ()):
        try:
            status, detail, *more = check()
        except Exception as exc:
            status, detail, more = "FAIL", f"{type(exc).__name__}: {exc}", []
        failed |= status == "FAIL"
        _line(status, what, detail)
        for line in more[0] if more else ():
            print(f"{'':14}{line}", flush=True)
    return 1 if failed else 0
