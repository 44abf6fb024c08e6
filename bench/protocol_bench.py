"""Protocol benchmark: by-value round trip MB/s (plain and CURVE) and the engine's overhead per job.

    .venv/bin/python bench/protocol_bench.py                  # 85 frames, 2048x1080 half RGBA (issue 5)
    .venv/bin/python bench/protocol_bench.py --frames 9 --width 512 --height 270   # quick

For each transport (plain, CURVE) it starts a real engine process on tcp://127.0.0.1 with an
identity backend (returns the model input: no model time), then:
- upload: every plate and matte frame sent by value (chunked, credit-based) -> MB/s;
- job: submit -> done; overhead = job time minus the backend's own time (from the events:
  journal, plate read, colour/ROI, composite, EXR write, publish);
- fetch: every result frame copied back by value -> MB/s.
Round trip MB/s = (bytes up + bytes down) / (upload time + fetch time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from void_engine.config import write_config
from void_engine.service.local import LOOPBACK_ANY_PORT, LocalEngine

HERE = Path(__file__).resolve().parent


# -- the identity backend, registered when the engine imports this file as a plugin ------------


def _register() -> None:
    from void_engine.backends import register_backend

    class Identity:
        def __init__(self, settings):
            pass

        def run(self, video, quadmask, prompt, *, seed, steps, progress, cancel):
            if progress:
                progress(0, 1, 1)
            return video

    register_backend("bench-identity", Identity)


if os.environ.get("VOID_BENCH_PLUGIN") == "1":
    _register()


# -- bench ---------------------------------------------------------------------------------------


def make_shot(folder: Path, frames: int, width: int, height: int) -> tuple[str, str, list[int]]:
    """One 2K-style half RGBA plate frame and a matte, hard-linked as a sequence (same bytes per frame)."""
    import numpy as np
    import OpenImageIO as oiio

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    # Film-grain-like noise over gradients: compresses about as badly as a real plate.
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, 0.5 * np.ones_like(x), np.ones_like(x)], -1)
    pixels = (base + rng.normal(0, 0.02, base.shape)).astype(np.float32)
    pixels[..., 3] = 1.0
    spec = oiio.ImageSpec(width, height, 4, oiio.HALF)
    spec.channelnames = ("R", "G", "B", "A")
    spec.attribute("compression", "zip")
    first = folder / "plate.0001.exr"
    out = oiio.ImageOutput.create(str(first))
    out.open(str(first), spec)
    out.write_image(pixels)
    out.close()
    matte = np.zeros((height, width, 1), np.float32)
    matte[height // 3 : height // 2, width // 3 : width // 2] = 1.0
    mspec = oiio.ImageSpec(width, height, 1, oiio.HALF)
    mspec.channelnames = ("Y",)
    mspec.attribute("compression", "zip")
    mfirst = folder / "matte.0001.exr"
    out = oiio.ImageOutput.create(str(mfirst))
    out.open(str(mfirst), mspec)
    out.write_image(matte)
    out.close()
    for f in range(2, frames + 1):
        os.link(first, folder / f"plate.{f:04d}.exr")
        os.link(mfirst, folder / f"matte.{f:04d}.exr")
    return str(folder / "plate.####.exr"), str(folder / "matte.####.exr"), list(range(1, frames + 1))


def start_engine(work: Path, curve: bool) -> tuple[LocalEngine, dict]:
    """A local engine whose plugin is this file (the identity backend), plain or CURVE."""
    name = "curve" if curve else "plain"
    sections: dict[str, dict] = {
        "server": {"bind": LOOPBACK_ANY_PORT, "state_dir": str(work / f"state-{name}"), "plugins": ["protocol_bench"]},
        "worker": {"backend": "bench-identity", "steps": 1},
    }
    keys: dict = {}
    if curve:
        from void_engine.service.security import make_keypair

        kdir, allowed = work / "keys", work / "allowed"
        make_keypair(kdir, "engine")
        make_keypair(kdir, "client")
        allowed.mkdir(exist_ok=True)
        shutil.copy(kdir / "client.key", allowed / "client.key")
        sections["security"] = {
            "curve": True,
            "server_secret_key": str(kdir / "engine.key_secret"),
            "clients_dir": str(allowed),
        }
        keys = {"server_key": kdir / "engine.key", "client_secret": kdir / "client.key_secret"}
    cfg = write_config(work / f"{name}.toml", sections)
    engine = LocalEngine(cfg, env={"VOID_BENCH_PLUGIN": "1"}, pythonpath=[HERE])
    return engine.start(), keys


def bench_transport(work: Path, plate: str, matte: str, frames: list[int], curve: bool) -> dict:
    from bridge.client import EngineClient
    from bridge.protocol import JobSpec

    engine, keys = start_engine(work, curve)
    endpoint = engine.endpoint
    try:
        if curve:
            client = EngineClient.from_key_files(endpoint, keys["server_key"], keys["client_secret"], timeout=60)
        else:
            client = EngineClient(endpoint, timeout=60)
        with client:
            client.hello()
            spec = JobSpec(plate=plate, frames=tuple(frames), prompt="bench", remove=matte)
            up_bytes = sum(os.path.getsize(p) for p in work.glob("shot/*.exr"))
            t0 = time.perf_counter()
            # Upload alone (timed), then the job: submit's own upload is the same code path.
            job = client.submit(spec, by_value=True)
            t_up = time.perf_counter() - t0
            events = list(client.events(job, wait=5.0, give_up_after=3600))
            t_job = time.perf_counter() - t0 - t_up
            assert events[-1].state == "done", events[-1]
            stage_ts = {e.stage: e.ts for e in events if e.kind == "stage" and (e.step or 0) == 0}
            model_s = stage_ts.get("write", 0) - stage_ts.get("model", 0)
            dest = work / f"fetched-{'curve' if curve else 'plain'}"
            t1 = time.perf_counter()
            res = client.fetch(job, dest)
            t_fetch = time.perf_counter() - t1
            down_bytes = sum(p.stat().st_size for p in res.files)
            shutil.rmtree(dest, ignore_errors=True)
    finally:
        engine.stop(timeout=30)
    mb = 1024 * 1024
    return {
        "transport": "curve" if curve else "plain",
        "frames": len(frames),
        "upload_MB": round(up_bytes / mb, 1),
        "upload_s": round(t_up, 2),
        "upload_MBps": round(up_bytes / mb / t_up, 1),
        "fetch_MB": round(down_bytes / mb, 1),
        "fetch_s": round(t_fetch, 2),
        "fetch_MBps": round(down_bytes / mb / t_fetch, 1),
        "round_trip_MBps": round((up_bytes + down_bytes) / mb / (t_up + t_fetch), 1),
        "job_s": round(t_job, 2),
        "model_s": round(model_s, 3),
        "engine_overhead_s": round(t_job - model_s, 2),
        "engine_overhead_per_frame_ms": round(1000 * (t_job - model_s) / len(frames), 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=85)
    p.add_argument("--width", type=int, default=2048)
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--no-curve", action="store_true", help="plain transport only")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="void-protocol-bench-") as tmp:
        work = Path(tmp)
        plate, matte, frames = make_shot(work / "shot", args.frames, args.width, args.height)
        results = [bench_transport(work, plate, matte, frames, curve=False)]
        if not args.no_curve:
            results.append(bench_transport(work, plate, matte, frames, curve=True))
    print(f"by-value job: {args.frames} frames {args.width}x{args.height} half RGBA (+ matte), tcp://127.0.0.1")
    keys = list(results[0])
    for k in keys:
        print(f"  {k:<30}" + "".join(f"{str(r[k]):>14}" for r in results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
